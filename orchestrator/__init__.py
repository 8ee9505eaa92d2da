"""delegate: hand a feature's database migrations to an agent, and prove them on a real PostgreSQL."""

__version__ = "0.1.0"
