"""Transports: how terminals reach the gateway (an MQTT broker; serial hubs later)."""
