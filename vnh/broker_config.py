"""`vnh broker-config`: Mosquitto's password file and topic ACL, written from the store.

Point Mosquitto at the files (and refuse anonymous clients):

    listener 1883
    allow_anonymous false
    password_file /etc/mosquitto/vnh/passwd
    acl_file /etc/mosquitto/vnh/acl

The gateway logs in as VNH_MQTT_USERNAME with VNH_MQTT_PASSWORD; each terminal with its
device id and secret. With `--watch` the files follow the store (terminals provisioned,
rotated or retired) and `--reload-pid` sends Mosquitto a SIGHUP to re-read them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from care_api.services import build_services
from care_api.settings import Settings
from care_api.store.tables import Device
from care_api.store.uow import UowFactory
from care_api.usecases.fleet.broker_passwords import mosquitto_hash, mosquitto_hash_matches

log = logging.getLogger(__name__)

PASSWD_FILE = "passwd"  # noqa: S105 - a file name, not a password
ACL_FILE = "acl"
# Readable by a `mosquitto` group (give the directory that group, setgid); never by all.
FILE_MODE = 0o640
POLL_INTERVAL_S = 5.0
RETIRED = "retired"
# PROTOCOL.md's topic tree; care_api does not import the gateway's topics module.
TOPIC_ROOT = "vnh/v1/dev"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_HEADER = "# Written by `vnh broker-config` from the store; edits here are overwritten.\n"


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """What to write, and the terminals in service that cannot log in through Mosquitto."""

    passwd: str
    acl: str
    devices: int
    without_hash: tuple[str, ...]  # provisioned before broker hashes: rotate their secret


def acl_text(gateway_username: str) -> str:
    """The topic ACL of PROTOCOL.md in Mosquitto's acl_file syntax."""
    return (
        f"{_HEADER}"
        "# The gateway reads every terminal's up and status and writes every down.\n"
        f"user {gateway_username}\n"
        f"topic read {TOPIC_ROOT}/+/up\n"
        f"topic read {TOPIC_ROOT}/+/status\n"
        f"topic write {TOPIC_ROOT}/+/down\n"
        "\n"
        "# A terminal (username = device id) writes its own up and status, reads its own down.\n"
        f"pattern write {TOPIC_ROOT}/%u/up\n"
        f"pattern write {TOPIC_ROOT}/%u/status\n"
        f"pattern read {TOPIC_ROOT}/%u/down\n"
    )


def render(uow_factory: UowFactory, gateway_username: str, gateway_hash: str) -> BrokerFiles:
    """Both files as they should be now: the gateway, then every terminal in service."""
    with uow_factory() as uow:
        rows = uow.session.exec(
            select(Device.device_id, Device.broker_hash)
            .where(col(Device.status) != RETIRED)
            .order_by(col(Device.device_id))
        ).all()
    lines = [f"{gateway_username}:{gateway_hash}"]
    lines += [f"{device_id}:{hashed}" for device_id, hashed in rows if hashed]
    missing = tuple(device_id for device_id, hashed in rows if not hashed)
    return BrokerFiles(
        passwd="\n".join(lines) + "\n",
        acl=acl_text(gateway_username),
        devices=len(rows) - len(missing),
        without_hash=missing,
    )


def gateway_hash(out_dir: Path, username: str, password: str) -> str:
    """The gateway's `$7$` hash: the one already in the file if it still matches."""
    # Kept, so that restarting the watch does not rewrite the file and reload Mosquitto.
    path = out_dir / PASSWD_FILE
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            user, sep, hashed = line.partition(":")
            if sep and user == username and mosquitto_hash_matches(password, hashed):
                return hashed
    return mosquitto_hash(password)


def write_if_changed(out_dir: Path, files: BrokerFiles) -> bool:
    """Write the files that differ (each atomically); True when any did."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = False
    for name, text in ((PASSWD_FILE, files.passwd), (ACL_FILE, files.acl)):
        path = out_dir / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        # Mosquitto must never read half a file: write beside it, then rename over it.
        tmp = path.with_name(f".{name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, FILE_MODE)  # os.open's mode is cut by the umask
        os.replace(tmp, path)
        changed = True
    return changed


def reload_broker(pid: int) -> None:
    """Ask Mosquitto (process `pid`) to re-read its password file and ACL."""
    os.kill(pid, signal.SIGHUP)


@dataclass
class BrokerConfigWriter:
    """Keeps one directory's passwd and acl in step with the store."""

    uow_factory: UowFactory
    out_dir: Path
    gateway_username: str
    gateway_password: str
    reload_pid: int | None = None

    def __post_init__(self) -> None:
        if not self.gateway_username or any(c in self.gateway_username for c in ":\n #+/"):
            raise ValueError(f"unusable gateway username {self.gateway_username!r}")
        self._gateway_hash = gateway_hash(
            self.out_dir, self.gateway_username, self.gateway_password
        )

    def sync(self) -> BrokerFiles:
        """Write what changed and, if anything did, reload the broker."""
        files = render(self.uow_factory, self.gateway_username, self._gateway_hash)
        if write_if_changed(self.out_dir, files):
            log.info("broker files written: %d terminals in %s", files.devices, self.out_dir)
            if self.reload_pid is not None:
                reload_broker(self.reload_pid)
        return files

    def watch(self, stop: threading.Event, interval_s: float = POLL_INTERVAL_S) -> None:
        """Sync every `interval_s` until `stop` is set; a failed round is logged and retried."""
        while not stop.wait(interval_s):
            try:
                self.sync()
            except (SQLAlchemyError, OSError) as exc:  # the store or the broker is away
                log.warning("broker files not updated: %s", exc)
            except Exception:
                log.exception("broker files not updated")


def broker_config(
    out: Annotated[Path, typer.Option(help="Directory for the passwd and acl files.")],
    watch: Annotated[
        bool, typer.Option(help="Keep the files current as terminals come and go.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, help="Seconds between looks at the store with --watch.")
    ] = POLL_INTERVAL_S,
    reload_pid: Annotated[
        int | None, typer.Option(help="Mosquitto's pid: sent SIGHUP after every change.")
    ] = None,
) -> None:
    """Write Mosquitto's password file and ACL for the gateway and every terminal in service."""
    settings = Settings()
    if settings.mqtt_password is None:
        typer.echo("VNH_MQTT_PASSWORD must be set: the gateway logs in to Mosquitto with it.")
        raise typer.Exit(2)
    services = build_services(settings)
    try:
        writer = BrokerConfigWriter(
            services.uow,
            out,
            settings.mqtt_username,
            settings.mqtt_password.get_secret_value(),
            reload_pid,
        )
        files = writer.sync()
        typer.echo(f"{out / PASSWD_FILE}: the gateway and {files.devices} terminals")
        if files.without_hash:
            shown = ", ".join(files.without_hash[:10])
            typer.echo(
                f"{len(files.without_hash)} terminals cannot log in until their secret is "
                f"rotated (provisioned before broker hashes): {shown}"
            )
        if watch:
            logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the watch quietly
                writer.watch(stop, interval)
    finally:
        services.close()
