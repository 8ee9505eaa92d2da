"""The agent: the Messages API loop, its tools, and the recording of its sessions."""
