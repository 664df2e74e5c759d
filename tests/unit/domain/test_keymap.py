import pytest

from care_api.domain.keymap import case_kind_for_press, validate_keymap
from care_api.domain.model import CaseKind


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
