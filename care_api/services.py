"""The services every part of the process shares, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from care_api.domain.clock import Clock, SystemClock
from care_api.domain.events import EventBus
from care_api.domain.storms import StormRule
from care_api.priority import IntakePriority
from care_api.settings import Settings
from care_api.store.db import WalCheckpointer, has_wal, make_engine, upgrade_schema
from care_api.store.heartbeat_book import HeartbeatBook
from care_api.store.uow import SqlUnitOfWork
from care_api.throttle import AuthThrottles
from care_api.usecases.people.staff import use_password_hash_cost


@dataclass
class Services:
    """Settings, database, clock and event bus, passed down instead of globals."""

    settings: Settings
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)
    bus: EventBus = field(default_factory=EventBus)
    # Shared by the gateway (records), its flusher (writes) and the fleet watch (reads).
    heartbeats: HeartbeatBook = field(default_factory=HeartbeatBook)
    # The gateway marks itself busy; the alerts' threads step aside meanwhile.
    intake: IntakePriority = field(default_factory=IntakePriority)
    # The reverse, one rung lower: the alerts' threads mark themselves busy and the
    # gateway's technical reports (a storm's thousands) step aside meanwhile.
    alerting: IntakePriority = field(default_factory=IntakePriority)
    # Failed logins per source, at every door (API, broker, webhooks), with their backoff.
    auth: AuthThrottles = field(default_factory=AuthThrottles)
    # SQLite only: checkpoints the WAL, which the commits leave alone (`make_engine`).
    checkpointer: WalCheckpointer | None = None

    @property
    def tz(self) -> tzinfo:
        """The centre's local time zone."""
        return ZoneInfo(self.settings.timezone)

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work on the service's database."""
        return SqlUnitOfWork(self.engine, self.bus, storm_rule=self._storm_rule)

    @cached_property
    def _storm_rule(self) -> StormRule:
        return self.settings.storm_rule

    def close(self) -> None:
        """Stop checkpointing, then release the database connections."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    checkpoint_apart: bool = True,
) -> Services:
    """Build the shared services; bring the schema up to date first unless told not to.

    `checkpoint_apart` False: SQLite's commits checkpoint the WAL themselves, with no thread
    (and no commit listener, which slowed every statement), for a run where nobody waits.
    """
    if migrate:
        upgrade_schema(settings.database_url)
    use_password_hash_cost(settings.password_hash_cost)
    apart = checkpoint_apart and has_wal(settings.database_url)
    engine = make_engine(settings.database_url, checkpoint_apart=apart)
    checkpointer = WalCheckpointer(engine) if apart else None
    if checkpointer is not None:
        checkpointer.start()
    return Services(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        auth=AuthThrottles.configured(settings.auth_free_failures, settings.auth_max_backoff_s),
        checkpointer=checkpointer,
    )
