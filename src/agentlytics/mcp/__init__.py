"""The MCP server surface: tools over the core services, on Streamable HTTP and stdio."""
