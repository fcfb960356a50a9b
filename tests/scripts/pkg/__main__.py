import sys
print("pkg main", __name__, __package__, __spec__.name if __spec__ else None, sys.argv[1:])
