"""API models of the answer-time figures in the KPI report."""

from typing import Self

from pydantic import BaseModel

from care_api.domain.answer_times import AnswerFigures, AnswerTimes, ShiftHours


class AnswerFiguresPublic(BaseModel):
    """Emergencies of one group: shares answered in 60 s / 180 s, time to "on site"."""

    emergencies: int
    answered: int
    within_60s: float | None  # share of emergencies a person acknowledged within 60 s
    within_180s: float | None
    on_site: int
    on_site_p50_s: float | None  # from the press to the owner's "on site"
    on_site_p90_s: float | None

    @classmethod
    def of(cls, figures: AnswerFigures) -> Self:
        """The API form of one group's figures."""
        return cls(
            emergencies=figures.emergencies,
            answered=figures.answered,
            within_60s=figures.within[60],
            within_180s=figures.within[180],
            on_site=figures.on_site,
            on_site_p50_s=figures.on_site_p50_s,
            on_site_p90_s=figures.on_site_p90_s,
        )


class AnswerTimesPublic(AnswerFiguresPublic):
    """All emergencies of the period, the targets, and the same per district and shift."""

    target_60s: float
    target_180s: float
    by_district: dict[str, AnswerFiguresPublic]  # "" for elders with no district
    by_shift: dict[str, AnswerFiguresPublic]  # "day" | "night", by the time of the answer
    shifts: dict[str, int]  # the local hour each shift starts

    @classmethod
    def build(cls, times: AnswerTimes, hours: ShiftHours) -> Self:
        """The API form of the figures."""
        return cls(
            **dict(AnswerFiguresPublic.of(times.overall)),
            target_60s=times.targets[60],
            target_180s=times.targets[180],
            by_district={d: AnswerFiguresPublic.of(f) for d, f in times.by_district.items()},
            by_shift={s: AnswerFiguresPublic.of(f) for s, f in times.by_shift.items()},
            shifts={"day": hours.day_start, "night": hours.night_start},
        )
