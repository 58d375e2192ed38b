"""The MCP door to loragate: tool registration and schemas only; the engine does the work."""
