"""The fleet of terminals: device cases, commands, lifecycle, presence, broker login."""
