"""The console in 中文: every text the server made (titles, history, flags, notices) is Chinese.

A press walks the emergency ladder to its "call 120" step with the console reading through
the API with `Accept-Language: zh-CN`; no English sentence may come back. The same case read
in English is English, and an English-speaking contact still gets English messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import select

from alerts.answers import Answers
from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import CaseEvent, Contact
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts, press, seed_elder

# What the catalogue test calls an English sentence: three words in a row.
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{3,} [a-z]{2,} [a-z]{2,}")
DAUGHTER = "+8613900000000"  # seed_elder's first contact: no language, so the centre's
SON_ABROAD = "+447911123456"


@pytest.fixture
def services(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = Settings(
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        language="zh-CN",
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def alerts(services: Services) -> Iterator[AlertsComponent]:
    component = outbox_alerts(services)
    yield component
    component.stop()


def console_app(services: Services) -> FastAPI:
    return create_app(services)


def walk_to_call_120(services: Services, alerts: AlertsComponent, clock: FakeClock) -> str:
    """A long press, then nobody answers until the ladder's step that says "call 120"."""
    outcome = record_device_report(services.uow, press(), now=clock.now(), tz=services.tz)
    assert outcome.case_id is not None
    alerts.run_pending()
    for _ in range(12):
        clock.advance(seconds=120)
        alerts.tick()
        alerts.run_pending()
    with services.uow() as uow:
        flags = uow.session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == outcome.case_id, CaseEvent.action == "flag"
            )
        ).all()
    assert flags, "the ladder did not reach its flag step"
    return outcome.case_id


def server_texts(api: TestClient, case_id: str, language: str) -> list[str]:
    """Every server-made text the console shows for the case: list, detail, board."""
    headers = {**ADMIN, "Accept-Language": language}
    listed = api.get("/api/v1/cases", headers=headers).json()
    detail = api.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    board = api.get("/api/v1/console/board", headers=headers).json()
    texts = [c["summary"] for c in listed]
    texts += [detail["summary"]] + [e["why"] for e in detail["events"]]
    texts += [n["body"] for n in detail["notifications"] if n["channel"] == "console"]
    for row in board["cases"]:
        texts += [row["summary"], *row["flags"]]
    return texts


def test_console_in_chinese_shows_no_english_sentence_from_the_server(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, contacts=1, name="张秀英", address="五一路3号")
    case_id = walk_to_call_120(services, alerts, clock)
    with TestClient(console_app(services)) as api:
        chinese = server_texts(api, case_id, "zh-CN,zh;q=0.9")
        english = server_texts(api, case_id, "en")
        board = api.get("/api/v1/console/board", headers={**ADMIN, "Accept-Language": "zh-CN"})
        flags = board.json()["cases"][0]["flags"]

    english_left = [text for text in chinese if ENGLISH_SENTENCE.search(text)]
    assert not english_left, english_left
    assert chinese[0] == "紧急求助（主键长按）"
    assert "请拨打120" in flags
    assert any("无人确认" in text for text in chinese)  # the escalation's history line
    # The same rows read in English are the English texts, as before.
    assert english[0] == "Emergency (main long press)"
    assert any("no acknowledgement" in text for text in english)
    assert "call 120" in english


def test_console_language_the_query_picks_it_where_a_browser_cannot_send_headers(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, contacts=1)
    case_id = walk_to_call_120(services, alerts, clock)
    with TestClient(console_app(services)) as api:
        zh = api.get(f"/api/v1/cases/{case_id}?lang=zh", headers={**ADMIN, "Accept-Language": "en"})
    assert zh.json()["summary"] == "紧急求助（主键长按）"


def test_console_language_an_english_contact_still_gets_english(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder_id, _ = seed_elder(services, contacts=1, name="张秀英", address="五一路3号")
    with services.uow() as uow:
        uow.session.add(
            Contact(elder_id=elder_id, name="Tom", phone=SON_ABROAD, priority=1, language="en")
        )
        uow.commit()
    case_id = walk_to_call_120(services, alerts, clock)
    with TestClient(console_app(services)) as api:
        detail = api.get(f"/api/v1/cases/{case_id}", headers={**ADMIN, "Accept-Language": "zh"})
    to_son = [n["body"] for n in detail.json()["notifications"] if n["to"] == SON_ABROAD]
    to_daughter = [n["body"] for n in detail.json()["notifications"] if n["to"] == DAUGHTER]
    assert to_son and all(
        not re.search("[\u4e00-\u9fff]", b.replace("张秀英", "").replace("五一路3号", ""))
        for b in to_son
    )
    assert to_daughter and all("需要帮助" in b or "语音电话" in b for b in to_daughter)

    answers = Answers(services)
    assert answers.sms(SON_ABROAD, "1").startswith(f"You have case {case_id}: 张秀英")
    assert answers.sms(DAUGHTER, "1") == f"案件{case_id}已由Tom接单，谢谢。"
    assert answers.sms(DAUGHTER, "what?").startswith("抱歉，未能识别您的回复。")


@pytest.mark.parametrize("asked", ["<script>", "fr", "zh-CN;q=abc", "x" * 300])
def test_console_language_a_strange_language_gets_the_centres_and_no_token_still_401(
    services: Services, alerts: AlertsComponent, clock: FakeClock, asked: str
) -> None:
    seed_elder(services, contacts=1)
    case_id = walk_to_call_120(services, alerts, clock)
    with TestClient(console_app(services)) as api:
        as_query = api.get(f"/api/v1/cases/{case_id}", params={"lang": asked}, headers=ADMIN)
        as_header = api.get(f"/api/v1/cases/{case_id}", headers={**ADMIN, "Accept-Language": asked})
        anonymous = api.get(f"/api/v1/cases/{case_id}", headers={"Accept-Language": "zh-CN"})
    # The centre's language (zh-CN here) for what the service does not speak; nothing fails.
    assert as_query.json()["summary"] == as_header.json()["summary"] == "紧急求助（主键长按）"
    assert anonymous.status_code == 401
    assert "summary" not in anonymous.json()


def test_console_language_a_reclassification_reads_in_chinese_and_parses_in_english(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, contacts=1)
    case_id = walk_to_call_120(services, alerts, clock)
    with TestClient(console_app(services)) as api:
        url = f"/api/v1/cases/{case_id}/reclassify"
        moved = api.post(url, json={"kind": "care", "note": "fell, unhurt"}, headers=ADMIN)
        assert moved.status_code == 200, moved.text
        zh = api.get(f"/api/v1/cases/{case_id}", headers={**ADMIN, "Accept-Language": "zh"})
        en = api.get(f"/api/v1/cases/{case_id}", headers={**ADMIN, "Accept-Language": "en"})
    zh_lines = [e["why"] for e in zh.json()["events"] if e["action"] == "reclassified"]
    en_lines = [e["why"] for e in en.json()["events"] if e["action"] == "reclassified"]
    assert zh_lines == ["紧急求助 → 上门照料：fell, unhurt"]
    assert en_lines == ["emergency → care: fell, unhurt"]
    assert zh.json()["summary"] == "上门照料（主键长按）"
