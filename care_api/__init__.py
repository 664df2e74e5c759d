"""The care domain, its store, and the HTTP API of the virtual nursing home."""

__version__ = "0.1.0"
