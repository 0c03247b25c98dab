"""ASGI entry point for uvicorn workers (``fujo serve``): settings come from the environment."""

from .app import create_app

app = create_app()
