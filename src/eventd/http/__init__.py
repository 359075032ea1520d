"""The HTTP API: routes, handlers and the error middleware."""
