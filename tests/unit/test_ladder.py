"""The ladder's pure rules: who is told what at each step, and when the next step is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.ladder import (
    Action,
    CaseFacts,
    Flag,
    Notify,
    Recipient,
    Schedule,
    Unreached,
    plan,
    split_contacts,
)
from care_api.domain.model import CaseKind
from care_api.usecases.cases.ladders import (
    DEFAULT_LADDERS,
    Audience,
    InvalidLadder,
    ladder_from_data,
    ladder_to_data,
)

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
EMERGENCY = DEFAULT_LADDERS[CaseKind.EMERGENCY]
FACTS = CaseFacts(
    "C-20261122-0007",
    CaseKind.EMERGENCY,
    "Emergency (main long press)",
    "Wang Fang",
    "12 Bamboo Lane",
)
DAUGHTER = Recipient("contact:1", "Li Na", "+8613900000001", priority=1)
SON = Recipient("contact:2", "Li Wei", "+8613900000002", priority=2)
NEIGHBOUR = Recipient("contact:3", "Zhao", "+8613900000003", priority=3)
SUPERVISOR = Recipient("supervisor", "the supervisor", "+8613700000000")


def test_plan_writes_each_alert_in_the_recipients_language() -> None:
    english = Recipient("contact:1", "Tom", "+447911123456", priority=1, language="en")
    actions = plan(EMERGENCY, 0, FACTS, [english], NOW)
    sms = next(a for a in actions if isinstance(a, Notify) and a.channel == "sms")
    assert sms.body.startswith("EMERGENCY C-20261122-0007: Wang Fang at 12 Bamboo Lane")
    assert sms.language == "en"


def notes(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.channel, a.recipient) for a in actions if isinstance(a, Notify)]


def test_plan_emergency_step0_first_contact_sms_voice_console_and_step1_in_2_min() -> None:
    actions = plan(EMERGENCY, 0, FACTS, [SON, DAUGHTER, NEIGHBOUR], NOW)

    assert notes(actions) == [
        ("sms", "contact:1"),
        ("voice", "contact:1"),
        ("console", "operators"),
    ]
    assert Schedule(1, NOW + timedelta(minutes=2)) in actions
    sms = next(a for a in actions if isinstance(a, Notify) and a.channel == "sms")
    assert sms.to == DAUGHTER.phone
    # A person with no language of their own reads the default, Chinese.
    assert "Wang Fang" in sms.body and "12 Bamboo Lane" in sms.body and "回复1接单" in sms.body
    assert sms.language == "zh-CN"
    voice = next(a for a in actions if isinstance(a, Notify) and a.channel == "voice")
    assert voice.say is not None and "Wang Fang" in voice.say


def test_plan_emergency_step1_the_other_contacts_and_step2_in_5_min() -> None:
    actions = plan(EMERGENCY, 1, FACTS, [DAUGHTER, SON, NEIGHBOUR], NOW)

    assert notes(actions) == [
        ("sms", "contact:2"),
        ("voice", "contact:2"),
        ("sms", "contact:3"),
        ("voice", "contact:3"),
        ("console", "operators"),
    ]
    assert Schedule(2, NOW + timedelta(minutes=5)) in actions


def test_plan_emergency_volunteers_hook_people_are_limited_to_five() -> None:
    volunteers = [Recipient(f"volunteer:{i}", f"V{i}", f"+86136000000{i:02d}") for i in range(8)]
    actions = plan(EMERGENCY, 1, FACTS, [DAUGHTER], NOW, others={"volunteers_nearest": volunteers})

    assert [r for c, r in notes(actions) if r.startswith("volunteer")] == [
        f"volunteer:{i}" for i in range(5)
    ]


def test_plan_emergency_step2_supervisor_and_call_120_and_no_further_step() -> None:
    actions = plan(EMERGENCY, 2, FACTS, [DAUGHTER], NOW, others={"supervisor": [SUPERVISOR]})

    assert notes(actions) == [
        ("sms", "supervisor"),
        ("voice", "supervisor"),
        ("console", "operators"),
    ]
    assert Flag("call 120") in actions
    console = next(a for a in actions if isinstance(a, Notify) and a.channel == "console")
    assert "CALL 120" in console.body
    assert [a for a in actions if isinstance(a, Schedule)] == [
        Schedule(3, NOW + timedelta(minutes=5))
    ]


def test_plan_the_last_step_repeats_every_5_min_three_times_then_stops() -> None:
    supervisor = {"supervisor": [SUPERVISOR]}
    for step, repeat in [(3, 1), (4, 2), (5, 3)]:
        actions = plan(EMERGENCY, step, FACTS, [DAUGHTER], NOW, others=supervisor)
        assert notes(actions) == [
            ("sms", "supervisor"),
            ("voice", "supervisor"),
            ("console", "operators"),
        ]
        assert Flag("call 120") in actions
        console = next(a for a in actions if isinstance(a, Notify) and a.channel == "console")
        assert f"step 2 (repeat {repeat} of 3); CALL 120" in console.body
        follow = [a for a in actions if isinstance(a, Schedule)]
        assert follow == ([Schedule(step + 1, NOW + timedelta(minutes=5))] if repeat < 3 else [])


def test_plan_past_the_last_repeat_does_nothing() -> None:
    assert plan(EMERGENCY, 6, FACTS, [DAUGHTER], NOW) == []
    assert plan(DEFAULT_LADDERS[CaseKind.DEVICE], 1, FACTS, [DAUGHTER], NOW) == []


def test_plan_without_contacts_still_tells_the_console() -> None:
    assert notes(plan(EMERGENCY, 0, FACTS, [], NOW)) == [("console", "operators")]


def test_plan_a_step_that_finds_nobody_to_call_hands_on_at_once_and_says_why() -> None:
    why = {"volunteers_nearest": "no volunteer within 12 km"}
    actions = plan(EMERGENCY, 1, FACTS, [DAUGHTER], NOW, why_nobody=why)

    assert Unreached(("no other contacts", "no volunteer within 12 km")) in actions
    assert Schedule(2, NOW) in actions
    [console] = [a for a in actions if isinstance(a, Notify)]
    assert "nobody to call: no other contacts, no volunteer within 12 km, next step now" in (
        console.body
    )
    no_contacts = plan(EMERGENCY, 0, FACTS, [], NOW)
    assert Unreached(("no contacts on record",)) in no_contacts
    assert Schedule(1, NOW) in no_contacts


def test_plan_a_step_that_reaches_someone_keeps_its_wait() -> None:
    volunteer = Recipient("volunteer:1", "V1", "+8613600000001")
    actions = plan(EMERGENCY, 1, FACTS, [DAUGHTER], NOW, others={"volunteers_nearest": [volunteer]})

    assert not any(isinstance(a, Unreached) for a in actions)
    assert Schedule(2, NOW + timedelta(minutes=5)) in actions


def test_plan_same_phone_twice_gets_one_message_per_channel() -> None:
    twin = Recipient("contact:9", "Li Na again", DAUGHTER.phone, priority=1)
    assert notes(plan(EMERGENCY, 0, FACTS, [DAUGHTER, twin], NOW)) == [
        ("sms", "contact:1"),
        ("voice", "contact:1"),
        ("console", "operators"),
    ]


def test_plan_device_case_informs_first_contact_by_sms_and_the_technician() -> None:
    facts = CaseFacts("C-1", CaseKind.DEVICE, "Terminal problem (battery low)", "Wang Fang", "x")
    actions = plan(DEFAULT_LADDERS[CaseKind.DEVICE], 0, facts, [DAUGHTER, SON], NOW)

    assert notes(actions) == [("sms", "contact:1"), ("console", "technician")]
    assert "Reply" not in next(a for a in actions if isinstance(a, Notify)).body


@pytest.mark.parametrize("kind", [CaseKind.SERVICE, CaseKind.CARE, CaseKind.CONSULT])
def test_plan_service_care_consult_go_to_the_operator_console(kind: CaseKind) -> None:
    facts = CaseFacts("C-1", kind, "Service request (main single press)", "Wang Fang", "x")
    assert notes(plan(DEFAULT_LADDERS[kind], 0, facts, [DAUGHTER], NOW)) == [
        ("console", "operators")
    ]


def test_split_contacts_first_rank_may_hold_several() -> None:
    split = split_contacts([NEIGHBOUR, Recipient("contact:4", "Wu", "+861", 3), SON])
    assert [c.key for c in split[Audience.CONTACTS_FIRST]] == ["contact:2"]
    assert [c.key for c in split[Audience.CONTACTS_REST]] == ["contact:3", "contact:4"]


def test_ladder_data_round_trips_for_every_default() -> None:
    for kind, ladder in DEFAULT_LADDERS.items():
        again = ladder_from_data(
            kind, ladder_to_data(ladder), repeat=ladder.repeat, repeat_every_s=ladder.repeat_every_s
        )
        assert again == ladder


@pytest.mark.parametrize(
    ("repeat", "every", "message"),
    [
        (-1, 300, "repeat must"),
        (21, 300, "repeat must"),
        (True, 300, "repeat must"),
        (3, 10, "repeat_every_s"),
        (3, "300", "repeat_every_s"),
    ],
)
def test_ladder_from_data_rejects_unfit_repeats(
    repeat: object, every: object, message: str
) -> None:
    steps = ladder_to_data(EMERGENCY)
    with pytest.raises(InvalidLadder, match=message):
        ladder_from_data(CaseKind.EMERGENCY, steps, repeat=repeat, repeat_every_s=every)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least one step"),
        ([{"after_s": 60, "notify": [{"audience": "operators", "channels": ["console"]}]}], "0"),
        ([{"after_s": 0, "notify": [{"audience": "operators", "channels": ["sms"]}]}], "console"),
        ([{"after_s": 0, "notify": [{"audience": "contacts_first", "channels": ["fax"]}]}], "sms"),
        ([{"after_s": 0, "notify": [{"audience": "aliens", "channels": ["sms"]}]}], "audience"),
        ([{"after_s": 0, "notify": []}], "tells nobody"),
        ([{"after_s": -1, "notify": [], "flag": "x"}], "between"),
    ],
)
def test_ladder_from_data_rejects_unfit_ladders(steps: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InvalidLadder, match=message):
        ladder_from_data(CaseKind.EMERGENCY, steps)
