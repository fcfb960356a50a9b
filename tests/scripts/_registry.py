"""Outlives a traced script (in-process tests): the script files weak references to its tensors here."""
refs = []
