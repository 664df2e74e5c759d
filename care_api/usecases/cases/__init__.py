"""Cases: opening, moving, history, callbacks, filings and their ladders."""
