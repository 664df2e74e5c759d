"""API models of a kind's escalation ladder: its steps and whom each one reaches."""

from pydantic import BaseModel, Field

from care_api.domain.channels import CHANNELS, Channel
from care_api.domain.model import CaseKind
from care_api.usecases.cases.ladders import (
    DEFAULT_REPEAT,
    DEFAULT_REPEAT_EVERY_S,
    MAX_AFTER_S,
    MAX_FLAG_CHARS,
    MAX_LIMIT,
    MAX_REPEAT,
    MAX_STEPS,
    MIN_REPEAT_EVERY_S,
    Audience,
    Ladder,
    ladder_to_data,
)


class LadderTarget(BaseModel):
    """Who a step tells and on which channels (console audiences: ["console"] only)."""

    audience: Audience
    channels: list[Channel] = Field(min_length=1, max_length=len(CHANNELS))
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)


class LadderStep(BaseModel):
    """One rung: `after_s` seconds after the previous one (0 for the first)."""

    after_s: int = Field(ge=0, le=MAX_AFTER_S)
    notify: list[LadderTarget] = Field(default_factory=list, max_length=20)
    flag: str | None = Field(default=None, min_length=1, max_length=MAX_FLAG_CHARS)


class LadderIn(BaseModel):
    """A whole ladder; it replaces the one in force for the kind.

    The last step runs again every `repeat_every_s` seconds, at most `repeat` times, until
    someone takes the case (0: it runs once).
    """

    steps: list[LadderStep] = Field(min_length=1, max_length=MAX_STEPS)
    repeat: int = Field(default=DEFAULT_REPEAT, ge=0, le=MAX_REPEAT)
    repeat_every_s: int = Field(
        default=DEFAULT_REPEAT_EVERY_S, ge=MIN_REPEAT_EVERY_S, le=MAX_AFTER_S
    )


class LadderPublic(BaseModel):
    """The ladder in force for a kind, and whether it is still the built-in default."""

    kind: CaseKind
    default: bool
    steps: list[LadderStep]
    repeat: int
    repeat_every_s: int

    @classmethod
    def of(cls, ladder: Ladder, *, default: bool) -> "LadderPublic":
        """The API form of a ladder."""
        steps = [LadderStep.model_validate(s) for s in ladder_to_data(ladder)]
        return cls(
            kind=ladder.kind,
            default=default,
            steps=steps,
            repeat=ladder.repeat,
            repeat_every_s=ladder.repeat_every_s,
        )
