"""Simulated terminals and hubs speaking PROTOCOL.md; knows only the protocol."""
