"""No full phone number in any log record, along a press, its alerts and the answers to them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from httpx import Response
from sqlmodel import select
from twilio.request_validator import RequestValidator

from alerts import webhooks
from alerts.notify.outbox import OutboxNotifier
from alerts.ports import Channel
from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.log_privacy import PhoneMaskFilter, install_phone_mask, mask_phone, mask_phones_in
from care_api.services import Services, build_services
from care_api.store.tables import Notification
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder
from tests.twilio_server import RecordingTwilioServer

PUBLIC_URL = "https://vnh.example.org"
ELDER_PHONE = "+8613800000000"  # seed_elder's
FIRST_PHONE = "+8613900000000"
SECOND_PHONE = "+8613900000001"
STRANGER_PHONE = "+8613311112222"
SUPERVISOR_PHONE = "+8613700000009"
NEW_CONTACT_PHONE = "+8615912345678"
PHONES = (
    ELDER_PHONE,
    FIRST_PHONE,
    SECOND_PHONE,
    STRANGER_PHONE,
    SUPERVISOR_PHONE,
    NEW_CONTACT_PHONE,
)


@pytest.fixture
def twilio() -> Iterator[RecordingTwilioServer]:
    with RecordingTwilioServer() as server:
        yield server


@pytest.fixture
def svc(db_url: str, clock: FakeClock, twilio: RecordingTwilioServer) -> Iterator[Services]:
    settings = make_settings(
        db_url,
        admin_token=ADMIN_TOKEN,
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=twilio.auth_token,
        twilio_from="+15005550006",
        twilio_api_url=twilio.base_url,
        public_url=PUBLIC_URL,
        supervisor_phone=SUPERVISOR_PHONE,
    )
    services = build_services(settings, clock=clock)
    yield services
    services.close()


def _webhook(client: TestClient, svc: Services, path: str, params: dict[str, str]) -> Response:
    token = svc.settings.twilio_auth_token
    assert token is not None
    url = f"{PUBLIC_URL}/webhooks/twilio/{path}"
    signature = RequestValidator(token.get_secret_value()).compute_signature(url, params)
    response = client.post(
        f"/webhooks/twilio/{path}", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200, response.text
    return response


def _leaks(records: list[logging.LogRecord]) -> list[str]:
    """Messages that carry a whole phone number, in international or national form."""
    found = []
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        if any(p in text or p.removeprefix("+86") in text for p in PHONES):
            found.append(f"{record.name}: {text}")
    return found


@pytest.mark.parametrize("provider", ["twilio", "outbox"])
def test_a_press_its_alerts_and_the_answers_log_no_full_phone_number(
    svc: Services,
    twilio: RecordingTwilioServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    provider: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The outbox logs each message's text, which names the elder's phone.
    outbox = OutboxNotifier()
    notifiers = {Channel.sms: outbox, Channel.voice: outbox} if provider == "outbox" else None
    alerts = AlertsComponent(svc.settings, svc, notifiers=notifiers)
    alerts.attach()
    app = create_app(svc, routers=[webhooks.router])
    try:
        with TestClient(app) as client:
            elder_id, _ = seed_elder(svc, contacts=2)
            added = client.post(
                f"/api/v1/elders/{elder_id}/contacts",
                json={"name": "Nephew", "phone": NEW_CONTACT_PHONE, "priority": 9},
                headers=ADMIN,
            )
            assert added.status_code == 201, added.text
            client.get(f"/api/v1/elders/{elder_id}", headers=ADMIN)
            outcome = record_device_report(svc.uow, press(), now=clock.now(), tz=svc.tz)
            case_id = outcome.case_id
            alerts.run_pending()  # step 0: SMS and call to the first contact
            with svc.uow() as uow:
                sids = [n.provider_id for n in uow.session.exec(select(Notification)).all()]
            for sid in [*sids, "SM" + "f" * 32]:  # the last one is unknown
                _webhook(client, svc, "status", {"MessageSid": sid or "", "MessageStatus": "sent"})
            refused = f"The 'To' number {SECOND_PHONE} is not a valid phone number"
            twilio.fail_next(count=10, status=400, message=refused)
            clock.advance(minutes=2)
            alerts.tick()  # step 1: the second contact, whose number Twilio refuses
            alerts.run_pending()
            twilio.recover()
            clock.advance(minutes=5)
            alerts.tick()  # step 2: the supervisor
            alerts.run_pending()
            call = {"CallSid": "CA" + "1" * 32, "To": FIRST_PHONE, "Direction": "outbound-api"}
            _webhook(client, svc, "voice", call)
            _webhook(client, svc, "sms", {"From": STRANGER_PHONE, "Body": "1"})
            _webhook(client, svc, "sms", {"From": FIRST_PHONE, "Body": "1"})
            alerts.tick()
            alerts.run_pending()  # "taken by …" to the others
            _webhook(client, svc, "sms", {"From": FIRST_PHONE, "Body": "3"})
            client.get(f"/api/v1/cases/{case_id}", headers=ADMIN)
            client.get("/api/v1/notifications", headers=ADMIN)
    finally:
        alerts.stop()
    records = caplog.get_records("call")
    assert len(records) > 10  # the flow did log
    leaks = _leaks(records)
    assert not leaks, "\n".join(leaks)
    assert any(mask_phone(FIRST_PHONE) in r.getMessage() for r in records)


def test_phone_masks_keep_the_last_four_digits_and_leave_case_numbers_alone() -> None:
    assert mask_phone("+8613900000001") == "***0001"
    assert mask_phone("139 0000 0001") == "***0001"
    assert mask_phone("") == ""
    text = (
        "C-20261122-0001 to +86 139-0000-0001 and 13900000002, sid "
        "SM0123456789012345678901234567890a at 2026-11-22"
    )
    assert mask_phones_in(text) == (
        "C-20261122-0001 to ***0001 and ***0002, sid "
        "SM0123456789012345678901234567890a at 2026-11-22"
    )


def test_the_log_filter_masks_what_a_log_site_missed(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.log_privacy")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        install_phone_mask(logger)
        install_phone_mask(logger)  # once is enough
        assert sum(isinstance(f, PhoneMaskFilter) for f in handler.filters) == 1
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 1, "sent to %s", (FIRST_PHONE,), None
        )
        assert handler.filter(record)
        assert record.getMessage() == "sent to ***0000"
    finally:
        logger.removeHandler(handler)
