"""People and access: elders and contacts, tokens, credentials, the audit log."""
