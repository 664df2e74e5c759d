"""Districts of a simulated centre: each with its elders, box, volunteers and merchants.

A scenario with one `[district]` table is one unnamed district (as before); `[[district]]`
tables (or `districts = [...]`) give several, each named, and the KPI's answer times are
then shown per district and shift. A key a district leaves out keeps the scenario's default;
volunteers and merchants left out are shared out evenly from `[volunteers]`/`[merchants]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from care_api.domain.errors import InvalidInput
from care_api.domain.volunteering import validate_availability

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class District:
    """One district's people and where they live."""

    name: str
    elders: int
    box: tuple[float, float, float, float]
    family_share: float
    family_count: int
    languages: Mapping[str, float]
    volunteers: int
    merchants: int
    # Volunteers' weekly hours (weekday → ["08:00-20:00", …]); None: every hour.
    volunteer_hours: Mapping[str, Sequence[str]] | None = field(default=None)

    def check(self) -> None:
        """InvalidInput when a count, share or box cannot be one."""
        where = f"district {self.name!r}" if self.name else "[district]"
        if min(self.elders, self.family_count, self.volunteers, self.merchants) < 0:
            raise InvalidInput(f"{where}: counts must not be negative")
        if not 0.0 <= self.family_share <= 1.0:
            raise InvalidInput(f"{where}: shares and answer rates must lie between 0 and 1")
        if len(self.box) != 4:
            raise InvalidInput(f"{where}: box is [lat_min, lon_min, lat_max, lon_max]")


def hours_of(raw: object) -> dict[str, list[str]] | None:
    """Volunteers' hours: a list of spans for every day, or a weekday table; None: always."""
    if raw is None:
        return None
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        return validate_availability({day: [str(s) for s in raw] for day in WEEK})
    if isinstance(raw, Mapping):
        return validate_availability({str(k): [str(s) for s in v] for k, v in raw.items()})
    raise InvalidInput('volunteer hours: a list of spans ("08:00-20:00") or a weekday table')


def _shares(total: int, parts: int) -> list[int]:
    # An even split, the remainder going to the first districts.
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def districts_of(
    data: Mapping[str, Any],
    base: District,
    *,
    volunteers: int,
    merchants: int,
) -> tuple[District, ...]:
    """The districts of a scenario's data: one from `[district]`, or each of `[[district]]`.

    `base` holds the defaults; `volunteers`/`merchants` the totals of `[volunteers]` and
    `[merchants]`, shared out among districts that do not give their own.
    """
    raw = data.get("districts", data.get("district", {}))
    one = isinstance(raw, Mapping)
    tables: Sequence[Mapping[str, Any]] = [raw] if one else raw
    if not isinstance(tables, Sequence) or not tables:
        raise InvalidInput("[[district]] needs at least one district")
    vols, shops = _shares(volunteers, len(tables)), _shares(merchants, len(tables))
    out = []
    names: set[str] = set()
    for i, d in enumerate(tables):
        if not isinstance(d, Mapping):
            raise InvalidInput("each district must be a table")
        name = "" if one else str(d.get("name", f"district {i + 1}"))
        if name in names:
            raise InvalidInput(f"district {name!r} is given twice")
        names.add(name)
        hours = d.get("volunteer_hours", base.volunteer_hours)
        district = District(
            name=name,
            elders=int(d.get("elders", base.elders)),
            box=tuple(float(x) for x in d.get("box", base.box)),  # type: ignore[arg-type]
            family_share=float(d.get("family_share", base.family_share)),
            family_count=int(d.get("family_count", base.family_count)),
            languages={str(k): float(v) for k, v in d.get("languages", base.languages).items()},
            volunteers=int(d.get("volunteers", vols[i])),
            merchants=int(d.get("merchants", shops[i])),
            volunteer_hours=hours_of(hours),
        )
        district.check()
        out.append(district)
    return tuple(out)
