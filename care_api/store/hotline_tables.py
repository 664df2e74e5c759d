"""Tables of the hotline (migration 0020): calls and texts to the centre's number."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from care_api.store.types import UtcDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class HotlineCall(SQLModel, table=True):
    """One call (or SMS) to the centre's number, who made it, and whether anyone answered.

    A call no operator answered is `missed` and must be called back by `callback_due_at`
    (遇忙时5分钟内回拨); `called_back_at` says when an operator did.
    """

    __tablename__ = "hotline_call"
    __table_args__ = (Index("ix_hotline_call_status_due", "status", "callback_due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    sid: str = Field(max_length=64, unique=True)  # Twilio's CallSid or MessageSid
    channel: str = Field(default="voice", max_length=8)  # voice | sms
    phone: str = Field(max_length=32)  # the caller's number, E.164 when it is one
    caller: str = Field(max_length=16)  # domain.hotline.CallerKind
    actor: str = Field(default="", max_length=100)  # elder:3, contact:2 … ("" a stranger)
    elder_id: int | None = Field(default=None, foreign_key="elder.id", index=True)
    case_id: str | None = Field(default=None, max_length=32, index=True)
    line: str | None = Field(default=None, max_length=16)  # the line the elder chose
    status: str = Field(max_length=16)  # domain.hotline.CallStatus
    language: str | None = Field(default=None, max_length=16)
    started_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    dial_status: str | None = Field(default=None, max_length=16)  # Twilio's DialCallStatus
    operators_rung: int = 0
    missed_at: datetime | None = _ts(nullable=True)
    callback_due_at: datetime | None = _ts(nullable=True)
    called_back_at: datetime | None = _ts(nullable=True)
    called_back_by: str | None = Field(default=None, max_length=100)
    callback_note: str = Field(default="", max_length=500)
    overdue_at: datetime | None = _ts(nullable=True)  # the 5 minutes ran out uncalled


class WalkInCaller(SQLModel, table=True):
    """An elder record opened for a number nobody had: a stranger who called or texted.

    Their next call is a stranger's again (to the operator, no menu), on the same record.
    """

    __tablename__ = "walk_in_caller"
    elder_id: int = Field(primary_key=True, foreign_key="elder.id")
    phone: str = Field(max_length=32, index=True)
    created_at: datetime = _ts()
