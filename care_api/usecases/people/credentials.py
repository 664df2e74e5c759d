"""Random secrets for devices and people, and the hashes we keep instead of them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh URL-safe secret (device password or bearer token)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    """SHA-256 of a secret.

    A plain fast hash is enough because every secret is 192 random bits, never a
    person-chosen password; it also keeps broker authentication cheap per connect.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Compare in constant time so response timing says nothing about the hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
