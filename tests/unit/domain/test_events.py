from care_api.domain.events import CaseOpened, DomainEvent, EventBus
from care_api.domain.model import CaseKind


def test_events_unsubscribed_handler_hears_nothing_more() -> None:
    bus = EventBus()
    heard: list[DomainEvent] = []
    bus.subscribe(CaseOpened, heard.append)
    event = CaseOpened("C-1", CaseKind.EMERGENCY, 1, "T1001")
    bus.publish(event)
    bus.unsubscribe(CaseOpened, heard.append)
    bus.publish(event)
    bus.unsubscribe(CaseOpened, heard.append)  # a second time is harmless
    assert heard == [event]
