"""API models, one module per resource (as routes/), and common.py for the parts they share."""
