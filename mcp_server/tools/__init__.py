"""One module per tool group; each exposes `register(mcp)`."""
