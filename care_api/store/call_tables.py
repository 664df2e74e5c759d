"""Telephone calls about cases (migration 0021): operators' bridged calls, machine callbacks."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from care_api.store.tables import _ts


class CaseCall(SQLModel, table=True):
    """A bridged call an operator placed from a case: their own phone first, then the party."""

    __tablename__ = "case_call"
    __table_args__ = (Index("ix_case_call_state", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", index=True, max_length=32)
    party: str = Field(max_length=32)  # elder | contact:<id> | volunteer:<id> | merchant:<id>
    party_name: str = Field(default="", max_length=200)
    party_phone: str = Field(max_length=32)  # from the store, never from the request
    operator: str = Field(max_length=100)  # the actor who asked for the call
    operator_phone: str = Field(max_length=32)
    # requested → dialing → ringing → connecting → completed | busy | no-answer | failed |
    # canceled | unplaced (no Twilio account: dial by hand)
    state: str = Field(default="requested", max_length=16)
    call_sid: str | None = Field(default=None, max_length=64, index=True)
    party_outcome: str | None = Field(default=None, max_length=16)  # the <Dial>'s status
    duration_s: int | None = None  # how long the party was on the line
    detail: str = Field(default="", max_length=500)
    created_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class AutoCallback(SQLModel, table=True):
    """The callback (回访) the service makes itself after a case is resolved, one per case."""

    __tablename__ = "auto_callback"
    __table_args__ = (Index("ix_auto_callback_state_due", "state", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", unique=True, max_length=32)
    phone: str = Field(max_length=32)
    whom: str = Field(max_length=32)  # elder | contact:<id>
    language: str = Field(max_length=16)
    # waiting → dial → calling → (asking) → done | operator (fallen back to the operator's list)
    state: str = Field(default="waiting", max_length=16)
    attempts: int = 0
    call_sid: str | None = Field(default=None, max_length=64, index=True)
    question: str = Field(default="", max_length=16)  # the key of the question being asked
    asked: int = 0  # how often this question was asked on this call
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    due_at: datetime | None = _ts(nullable=True)  # the operator's due time once fallen back
    reason: str = Field(default="", max_length=200)
    # Why the machine gave up, as a catalogue key and fields: the board says it in the
    # reader's language (0031; NULL on older rows, which show `reason` as written).
    reason_msg: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OperatorPhone(SQLModel, table=True):
    """The phone a staff member set for their bridged calls (migration 0028): rung first."""

    __tablename__ = "operator_phone"
    actor: str = Field(primary_key=True, max_length=100)  # as CaseCall.operator names them
    phone: str = Field(max_length=32)  # E.164
    updated_at: datetime = _ts()
