"""Mosquitto 2 password-file hashes ($7$, PBKDF2-SHA512) of device and gateway secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Collection

# mosquitto_passwd's own defaults: 101 rounds, a 12-byte salt, a 64-byte SHA-512 digest. The
# secrets hashed here are 192 random bits, so more rounds would buy nothing.
PBKDF2_ROUNDS = 101
SALT_BYTES = 12
_PREFIX = "$7$"


def mosquitto_hash(secret: str, *, salt: bytes | None = None, rounds: int = PBKDF2_ROUNDS) -> str:
    """`$7$<rounds>$<salt>$<hash>`, the form Mosquitto 2.0 reads from a password_file."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, rounds)
    return f"{_PREFIX}{rounds}${_b64(salt)}${_b64(digest)}"


def mosquitto_hash_matches(secret: str, stored: str) -> bool:
    """True when `stored` is a `$7$` hash of `secret`; False for any other form."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[:2] != ["", "7"] or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(mosquitto_hash(secret, salt=salt, rounds=int(parts[2])), stored)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# Names the broker set-up keeps for its own accounts and client ids (the gateway is
# `vnh-gateway`, its share-group workers `vnh-gw-…`); `$` starts the broker's own topics.
RESERVED_PREFIXES = ("vnh-", "$")
_BROKER_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def broker_name_problem(name: str, service_accounts: Collection[str] = ()) -> str | None:
    """Why `name` may not be a terminal's broker username and client id; None when it may.

    A terminal's username is its device id; it shares Mosquitto's password file and client
    id space with the service accounts, and its ACL lines read `%u`. A clash would let the
    terminal's secret replace the gateway's login, or its client id kick the gateway off.
    """
    if _BROKER_NAME_RE.fullmatch(name) is None:
        return "a device id is 1-64 characters of A-Z a-z 0-9 _ -"
    if name.startswith("-"):  # read as an option by mosquitto_passwd and the other tools
        return "a device id may not start with '-'"
    folded = name.casefold()
    reserved = [p for p in RESERVED_PREFIXES if folded.startswith(p)]
    if reserved:
        return f"device ids starting with {reserved[0]!r} are reserved for the service's own logins"
    if folded in {account.casefold() for account in service_accounts}:
        return f"{name!r} is the broker login of a service account"
    return None
