"""The HTTP API: FastAPI app factory, dependencies, API models and routes under /api/v1."""
