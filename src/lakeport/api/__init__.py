"""The HTTP API: app factory, dependencies, problem+json errors, routes per resource."""
