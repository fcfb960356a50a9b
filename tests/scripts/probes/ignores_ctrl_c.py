"""Probe: run with SIGINT ignored by the parent, a Ctrl-C sent while it sleeps changes nothing."""
import time

print("ready", flush=True)
time.sleep(1.5)
print("done", flush=True)
