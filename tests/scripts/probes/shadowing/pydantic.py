OWN = 'pydantic'  # this folder's own module, which the probe must get
