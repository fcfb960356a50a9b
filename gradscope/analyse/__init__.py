"""Pure passes over a Capture (no torch): labels, findings."""
