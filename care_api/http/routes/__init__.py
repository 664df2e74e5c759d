"""Route modules, one resource each; `create_app` mounts their routers under /api/v1."""
