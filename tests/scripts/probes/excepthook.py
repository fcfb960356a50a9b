"""Probe: the script's own sys.excepthook runs, and atexit sees sys.last_value."""
import atexit
import sys


def hook(kind, value, tb):
    print("hook saw", kind.__name__, value, tb is not None and tb.tb_frame.f_code.co_filename == __file__)


@atexit.register
def at_exit():
    print("last_value", repr(getattr(sys, "last_value", None)))


sys.excepthook = hook
raise ValueError("from the script")
