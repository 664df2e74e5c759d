"""Intake: what a terminal's report does, one report or a batch at a time."""
