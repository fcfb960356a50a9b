"""Prints what a script can see of how it was started (compared between python and gradscope)."""
import os
import sys

import sibling_mod

print("argv", sys.argv)
print("name", __name__)
print("file", __file__)
print("path0", sys.path[0])
print("cwd", os.getcwd())
print("package", __package__)
print("spec", None if __spec__ is None else __spec__.name)
print("sibling", sibling_mod.VALUE)
print("stdin", repr(sys.stdin.read()))
print("main_is_self", sys.modules["__main__"].__dict__ is globals())
sys.stderr.write("to stderr\n")
if __name__ == "__main__":
    print("guarded block ran")
