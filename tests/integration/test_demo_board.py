"""What `vnh demo` shows a newcomer: the board and the line feed, Chinese first, English second."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from rich.console import Console

from care_api.services import Services, build_services
from care_api.usecases.intake.reports import record_device_report
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts, press, seed_elder
from vnh.demo_board import Feed, board, read_board


@pytest.fixture
def services(db_url: str, clock: FakeClock) -> Iterator[Services]:
    """A Chinese centre, as the demo runs by default."""
    svc = build_services(make_settings(db_url, language="zh-CN"), clock=clock)
    yield svc
    svc.close()


def _press_and_alert(services: Services) -> str:
    """An emergency press of 张秀英's, its ladder's first step sent to the outbox."""
    alerts = outbox_alerts(services)
    try:
        outcome = record_device_report(
            services.uow, press(pattern="long"), now=services.clock.now(), tz=services.tz
        )
        alerts.run_pending()
    finally:
        alerts.stop()
    assert outcome.case_id is not None
    return outcome.case_id


def _drawn(group: object) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(group)
    return console.export_text()


def test_board_speaks_the_centre_language_and_english_on_request(services: Services) -> None:
    seed_elder(services, name="张秀英", contacts=1)
    case_id = _press_and_alert(services)
    with services.uow() as uow:
        zh_cases, zh_notes = read_board(uow.session, "zh-CN")
        en_cases, en_notes = read_board(uow.session, "en")
    now = services.clock.now() + timedelta(seconds=12)

    zh = _drawn(board("zh-CN", "头", zh_cases, zh_notes, now))
    assert "案件（最新在前）" in zh and "消息（发件箱）" in zh
    assert case_id in zh and "张秀英" in zh and "紧急求助（主键长按）" in zh
    assert "已派发" in zh and "12秒" in zh and "短信" in zh and "排队中" in zh
    # The family's SMS as the family reads it: in the centre's language.
    assert "紧急" in next(n.body for n in zh_notes if n.channel == "sms")
    assert "Cases" not in zh and "dispatched" not in zh and "queued" not in zh

    en = _drawn(board("en", "head", en_cases, en_notes, now))
    assert "Cases (newest first)" in en and "dispatched" in en and "12 s" in en
    # The console's own line follows the reader; a message to a person stays as it was sent.
    assert "Emergency (main long press)" in en
    assert "紧急" in next(n.body for n in en_notes if n.channel == "sms")


def test_feed_prints_each_case_move_and_each_message_once(services: Services) -> None:
    feed = Feed("zh-CN", services.tz)
    seed_elder(services, name="张秀英", contacts=1)
    with services.uow() as uow:
        assert feed.lines(*read_board(uow.session, "zh-CN"), services.clock.now()) == []

    case_id = _press_and_alert(services)
    with services.uow() as uow:
        cases, notes = read_board(uow.session, "zh-CN")
    news = feed.lines(cases, notes, services.clock.now())
    # 08:00 UTC is 16:00 in Jinhua: the feed tells the centre's time.
    assert news[0] == f"16:00:00 案件{case_id}：紧急求助（主键长按），张秀英，已派发"
    assert len(news) == 1 + len(notes) and any("短信发给+8613900000000：" in n for n in news)
    # The console's audience is named as the centre says it, not by its key ("operators").
    assert any("坐席台发给值班接线员：" in n for n in news)
    assert not any("operators" in n for n in news)
    assert feed.lines(cases, notes, services.clock.now()) == [], "nothing new, nothing printed"
