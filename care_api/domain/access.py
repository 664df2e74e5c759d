"""Who may see and do what: pure rules over a principal."""

from __future__ import annotations

from dataclasses import dataclass, field

from care_api.domain.model import Role


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
