"""The words the console draws with: case kinds, lines, states, strategies, call and order states.

Served from the domain's own enums and sets, so the console holds no second copy that
could drift when a kind, a state or a strategy is added.
"""

from fastapi import APIRouter

from care_api.domain.cases import ACTIVE, AWAITING_CALLBACK, UNOWNED
from care_api.domain.dispatch import Strategy
from care_api.domain.model import CaseKind, CaseState, ServiceLine
from care_api.http.deps import StaffDep
from care_api.http.models.vocabulary import Vocabulary
from care_api.usecases.cases.calls import FINAL_STATES
from care_api.usecases.dispatch.orders import OPEN_ORDER

router = APIRouter(prefix="/vocabulary", tags=["console"])


def _in_order(group: frozenset[CaseState]) -> list[CaseState]:
    return [state for state in CaseState if state in group]


@router.get("")
def get_vocabulary(_principal: StaffDep) -> Vocabulary:
    """Kinds, lines, states (unowned, active, awaiting a callback), calls over, open orders."""
    return Vocabulary(
        kinds=list(CaseKind),
        lines=list(ServiceLine),
        states=list(CaseState),
        unowned=_in_order(UNOWNED),
        active=_in_order(ACTIVE),
        awaiting_callback=_in_order(AWAITING_CALLBACK),
        strategies=list(Strategy),
        call_over=sorted(FINAL_STATES),  # a set: sorted, so the answer does not vary
        open_order_statuses=list(OPEN_ORDER),
    )
