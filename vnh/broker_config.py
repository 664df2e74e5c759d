"""`vnh broker-config`: Mosquitto's password files and topic ACLs, written from the store.

Two listeners, one per population (`per_listener_settings true`; see `mosquitto_conf`):
terminals on one that replaces every client id by the username (so a terminal's secret
cannot take another client's id and kick it off), with the terminals' `passwd` and `acl`;
the gateway on another, reachable only from the gateway's hosts, with `gateway.passwd` and
`gateway.acl`. A terminal's login is refused on the gateway's listener and the gateway's
on the terminals'.

The gateway logs in as VNH_MQTT_USERNAME with VNH_MQTT_PASSWORD; each terminal with its
device id and secret. With `--watch` the files follow the store (terminals provisioned,
rotated or retired) and `--reload-pid` sends Mosquitto a SIGHUP to re-read them; on a
reload Mosquitto disconnects every client whose password no longer matches, so a rotated
or retired terminal's session ends too.
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
from care_api.usecases.fleet.broker_passwords import (
    broker_name_problem,
    mosquitto_hash,
    mosquitto_hash_matches,
)

log = logging.getLogger(__name__)

# The terminals' listener reads these two, the gateway's listener the other two.
PASSWD_FILE = "passwd"  # noqa: S105 - a file name, not a password
ACL_FILE = "acl"
GATEWAY_PASSWD_FILE = "gateway.passwd"  # noqa: S105 - a file name, not a password
GATEWAY_ACL_FILE = "gateway.acl"
# Readable by a `mosquitto` group (give the directory that group, setgid); never by all.
FILE_MODE = 0o640
POLL_INTERVAL_S = 5.0
RETIRED = "retired"
# PROTOCOL.md's topic tree; care_api does not import the gateway's topics module.
TOPIC_ROOT = "vnh/v1/dev"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_HEADER = "# Written by `vnh broker-config` from the store; edits here are overwritten.\n"


class BrokerFilesError(ValueError):
    """The store holds terminals whose login would clash with another; nothing was written."""


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """What to write, and the terminals in service that cannot log in through Mosquitto."""

    passwd: str
    acl: str
    gateway_passwd: str
    gateway_acl: str
    devices: int
    without_hash: tuple[str, ...]  # provisioned before broker hashes: rotate their secret

    def texts(self) -> tuple[tuple[str, str], ...]:
        """(file name, text) of every file, the gateway's first."""
        return (
            (GATEWAY_PASSWD_FILE, self.gateway_passwd),
            (GATEWAY_ACL_FILE, self.gateway_acl),
            (PASSWD_FILE, self.passwd),
            (ACL_FILE, self.acl),
        )


def acl_text() -> str:
    """The terminals' topic ACL of PROTOCOL.md in Mosquitto's acl_file syntax."""
    return (
        f"{_HEADER}"
        "# A terminal (username = device id) writes its own up and status, reads its own down.\n"
        f"pattern write {TOPIC_ROOT}/%u/up\n"
        f"pattern write {TOPIC_ROOT}/%u/status\n"
        f"pattern read {TOPIC_ROOT}/%u/down\n"
    )


def gateway_acl_text(gateway_username: str) -> str:
    """The gateway's topic ACL: it reads every terminal's up and status, writes every down."""
    return (
        f"{_HEADER}"
        f"user {gateway_username}\n"
        f"topic read {TOPIC_ROOT}/+/up\n"
        f"topic read {TOPIC_ROOT}/+/status\n"
        f"topic write {TOPIC_ROOT}/+/down\n"
    )


def mosquitto_conf(
    conf_dir: Path, terminals_listener: str = "8883", gateway_listener: str = "1883 127.0.0.1"
) -> str:
    """The listener part of mosquitto.conf that the files are written for.

    `terminals_listener` / `gateway_listener` are what follows `listener` (port, address);
    add `certfile` / `keyfile` under the terminals' listener for TLS.
    """
    return (
        "per_listener_settings true\n"
        "\n"
        "# Terminals: the client id is always the username (= device id), whatever is sent.\n"
        f"listener {terminals_listener}\n"
        "use_username_as_clientid true\n"
        "allow_anonymous false\n"
        f"password_file {conf_dir / PASSWD_FILE}\n"
        f"acl_file {conf_dir / ACL_FILE}\n"
        "\n"
        "# The gateway only, on an address terminals cannot reach.\n"
        f"listener {gateway_listener}\n"
        "allow_anonymous false\n"
        f"password_file {conf_dir / GATEWAY_PASSWD_FILE}\n"
        f"acl_file {conf_dir / GATEWAY_ACL_FILE}\n"
    )


def render(uow_factory: UowFactory, gateway_username: str, gateway_hash: str) -> BrokerFiles:
    """The files as they should be now: the gateway's, and every terminal in service.

    Raises:
        BrokerFilesError: a terminal in service has an id that is not a usable login
            (reserved, the gateway's, or one Mosquitto would misread), or two logins clash.
    """
    with uow_factory() as uow:
        rows = uow.session.exec(
            select(Device.device_id, Device.broker_hash)
            .where(col(Device.status) != RETIRED)
            .order_by(col(Device.device_id))
        ).all()
    refused = [
        f"{device_id} ({problem})"
        for device_id, _ in rows
        if (problem := broker_name_problem(device_id, (gateway_username,))) is not None
    ]
    if refused:
        raise BrokerFilesError(
            "terminals in service with ids that cannot be broker logins; retire them and "
            f"provision them again under another id: {', '.join(refused[:10])}"
        )
    lines = [f"{device_id}:{hashed}" for device_id, hashed in rows if hashed]
    gateway_line = f"{gateway_username}:{gateway_hash}"
    _check_unique([gateway_line, *lines])
    missing = tuple(device_id for device_id, hashed in rows if not hashed)
    return BrokerFiles(
        passwd="".join(f"{line}\n" for line in lines),
        acl=acl_text(),
        gateway_passwd=f"{gateway_line}\n",
        gateway_acl=gateway_acl_text(gateway_username),
        devices=len(rows) - len(missing),
        without_hash=missing,
    )


def _check_unique(lines: list[str]) -> None:
    # Mosquitto takes the last line of a user silently: a second line is a takeover.
    seen: set[str] = set()
    for line in lines:
        user = line.partition(":")[0]
        if user.casefold() in seen:
            raise BrokerFilesError(f"the broker login {user!r} would appear twice")
        seen.add(user.casefold())


def gateway_hash(out_dir: Path, username: str, password: str) -> str:
    """The gateway's `$7$` hash: the one already in the file if it still matches."""
    # Kept, so that restarting the watch does not rewrite the file and reload Mosquitto.
    path = out_dir / GATEWAY_PASSWD_FILE
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
    for name, text in files.texts():
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
            except BrokerFilesError as exc:  # the last good files stay until it is fixed
                log.error("broker files not updated: %s", exc)  # noqa: TRY400 - no traceback needed
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
    """Write Mosquitto's password files and ACLs for the gateway and every terminal in service."""
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
        try:
            files = writer.sync()
        except BrokerFilesError as exc:
            typer.echo(f"nothing written: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"{out / PASSWD_FILE}: {files.devices} terminals; {out / GATEWAY_PASSWD_FILE}")
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
