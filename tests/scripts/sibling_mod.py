"""A module next to the test scripts, imported by them like a user's own helper module."""
VALUE = 41 + 1
