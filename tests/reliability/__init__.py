"""Reliability and security tests (issue 13): the sandbox, secrets, the named database, the user's repo."""
