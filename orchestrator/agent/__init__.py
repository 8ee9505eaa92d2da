"""The agent side of `delegate migrations`: its definition, tools, the loop, and the Anthropic adapter."""
