"""The domain's errors; the HTTP layer maps each to one status code.

An error whose message is a `Msg` is answered in the reader's language; its English text is
what `str()` and the logs show.
"""

from __future__ import annotations

from care_api.domain.texts import Msg, state_word


class DomainError(Exception):
    """Root of every error the care domain raises on purpose."""


class NotFound(DomainError):
    """The thing asked for does not exist, or the caller may not know it exists."""


class Conflict(DomainError):
    """The request clashes with the current state (already provisioned, already taken…)."""


class InvalidInput(DomainError, ValueError):
    """The input breaks a rule (a bad keymap, a period too long): the caller's to fix.

    Also a ValueError, so pydantic validators that call the domain report it as a field error.
    """


class NotAllowed(DomainError):
    """The caller's role does not allow this."""


class IllegalTransition(Conflict):
    """A case cannot move from its state to the one asked for."""

    def __init__(self, case_id: str, from_state: str, to_state: str) -> None:
        super().__init__(
            Msg(
                "case {case_id} cannot go from {old} to {new}",
                case_id=case_id,
                old=state_word(from_state),
                new=state_word(to_state),
            )
        )
        self.case_id = case_id
        self.from_state = from_state
        self.to_state = to_state
