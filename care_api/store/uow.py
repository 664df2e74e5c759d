"""Unit of work: one transaction, with domain events published only after it commits."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from care_api.domain.events import DomainEvent, EventBus
from care_api.domain.storms import StormRule
from care_api.store.arrays import is_postgres


class SqlUnitOfWork:
    """A session plus the domain events it produced; leaving the block without commit rolls back."""

    def __init__(
        self, engine: Engine, bus: EventBus, *, storm_rule: StormRule | None = None
    ) -> None:
        self._engine = engine
        self._bus = bus
        # The use cases that raise terminal troubles read the centre's storm thresholds here.
        self.storm_rule = storm_rule or StormRule()
        self.session: Session
        self._events: list[DomainEvent] = []

    def __enter__(self) -> SqlUnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False)
        self._events = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back what was not committed without expiring loaded objects, so
        # callers may still read rows they fetched after the block ends.
        self.session.close()

    def emit(self, event: DomainEvent) -> None:
        """Queue `event` for publication once the transaction commits."""
        self._events.append(event)

    def commit(self) -> None:
        """Commit, then publish the queued events; a rollback publishes nothing."""
        self.session.commit()
        events, self._events = self._events, []
        for event in events:
            self._bus.publish(event)

    def rollback(self) -> None:
        """Drop the transaction and the events it queued."""
        self.session.rollback()
        self._events = []


UowFactory = Callable[[], SqlUnitOfWork]

_EACH_COMMITS = {"isolation_level": "AUTOCOMMIT"}


def outside_transaction(session: OrmSession) -> Connection:
    """`session`'s connection; on PostgreSQL one whose statements each commit by themselves.

    Call it before the session's first statement. A transaction costs two round trips of its
    own (`BEGIN`, and `COMMIT` or `ROLLBACK`); reads outside one see what they would inside:
    at READ COMMITTED each statement sees what was committed when it starts, and a read
    takes no lock. What writes must be one statement, or begin a transaction itself
    (`BEGIN`), which the session's commit then ends: SQLAlchemy hands the commit to
    psycopg, which sends `COMMIT` for a transaction open, and closing the session rolls an
    unfinished one back. SQLite's connection is the session's as ever.
    """
    if not is_postgres(session):
        return session.connection()
    return session.connection(execution_options=_EACH_COMMITS)
