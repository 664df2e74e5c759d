import pytest

from care_api.domain.keymap import PressRoute, case_kind_for_press, route_press, validate_keymap
from care_api.domain.lines import check_line
from care_api.domain.model import CaseKind, ServiceLine


@pytest.mark.parametrize(
    ("button", "pattern", "kind"),
    [
        ("main", "long", CaseKind.EMERGENCY),
        ("main", "single", CaseKind.SERVICE),
        ("main", "double", CaseKind.CARE),
        ("main", "triple", CaseKind.EMERGENCY),
        ("sos", "single", CaseKind.EMERGENCY),
        ("sos", "long", CaseKind.EMERGENCY),
    ],
)
def test_keymap_default_table_of_protocol(button: str, pattern: str, kind: CaseKind) -> None:
    assert case_kind_for_press(button, pattern) is kind


def test_keymap_unknown_button_reads_as_main() -> None:
    assert case_kind_for_press("call", "double") is CaseKind.CARE


def test_keymap_elder_override_every_press_is_emergency() -> None:
    assert case_kind_for_press("main", "single", {"*": "emergency"}) is CaseKind.EMERGENCY


def test_keymap_override_specific_key_beats_wildcard() -> None:
    override = {"*": "emergency", "main:double": "care"}
    assert case_kind_for_press("main", "double", override) is CaseKind.CARE
    assert case_kind_for_press("main", "single", override) is CaseKind.EMERGENCY


@pytest.mark.parametrize("bad", [{"main": "care"}, {"main:single": "party"}, {":x": "care"}])
def test_keymap_validation_refuses_bad_overrides(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        validate_keymap(bad)


# (button, pattern) → (kind, line): PROTOCOL.md's rows keep their kinds and gain a line;
# the added rows reach the other lines from a terminal with a key per line.
ROUTES = [
    ("main", "long", CaseKind.EMERGENCY, ServiceLine.EMERGENCY),
    ("main", "triple", CaseKind.EMERGENCY, ServiceLine.EMERGENCY),
    ("main", "single", CaseKind.SERVICE, ServiceLine.LIFE_CARE),
    ("main", "double", CaseKind.CARE, ServiceLine.LIFE_CARE),
    ("sos", "single", CaseKind.EMERGENCY, ServiceLine.EMERGENCY),
    ("emergency", "long", CaseKind.EMERGENCY, ServiceLine.EMERGENCY),
    ("life", "single", CaseKind.SERVICE, ServiceLine.LIFE_CARE),
    ("life_care", "double", CaseKind.SERVICE, ServiceLine.LIFE_CARE),
    ("medical", "single", CaseKind.CARE, ServiceLine.MEDICAL),
    ("legal", "single", CaseKind.CONSULT, ServiceLine.LEGAL),
    ("legal", "long", CaseKind.CONSULT, ServiceLine.LEGAL),
    ("care_home", "double", CaseKind.CONSULT, ServiceLine.CARE_HOME),
]


@pytest.mark.parametrize(("button", "pattern", "kind", "line"), ROUTES)
def test_keymap_default_routes_reach_all_five_lines(
    button: str, pattern: str, kind: CaseKind, line: ServiceLine
) -> None:
    assert route_press(button, pattern) == PressRoute(kind, line)


def test_keymap_default_reaches_every_line() -> None:
    assert {line for *_, line in ROUTES} == set(ServiceLine)


def test_keymap_unknown_button_reads_as_main_with_its_line() -> None:
    assert route_press("call", "single") == PressRoute(CaseKind.SERVICE, ServiceLine.LIFE_CARE)


def test_keymap_override_may_name_a_line() -> None:
    override = {"main:double": "medical", "main:single": "consult"}
    assert route_press("main", "double", override) == PressRoute(CaseKind.CARE, ServiceLine.MEDICAL)
    # A bare kind keeps the kind's default line; a consultation has none until classified.
    assert route_press("main", "single", override) == PressRoute(CaseKind.CONSULT, None)
    assert validate_keymap(override) == {
        "main:double": ServiceLine.MEDICAL,
        "main:single": CaseKind.CONSULT,
    }


@pytest.mark.parametrize(
    ("kind", "line", "ok"),
    [
        (CaseKind.CONSULT, ServiceLine.LEGAL, True),
        (CaseKind.CARE, ServiceLine.MEDICAL, True),
        (CaseKind.CONSULT, None, True),
        (CaseKind.DEVICE, None, True),
        (CaseKind.CARE, ServiceLine.LEGAL, False),
        (CaseKind.EMERGENCY, ServiceLine.LIFE_CARE, False),
        (CaseKind.EMERGENCY, None, False),
    ],
)
def test_lines_check_line_refuses_a_kind_not_of_the_line(
    kind: CaseKind, line: ServiceLine | None, ok: bool
) -> None:
    if ok:
        check_line(kind, line)
    else:
        with pytest.raises(ValueError, match="line"):
            check_line(kind, line)
