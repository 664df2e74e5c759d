import itertools

import pytest

from care_api.domain.cases import ALLOWED, check_transition, is_active, is_unowned
from care_api.domain.errors import IllegalTransition
from care_api.domain.model import CaseState as S


def test_cases_lifecycle_of_design_is_legal() -> None:
    path = [
        S.OPEN,
        S.DISPATCHED,
        S.ESCALATED,
        S.DISPATCHED,
        S.ACCEPTED,
        S.ON_SITE,
        S.RESOLVED,
        S.CLOSED,
    ]
    for a, b in itertools.pairwise(path):
        check_transition("C-1", a, b)


@pytest.mark.parametrize(
    ("a", "b"), [(S.CLOSED, S.OPEN), (S.RESOLVED, S.ACCEPTED), (S.ACCEPTED, S.CANCELLED)]
)
def test_cases_illegal_moves_raise(a: S, b: S) -> None:
    with pytest.raises(IllegalTransition, match="cannot go"):
        check_transition("C-1", a, b)


def test_cases_every_state_has_rules_and_closed_is_final() -> None:
    assert set(ALLOWED) == set(S)
    assert not ALLOWED[S.CLOSED]
    assert is_unowned(S.ESCALATED) and not is_unowned(S.ACCEPTED)
    assert is_active(S.ON_SITE) and not is_active(S.CANCELLED)
