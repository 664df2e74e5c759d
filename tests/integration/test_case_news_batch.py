"""Case news taken many at a time: each event still gets its own news, in order."""

from __future__ import annotations

from care_api.services import Services
from care_api.usecases.intake.batch import record_presses
from device_gateway.downlink import CaseNewsSender
from device_gateway.protocol.model import CaseNews
from tests.helpers import press, seed_elder


class RecordingRoute:
    def __init__(self) -> None:
        self.sent: list[tuple[str, CaseNews]] = []

    def downlink_for(self, _device_id: str) -> RecordingRoute:
        return self

    def send_news(self, device_id: str, news: CaseNews) -> None:
        self.sent.append((device_id, news))


def test_case_news_of_a_press_batch_reach_each_terminal_in_order_and_language(
    services: Services,
) -> None:
    seed_elder(services, "T1", name="张秀英", language="zh-CN")
    seed_elder(services, "T2", name="Tom")  # no language of his own: the centre's (English)
    route = RecordingRoute()
    sender = CaseNewsSender(services, route)  # type: ignore[arg-type]
    sender.start()
    try:
        # While the intake is busy the sender waits, so it takes the batch's news together.
        with services.intake.busy():
            outcomes = record_presses(
                services.uow,
                [
                    press("T1", seq=1, pattern="single"),
                    press("T2", seq=1, pattern="single"),
                    press("T1", seq=2, pattern="single"),  # pressed again: news again
                    press("T2", seq=2, pattern="single"),
                ],
                now=services.clock.now(),
                tz=services.tz,
            )
    finally:
        sender.stop()  # sends what is queued first
    cases = [o.case_id for o in outcomes]
    assert cases[0] == cases[2] and cases[1] == cases[3] and cases[0] != cases[1]
    assert [(device, news.case, news.state) for device, news in route.sent] == [
        ("T1", cases[0], "open"),
        ("T2", cases[1], "open"),
        ("T1", cases[0], "open"),
        ("T2", cases[1], "open"),
    ]
    says = [news.say for _, news in route.sent]
    assert says == ["您的呼叫已收到", "Your call is received"] * 2
