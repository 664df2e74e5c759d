"""`column IN (values)` written once for any number of values: an array on PostgreSQL.

An `IN` list renders one SQL text per number of values. On PostgreSQL psycopg parses each
text anew, and the statement caches of SQLAlchemy and psycopg fill with one entry per size,
holding their bound parameters, which every full garbage collection walks (60-300 ms a
collection at 1,000 presses/s before the press batch went to arrays). `one_of` gives the
PostgreSQL statement one text whatever the batch's size (`column = ANY(:values)`, the
values as one array); SQLite, which has no arrays, keeps the expanding `IN` list.

A statement using it is built once for each kind of database (`Pair`) and picked per
connection: building a statement costs more than running it on a small batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ARRAY, ColumnElement, Connection, any_, bindparam
from sqlalchemy.orm import Mapped, Session

S = TypeVar("S")


def is_postgres(bind: Connection | Session) -> bool:
    """True when `bind` talks to PostgreSQL."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    return dialect.name == "postgresql"


def one_of(
    column: ColumnElement[Any] | Mapped[Any], name: str, *, postgres: bool
) -> ColumnElement[bool]:
    """`column IN :name`; on PostgreSQL `column = ANY(:name)`, the values as one array.

    Either way the caller passes a list (or tuple) of values as parameter `name`.
    """
    column = cast("ColumnElement[Any]", column)  # a mapped attribute compares as its column
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


class Pair(Generic[S]):
    """A statement built twice, with `one_of` for SQLite and for PostgreSQL; picked per bind."""

    __slots__ = ("_other", "_postgres")

    def __init__(self, build: Callable[[bool], S]) -> None:
        self._other = build(False)
        self._postgres = build(True)

    def on(self, bind: Connection | Session) -> S:
        """The statement for the database `bind` talks to."""
        return self._postgres if is_postgres(bind) else self._other
