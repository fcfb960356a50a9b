"""Changes the working directory to argv[1] (outputs named relative to the original one stay there)."""
import os
import sys

os.chdir(sys.argv[1])
print(os.getcwd())
