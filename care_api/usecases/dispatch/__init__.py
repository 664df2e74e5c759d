"""Dispatch: volunteer offers, merchant orders, and who answers alerts."""
