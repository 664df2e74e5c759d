"""A Chinese centre: alerts, calls and the terminal speak each person's language."""

from __future__ import annotations

import pytest
from sqlmodel import select

from alerts.runtime import AlertsComponent
from alerts.sms_segments import sms_segments
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Contact
from care_api.usecases.cases.actions import acknowledge
from care_api.usecases.intake.reports import record_device_report
from device_gateway.downlink import CaseNewsSender
from device_gateway.protocol.model import CaseNews
from tests.conftest import make_settings
from tests.helpers import press, seed_elder
from tests.twilio_server import RecordingTwilioServer

TWILIO_FROM = "+15005550006"
DAUGHTER = "+8613900000000"  # contact 1: no language of her own, so the centre's
SON_ABROAD = "+447911123456"  # contact 2: English


def test_languages_the_centre_speaks_chinese_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VNH_LANGUAGE", raising=False)
    assert Settings(_env_file=None).language == "zh-CN"  # type: ignore[call-arg]


def test_languages_a_press_reaches_the_family_in_chinese_and_an_english_son_in_english(
    services: Services,
) -> None:
    elder_id, _ = seed_elder(
        services, contacts=1, name="张秀英", address="金华市婺城区五一路3号2单元401室"
    )
    with services.uow() as uow:
        uow.session.add(
            Contact(elder_id=elder_id, name="Tom", phone=SON_ABROAD, priority=1, language="en")
        )
        uow.commit()
    with RecordingTwilioServer() as server:
        services.settings = make_settings(
            services.settings.database_url,
            language="zh-CN",
            twilio_account_sid=server.account_sid,
            twilio_auth_token=server.auth_token,
            twilio_from=TWILIO_FROM,
            twilio_api_url=server.base_url,
        )
        alerts = AlertsComponent(services.settings, services)
        alerts.attach()
        try:
            outcome = record_device_report(
                services.uow, press(), now=services.clock.now(), tz=services.tz
            )
            alerts.run_pending()
        finally:
            alerts.stop()
        sms = {m.form["To"]: m.form["Body"] for m in server.messages()}
        calls = {c.form["To"]: c.form["Twiml"] for c in server.calls()}
    assert outcome.case_id is not None
    daughter = sms[DAUGHTER]
    assert daughter.startswith("【紧急求助】张秀英（金华市婺城区五一路3号2单元401室）需要帮助")
    assert "回复1接单" in daughter and outcome.case_id in daughter
    assert sms_segments(daughter) <= 2  # who, where, what and how to answer, in two at most
    assert 'language="zh-CN"' in calls[DAUGHTER] and "需要帮助" in calls[DAUGHTER]
    assert sms[SON_ABROAD].startswith(f"EMERGENCY {outcome.case_id}: 张秀英 at ")
    assert 'language="en"' in calls[SON_ABROAD] and "needs help" in calls[SON_ABROAD]


def test_languages_the_terminal_tells_the_elder_in_chinese(services: Services) -> None:
    elder_id, _ = seed_elder(services, contacts=1, name="张秀英")
    services.settings = make_settings(services.settings.database_url, language="zh-CN")
    said: list[str | None] = []

    class RecordingRoute:
        def downlink_for(self, _device_id: str) -> RecordingRoute:
            return self

        def send_news(self, _device_id: str, news: CaseNews) -> None:
            said.append(news.say)

    sender = CaseNewsSender(services, RecordingRoute())  # type: ignore[arg-type]
    sender.start()
    try:
        outcome = record_device_report(
            services.uow, press(), now=services.clock.now(), tz=services.tz
        )
        assert outcome.case_id is not None
        with services.uow() as uow:
            daughter = uow.session.exec(select(Contact).where(Contact.elder_id == elder_id)).one()
            taker = f"contact:{daughter.id}"
            acknowledge(uow, outcome.case_id, by=taker, now=services.clock.now(), via="sms")
            uow.commit()
    finally:
        sender.stop()  # sends what is queued first
    assert said == ["您的呼叫已收到", "帮助正在赶来"]
