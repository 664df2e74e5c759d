"""Who may see and do what: pure rules over a principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from care_api.domain.cases import is_active
from care_api.domain.dispatch import may_take_orders
from care_api.domain.model import CaseKind, CaseState, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """A person behind a bearer token, as the rules need to know them."""

    role: Role
    name: str
    token_id: int | None = None  # None for the configured admin token
    subject_id: int | None = None  # the volunteer / merchant / contact this person is
    elder_ids: frozenset[int] = field(default_factory=frozenset)  # a caregiver's elders

    @property
    def actor(self) -> str:
        """How this person appears in case histories."""
        return f"{self.role}:{self.name}"


STAFF = frozenset({Role.ADMIN, Role.OPERATOR})


def is_staff(principal: Principal) -> bool:
    """Admins and operators see every case and elder."""
    return principal.role in STAFF


def may_read_elder(principal: Principal, elder_id: int) -> bool:
    """Staff read every profile; a caregiver only those of the elders they care for."""
    if is_staff(principal):
        return True
    return principal.role is Role.CAREGIVER and elder_id in principal.elder_ids


def may_see_medical_notes(principal: Principal, elder_id: int) -> bool:
    """Medical notes go to staff and the elder's own caregivers, never to merchants."""
    return may_read_elder(principal, elder_id)


# Time-limited disclosure: people outside the centre see an elder's details only while they
# have work to do there. Afterwards their task or order still shows the case, not the elder.


def volunteer_sees_elder(*, theirs: bool, case_state: CaseState) -> bool:
    """A volunteer sees name, address, phone and access while their task or emergency is open.

    `theirs`: they accepted the task, or took the emergency; the case must still be active
    (not resolved, closed or cancelled).
    """
    return theirs and is_active(case_state)


def volunteer_sees_medical_notes(*, kind: CaseKind, task_needs_medical: bool) -> bool:
    """On top of the above: medical notes when the task needs them, and in an emergency."""
    return task_needs_medical or kind is CaseKind.EMERGENCY


def merchant_sees_elder(
    *, order_open: bool, merchant_status: str, red_until: datetime | None, now: datetime
) -> bool:
    """A merchant sees name, address and phone only while the order with it is open.

    Never when red-carded (停单) or removed: such a merchant takes no orders, so it needs no
    elder's address either. Never medical notes or access.
    """
    return order_open and may_take_orders(merchant_status, red_until, now)
