"""Whose language a text is written in."""

from __future__ import annotations

from care_api.services import Services
from care_api.store.tables import Contact, Elder, Volunteer
from care_api.usecases.people.languages import language_of_person
from tests.fakes import FakeClock


def test_person_language_own_else_the_centres(services: Services, clock: FakeClock) -> None:
    with services.uow() as uow:
        elder = Elder(name="Wang", phone="+8613800000000", language="en", created_at=clock.now())
        uow.session.add(elder)
        uow.session.flush()
        daughter = Contact(elder_id=elder.id or 0, name="Li", phone="+8613900000000")
        son = Contact(elder_id=elder.id or 0, name="Tom", phone="+447700900123", language="en")
        helper = Volunteer(
            name="Zhao",
            phone="+8613900000001",
            lat=0,
            lon=0,
            language="zh-CN",
            created_at=clock.now(),
        )
        uow.session.add_all([daughter, son, helper])
        uow.session.flush()
        s = uow.session
        assert language_of_person(s, f"contact:{daughter.id}", centre="zh-CN") == "zh-CN"
        assert language_of_person(s, f"contact:{son.id}", centre="zh-CN") == "en"
        assert language_of_person(s, f"elder:{elder.id}", centre="zh-CN") == "en"
        assert language_of_person(s, f"volunteer:{helper.id}", centre="en") == "zh-CN"
        assert language_of_person(s, "supervisor", centre="en") == "en"
        assert language_of_person(s, "contact:999", centre="zh-CN") == "zh-CN"
        assert language_of_person(s, None, centre="zh-CN") == "zh-CN"
