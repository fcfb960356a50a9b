import os
import threading

threading.Thread(target=lambda: None).start()
print("bye", flush=True)
os._exit(4)
