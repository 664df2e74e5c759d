"""API models of a spreadsheet import's report: what was added and what was refused."""

from __future__ import annotations

from pydantic import BaseModel

from care_api.usecases.onboarding.imports import ImportKind, ImportReport


class ProblemPublic(BaseModel):
    """One bad row: its number as the spreadsheet shows it (header = 1), the column, why."""

    row: int
    column: str
    reason: str


class TerminalSecret(BaseModel):
    """The secret of a terminal the import registered (shown once, to be set in the device)."""

    device_id: str
    secret: str


class ImportReportPublic(BaseModel):
    """What the file adds (or added, when committed) and every bad row."""

    kind: ImportKind
    rows: int
    new: int
    unchanged: int
    new_contacts: int
    new_terminals: int
    committed: bool
    problems: list[ProblemPublic]
    secrets: list[TerminalSecret]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportPublic:
        """The API's view of a report."""
        return cls(
            kind=report.kind,
            rows=report.rows,
            new=report.new,
            unchanged=report.unchanged,
            new_contacts=report.new_contacts,
            new_terminals=report.new_terminals,
            committed=report.committed,
            problems=[
                ProblemPublic(row=p.row, column=p.column, reason=p.reason) for p in report.problems
            ],
            secrets=[TerminalSecret(device_id=d, secret=s) for d, s in report.secrets],
        )
