"""Helpers the tests share (the example repo, tiny live repos, rule contexts, the scripted Messages API server and
what goes with it), imported one way: `from tests.support.<module> import ...`; no test file imports another."""
