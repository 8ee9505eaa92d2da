"""The database-architect agent: its definition, tools and loop."""
