"""First-receiver ownership holds when two people acknowledge at the same moment."""

import threading

import pytest

from care_api.domain.errors import Conflict
from care_api.services import Services
from care_api.store.tables import Case
from care_api.usecases.cases.actions import acknowledge
from care_api.usecases.intake.reports import record_device_report
from tests.helpers import press, seed_elder


def test_ownership_race_second_acknowledgement_loses(services: Services) -> None:
    seed_elder(services)
    now = services.clock.now()
    case_id = record_device_report(services.uow, press(), now=now, tz=services.tz).case_id
    assert case_id is not None
    outcome: list[BaseException | str] = []

    def operator() -> None:
        try:
            with services.uow() as uow:
                acknowledge(uow, case_id, by="operator:Zhao", now=now, via="api")
                uow.commit()
                outcome.append("won")
        except Conflict as exc:
            outcome.append(exc)

    with services.uow() as sms:
        acknowledge(sms, case_id, by="contact:1", now=now, via="sms")
        sms.session.flush()
        rival = threading.Thread(target=operator)
        rival.start()
        # Whether the rival reads before or after this commit, it must lose.
        rival.join(timeout=0.5)
        sms.commit()
    rival.join(timeout=15)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Conflict)
    assert "contact:1" in str(outcome[0])
    with services.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        assert case.owner == "contact:1"


@pytest.mark.parametrize("who", ["contact:1"])
def test_ownership_owner_acknowledging_again_is_harmless(services: Services, who: str) -> None:
    seed_elder(services)
    now = services.clock.now()
    case_id = record_device_report(services.uow, press(), now=now, tz=services.tz).case_id
    assert case_id is not None
    for _ in range(2):
        with services.uow() as uow:
            acknowledge(uow, case_id, by=who, now=now, via="sms")
            uow.commit()
