"""Rows built by `whole_row` are written exactly as the table model's constructor would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.services import Services
from care_api.store.tables import CaseEvent, Notification, Timer
from care_api.store.whole_rows import whole_row
from care_api.usecases.cases.log import open_case
from tests.helpers import seed_elder

AT = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)


def _rows(case_id: str) -> dict[type[Any], dict[str, Any]]:
    return {
        Notification: {
            "case_id": case_id,
            "channel": "sms",
            "to": "+8613800000001",
            "recipient": "caregiver:1",
            "body": "【紧急求助】张秀英需要帮助",
            "say": None,
            "segments": 1,
            "language": "zh-CN",
            "body_msg": None,
            "status": "pending",
            "idempotency_key": None,
            "next_attempt_at": AT,
            "created_at": AT,
            "updated_at": AT,
            "provider_id": None,
            "detail": None,
            "attempts": 0,
            "sent_at": None,
            "bounded_by": None,
        },
        CaseEvent: {
            "case_id": case_id,
            "at": AT,
            "by": "system",
            "action": "transition",
            "from_state": CaseState.OPEN,
            "to_state": CaseState.DISPATCHED,
            "why": "ladder step 0",
            "why_msg": None,
        },
        Timer: {
            "case_id": case_id,
            "purpose": TimerPurpose.LADDER,
            "step": 1,
            "due_at": AT,
            "fired_at": None,
            "cancelled": False,
            "created_at": AT,
        },
    }


def _open_case(services: Services) -> str:
    elder_id, _ = seed_elder(services, "T1001")
    with services.uow() as uow:
        case = open_case(
            uow,
            kind=CaseKind.EMERGENCY,
            elder_id=elder_id,
            trigger="long press",
            by="device:T1001",
            now=AT,
            tz=UTC,
        )
        uow.commit()
        return case.id


def _stored(services: Services, model: type[Any], row_id: int) -> dict[str, Any]:
    with services.uow() as uow:
        found = uow.session.execute(select(model.__table__).where(model.id == row_id)).one()
        return {k: v for k, v in found._mapping.items() if k != "id"}


@pytest.mark.parametrize("model", [Notification, CaseEvent, Timer])
def test_whole_row_stores_what_the_model_constructor_stores(
    services: Services, model: type[Any]
) -> None:
    case_id = _open_case(services)
    values = _rows(case_id)[model]
    with services.uow() as uow:
        by_constructor, fast = model(**values), whole_row(model, values)
        assert fast.id is None  # as the constructor leaves it: the database's to choose
        uow.session.add_all([by_constructor, fast])
        uow.commit()
        ids = (by_constructor.id, fast.id)
    assert ids[1] == ids[0] + 1  # in the order added, as two constructed rows would be
    assert _stored(services, model, ids[1]) == _stored(services, model, ids[0])


def test_whole_row_refuses_a_missing_or_unknown_column() -> None:
    values = _rows("C-1")[Timer]
    with pytest.raises(ValueError, match=r"Timer: no value for \['cancelled'\]"):
        whole_row(Timer, {k: v for k, v in values.items() if k != "cancelled"})
    with pytest.raises(ValueError, match=r"Timer: no column \['colour'\]"):
        whole_row(Timer, {**values, "colour": "red"})
