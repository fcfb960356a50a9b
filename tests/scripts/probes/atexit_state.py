"""Probe: atexit handlers and non-daemon threads see argv, cwd and __main__ as the script left them."""
import atexit
import os
import sys
import threading
import time

MARK = "the script's module"


def report(who):
    main = sys.modules["__main__"]
    print(who, sys.argv[1:], os.path.basename(os.getcwd()), getattr(main, "MARK", None), flush=True)


def late():
    time.sleep(0.3)
    report("thread")


atexit.register(report, "atexit")
threading.Thread(target=late).start()
sys.argv[1:] = ["changed"]
os.chdir(os.path.dirname(os.path.abspath(__file__)))
print("main done", flush=True)
