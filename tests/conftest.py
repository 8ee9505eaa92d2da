"""Shared test fixtures: the PostgreSQL ones come from the harness's own pytest plugin (one piece of code)."""

pytest_plugins = ["orchestrator.pg.pytest_plugin"]
