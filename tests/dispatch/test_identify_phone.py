"""Whom an SMS reply's number names: every contact, volunteer and merchant with it, in order."""

from __future__ import annotations

from datetime import UTC, datetime

from care_api.domain.dispatch import MerchantStatus
from care_api.services import Services
from care_api.store.tables import Merchant, Volunteer
from care_api.usecases.dispatch.merchants import create_merchant
from care_api.usecases.dispatch.responders import identify_phone
from care_api.usecases.dispatch.volunteers import create_volunteer
from care_api.usecases.people.registry import add_contact, create_elder

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SHARED = "+8613900000001"  # a daughter of two elders who also volunteers and runs a kitchen
SUPERVISOR = "+8613700000000"  # the dispatch fixtures' VNH_SUPERVISOR_PHONE


def _elder(svc: Services, n: int) -> int:
    with svc.uow() as uow:
        elder = create_elder(
            uow.session,
            {"name": f"Elder {n}", "phone": f"+861380000000{n}", "address": f"{n} Lane"},
            NOW,
        )
        uow.commit()
        assert elder.id is not None
        return elder.id


def test_a_number_names_every_actor_it_belongs_to_contacts_first_each_by_id(
    svc: Services,
) -> None:
    first, second = _elder(svc, 1), _elder(svc, 2)
    with svc.uow() as uow:
        s = uow.session
        # Made in an order that is not the answer's: merchants, volunteers, then contacts.
        kitchen = create_merchant(
            s,
            {
                "name": "Kitchen",
                "phone": SHARED,
                "lat": 29.1,
                "lon": 119.6,
                "categories": ["meals"],
            },
            NOW,
        )
        gone = create_merchant(
            s,
            {"name": "Closed", "phone": SHARED, "lat": 29.1, "lon": 119.6, "categories": ["meals"]},
            NOW,
        )
        gone.status = MerchantStatus.REMOVED
        helper = create_volunteer(
            s, {"name": "Fang", "phone": SHARED, "lat": 29.1, "lon": 119.6}, NOW
        )
        idle = create_volunteer(
            s, {"name": "Fang 2", "phone": SHARED, "lat": 29.1, "lon": 119.6}, NOW
        )
        idle.active = False
        later = add_contact(s, second, {"name": "Fang", "phone": SHARED, "priority": 1})
        earlier = add_contact(s, first, {"name": "Fang", "phone": SHARED, "priority": 2})
        add_contact(s, first, {"name": "Brother", "phone": "+8613900000002", "priority": 1})
        uow.commit()
        ids = (later.id, earlier.id, helper.id, kitchen.id)

    with svc.uow() as uow:
        assert uow.session.get(Merchant, gone.id) is not None
        assert uow.session.get(Volunteer, idle.id) is not None
        found = identify_phone(uow.session, "139 0000 0001", supervisor_phone=SUPERVISOR)
        supervisor = identify_phone(uow.session, SUPERVISOR, supervisor_phone=SUPERVISOR)
        nobody = identify_phone(uow.session, "+8613900000009", supervisor_phone=SUPERVISOR)
        foreign = identify_phone(uow.session, "+1 415 390 0000 1", supervisor_phone=SUPERVISOR)

    contact_a, contact_b, volunteer, merchant = ids
    assert found == [
        f"contact:{contact_a}",
        f"contact:{contact_b}",
        f"volunteer:{volunteer}",
        f"merchant:{merchant}",
    ]
    assert (supervisor, nobody, foreign) == (["supervisor"], [], [])
