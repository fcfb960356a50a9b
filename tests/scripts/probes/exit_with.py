"""Probe: `sys.exit(N)` with N from the command line (python truncates out-of-range codes its own way)."""
import sys

sys.exit(eval(sys.argv[1]))
