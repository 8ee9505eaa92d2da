"""SQL as trees, below the checks and the spec: pure helpers over what pglast parses (tree.py)."""
