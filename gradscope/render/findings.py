"""Findings rendering (placeholder until the explain issue lands)."""
def print_findings(found, console, always=False):
    pass
def print_explanation(explanation, console):
    pass
def findings_json(found):
    return {"findings": []}
