"""Helpers shared by the tests: the scripted Messages API server and what goes with it."""
