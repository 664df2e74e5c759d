"""Transports → protocol → care domain."""
