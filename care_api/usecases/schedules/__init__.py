"""Schedules: check-ins, quiet watches, the working-day calendar, rotas, drills."""
