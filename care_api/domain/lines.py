"""The five service lines: which case kinds serve each, and the line a kind has by default."""

from __future__ import annotations

from collections.abc import Mapping

from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind, ServiceLine
from care_api.domain.texts import Msg, joined, term

# The kinds a line's cases may have; the first is what a press or a filing naming only the
# line opens. Medical nursing is done by volunteers (care) or nursing merchants (service).
LINE_KINDS: Mapping[ServiceLine, tuple[CaseKind, ...]] = {
    ServiceLine.EMERGENCY: (CaseKind.EMERGENCY,),
    ServiceLine.LIFE_CARE: (CaseKind.SERVICE, CaseKind.CARE),
    ServiceLine.MEDICAL: (CaseKind.CARE, CaseKind.SERVICE),
    ServiceLine.LEGAL: (CaseKind.CONSULT,),
    ServiceLine.CARE_HOME: (CaseKind.CONSULT,),
}
# Kinds that may stand on no line: a terminal problem, and a consultation not yet classified.
LINELESS_KINDS = frozenset({CaseKind.CONSULT, CaseKind.DEVICE})
_DEFAULT_LINE: Mapping[CaseKind, ServiceLine] = {
    CaseKind.EMERGENCY: ServiceLine.EMERGENCY,
    CaseKind.SERVICE: ServiceLine.LIFE_CARE,
    CaseKind.CARE: ServiceLine.LIFE_CARE,
}


def default_line(kind: CaseKind) -> ServiceLine | None:
    """The line a case of `kind` is on when nobody said: None for consultations and terminals."""
    return _DEFAULT_LINE.get(kind)


def kind_for_line(line: ServiceLine) -> CaseKind:
    """The kind a case opened for `line` alone has (legal → consult, medical → care)."""
    return LINE_KINDS[line][0]


def fits(kind: CaseKind, line: ServiceLine | None) -> bool:
    """True when a case of `kind` may be on `line` (None: on no line)."""
    return kind in LINELESS_KINDS if line is None else kind in LINE_KINDS[line]


def check_line(kind: CaseKind, line: ServiceLine | None) -> None:
    """Refuse a kind and line that do not go together (a legal matter is a consult).

    Raises:
        ValueError: they do not.
    """
    if fits(kind, line):
        return
    if line is None:
        raise InvalidInput(Msg("a {kind} case needs a service line", kind=term(kind)))
    raise InvalidInput(
        Msg(
            "a case on the {line} line is one of {allowed}, not {kind}",
            line=term(line),
            allowed=joined([term(k) for k in LINE_KINDS[line]]),
            kind=term(kind),
        )
    )
