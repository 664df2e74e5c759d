"""The desk's tables (migration 0025): outcome codes, case outcomes, scripts, handover notes."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from care_api.store.types import UtcDateTime


def _ts(*, index: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=False, index=index))


class OutcomeCode(SQLModel, table=True):
    """One outcome an operator may pick on resolve; the admin's list replaces the defaults."""

    __tablename__ = "outcome_code"
    code: str = Field(primary_key=True, max_length=32)
    # language tag ("zh-CN", "en") → the words the console shows
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    position: int = 0
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()


class CaseOutcome(SQLModel, table=True):
    """How a case ended, as the operator who resolved it coded it; counted in the figures."""

    __tablename__ = "case_outcome"
    case_id: str = Field(primary_key=True, foreign_key="care_case.id", max_length=32)
    code: str = Field(max_length=32, index=True)
    by: str = Field(max_length=100)
    at: datetime = _ts()


class CaseScript(SQLModel, table=True):
    """The steps an operator ticks on a case of `kind` on `line` ("" for any line)."""

    __tablename__ = "case_script"
    kind: str = Field(primary_key=True, max_length=16)
    line: str = Field(primary_key=True, default="", max_length=16)
    # [{"id": "call_elder", "labels": {"zh-CN": …, "en": …}}, …]
    steps: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()


class HandoverNote(SQLModel, table=True):
    """A note from one shift to the next, shown on the board; never rewritten."""

    __tablename__ = "handover_note"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    by: str = Field(max_length=100)
    text: str = Field(max_length=2000)
