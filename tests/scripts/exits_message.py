import sys
sys.exit("fatal: a message")
