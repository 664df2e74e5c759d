"""Notifier adapters: Twilio SMS and voice, and the local outbox used when Twilio is not set up."""
