"""The test suite (a package, so that `tests.support` is this checkout's, whichever way pytest is started)."""
