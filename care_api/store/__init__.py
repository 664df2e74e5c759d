"""Persistence of the care domain: SQLModel tables, engine, unit of work, migrations."""
