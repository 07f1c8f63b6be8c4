"""The HTTP door: a FastAPI application over the same services as the command line."""
