"""The live half of `delegate check`: prove migrations, seeds, policies and tests on a real PostgreSQL."""
