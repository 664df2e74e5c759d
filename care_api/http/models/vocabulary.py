"""API model of the console's vocabulary: case words, strategies, call and order states."""

from pydantic import BaseModel

from care_api.domain.dispatch import Strategy
from care_api.domain.model import CaseKind, CaseState, ServiceLine


class Vocabulary(BaseModel):
    """Every value a case's kind, line and state may take, in the order the console shows."""

    kinds: list[CaseKind]
    lines: list[ServiceLine]
    states: list[CaseState]
    unowned: list[CaseState]
    active: list[CaseState]
    awaiting_callback: list[CaseState]
    strategies: list[Strategy]
    call_over: list[str]  # a bridged call's states that are over (the console stops following)
    open_order_statuses: list[str]  # an order still with its merchant (no second one is sent)
