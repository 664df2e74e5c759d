"""A self-signed certificate for 127.0.0.1, for tests that serve TLS."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Write a certificate for 127.0.0.1 and its key into `folder`; returns (cert, key)."""
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ip"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(keyfile), "-out", str(certfile)]
    subprocess.run(["openssl", *request, *names, *files], check=True, capture_output=True)
    return certfile, keyfile
