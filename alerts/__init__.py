"""Escalation, offers, dispatch and notifiers: the care domain's outbound edge."""
