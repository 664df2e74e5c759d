"""The hotline: calls and texts to the centre's number, missed calls and their callbacks."""
