"""The escalation ladder's rules, pure: who is told what at each step, and when the next is due.

`plan` turns a ladder (data, see care_api.usecases.cases.ladders), the facts of a case and the
people around it into actions; escalation.py writes them as rows. No I/O happens here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from care_api.domain.channels import AddressKind, Channel, reach
from care_api.domain.model import CaseKind
from care_api.domain.texts import N_, Msg, joined, term
from care_api.i18n import language_of, t, tn
from care_api.usecases.cases.ladders import CONSOLE, CONSOLE_AUDIENCES, Audience, Ladder, Target

CONTACT_AUDIENCES = frozenset(
    {Audience.CONTACTS_FIRST, Audience.CONTACTS_REST, Audience.CONTACTS_ALL}
)


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person who can be alerted: `key` is how the case history names them ("contact:3")."""

    key: str
    name: str
    phone: str
    priority: int = 1
    language: str | None = None  # of what they read and hear; None: the centre's default
    # Addresses besides the phone, by AddressKind value ({"wechat_openid": "o6_bm…"}).
    addresses: Mapping[str, str] = field(default_factory=dict)
    preferred: str | None = None  # the channel to reach them on first, where set

    def reach(self, channels: Sequence[str]) -> list[tuple[str, str]]:
        """The (channel, address) pairs of `channels` this person is reached on."""
        addresses = dict(self.addresses)
        if self.phone:
            addresses[AddressKind.phone.value] = self.phone
        return reach(channels, addresses, self.preferred)


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What messages say about a case."""

    case_id: str
    kind: CaseKind
    summary: str
    elder_name: str
    address: str
    elder_phone: str = ""


@dataclass(frozen=True, slots=True)
class Notify:
    """Write (then send) one message on a `Channel` ("sms", "voice", "wechat", "console")."""

    channel: str
    recipient: str
    to: str
    body: str
    say: str | None = None
    language: str | None = None  # of `body` and `say`


@dataclass(frozen=True, slots=True)
class Schedule:
    """The next step of the ladder falls due at `due_at` unless someone acknowledges first."""

    step: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Flag:
    """The console must show `text` prominently ("call 120"); recorded in the case history."""

    text: str


@dataclass(frozen=True, slots=True)
class Unreached:
    """The step reached nobody by phone, for these reasons; the next step is due at once."""

    reasons: tuple[str, ...]


Action = Notify | Schedule | Flag | Unreached

NO_CONTACTS = Msg("no contacts on record")
NO_OTHER_CONTACTS = Msg("no other contacts")
NO_SUPERVISOR = Msg("no supervisor on duty or set")
NO_VOLUNTEER = Msg("no volunteer near")


def plan(
    ladder: Ladder,
    step: int,
    facts: CaseFacts,
    contacts: Sequence[Recipient],
    now: datetime,
    *,
    others: Mapping[str, Sequence[Recipient]] | None = None,
    why_nobody: Mapping[str, str] | None = None,
) -> list[Action]:
    """The actions of `step` of `ladder` for one case; [] past the last step's last repeat.

    Steps past the last rung are its repeats, each `repeat_every_s` after the one before.

    A step meant to reach people by phone that finds nobody to call hands on: the next step
    is due at once (not `after_s` later), and the console line and an `Unreached` say why.

    Args:
        ladder: The ladder of the case's kind.
        step: Which rung is due (0 when the case opens).
        facts: The case as messages describe it.
        contacts: The elder's contacts that may be paged, any order; their `priority`
            decides first and rest.
        now: When the step runs; the next step is due `after_s` later.
        others: People of the audiences resolved elsewhere (volunteers_nearest, supervisor),
            by audience name, nearest or most relevant first.
        why_nobody: Why an audience resolved elsewhere found nobody ("no volunteer within
            12 km"), by audience name; a generic reason otherwise.
    """
    if not 0 <= step <= ladder.final_step:
        return []
    index, repeat = ladder.rung_of(step)
    rung = ladder.steps[index]
    alerts: list[list[Notify]] = []
    seen: set[tuple[str, str]] = set()
    reasons: list[str] = []
    for target in rung.notify:
        alerts.append([])
        if target.audience in CONSOLE_AUDIENCES:
            continue
        people = _audience(target, contacts, others or {})
        if not people:
            reason = _why_nobody(target.audience, contacts, why_nobody or {})
            if reason not in reasons:
                reasons.append(reason)
        for person in people:
            for channel, address in person.reach(target.channels):
                if (channel, address) in seen:
                    continue
                seen.add((channel, address))
                alerts[-1].append(_alert(channel, person, address, facts, step))
    # A rung for the console alone is the operators' turn and keeps its wait; a rung for
    # people that finds no phone to ring must not hold the elder's alarm for minutes.
    unreached = tuple(reasons) if reasons and not any(alerts) else ()
    has_next = index < ladder.last_rung  # a repeat of the last rung keeps its own pace
    actions: list[Action] = []
    console_told = False
    for target, made in zip(rung.notify, alerts, strict=True):
        if target.audience in CONSOLE_AUDIENCES:
            body = console_text(
                facts,
                step=index,
                flag=rung.flag,
                unreached=unreached,
                handed_on=has_next,
                repeat=(repeat, ladder.repeat),
            )
            actions.append(Notify(CONSOLE, target.audience.value, target.audience.value, body))
            console_told = True
        actions.extend(made)
    if unreached and not console_told:
        operators = Audience.OPERATORS.value
        body = console_text(
            facts,
            step=index,
            flag=rung.flag,
            unreached=unreached,
            handed_on=has_next,
            repeat=(repeat, ladder.repeat),
        )
        actions.append(Notify(CONSOLE, operators, operators, body))
    if rung.flag:
        actions.append(Flag(rung.flag))
    if unreached:
        actions.append(Unreached(unreached))
    if has_next:
        wait = 0 if unreached else ladder.steps[index + 1].after_s
        actions.append(Schedule(step + 1, now + timedelta(seconds=wait)))
    elif step < ladder.final_step:
        actions.append(Schedule(step + 1, now + timedelta(seconds=ladder.repeat_every_s)))
    return actions


def _why_nobody(
    audience: Audience, contacts: Sequence[Recipient], why_nobody: Mapping[str, str]
) -> str:
    if audience in CONTACT_AUDIENCES:
        return NO_OTHER_CONTACTS if contacts else NO_CONTACTS
    if audience.value in why_nobody:
        return why_nobody[audience.value]
    if audience is Audience.SUPERVISOR:
        return NO_SUPERVISOR
    if audience is Audience.VOLUNTEERS_NEAREST:
        return NO_VOLUNTEER
    return Msg("nobody in {audience}", audience=audience.value)


def _audience(
    target: Target, contacts: Sequence[Recipient], others: Mapping[str, Sequence[Recipient]]
) -> list[Recipient]:
    if target.audience in CONTACT_AUDIENCES:
        people = split_contacts(contacts)[target.audience]
    else:
        people = list(others.get(target.audience.value, ()))
    return people[: target.limit] if target.limit is not None else people


def split_contacts(contacts: Sequence[Recipient]) -> dict[Audience, list[Recipient]]:
    """Contacts of the first priority, the rest, and all, each in priority order."""
    ordered = sorted(contacts, key=lambda c: c.priority)
    if not ordered:
        return {a: [] for a in CONTACT_AUDIENCES}
    first_rank = ordered[0].priority
    return {
        Audience.CONTACTS_FIRST: [c for c in ordered if c.priority == first_rank],
        Audience.CONTACTS_REST: [c for c in ordered if c.priority != first_rank],
        Audience.CONTACTS_ALL: ordered,
    }


def asks_for_answer(kind: CaseKind) -> bool:
    """True when the alert asks its reader to take the case (device alerts only inform)."""
    return kind is not CaseKind.DEVICE


def _alert(channel: str, person: Recipient, to: str, facts: CaseFacts, step: int) -> Notify:
    lang = language_of(person.language)
    say = spoken(alert_say(facts, lang)) if channel == Channel.voice else None
    if channel == Channel.voice:
        body = t(lang, "Voice call: {text}", text=alert_say(facts, lang))
    else:
        # A text message (SMS, WeChat) asks for the same reply whichever way it went.
        body = alert_sms(facts, step, lang)
    return Notify(channel, person.key, to, body, say, lang)


_CASE_ID = re.compile(r"\bC-\d{8}-(\d{1,6})\b")
_LONG_NUMBER = re.compile(r"\+?\d{3,}")


def spoken(text: str) -> str:
    """`text` for a voice: a case number as its short code and long numbers digit by digit.

    A speech engine reads "20261122" or "13800000000" as one huge number; a listener needs
    "0 0 0 7" and "1 3 8 0 …" to note or dial it.
    """
    text = _CASE_ID.sub(lambda m: m.group(1), text)
    return _LONG_NUMBER.sub(lambda m: " ".join(m.group(0).lstrip("+")), text)


def kind_label(kind: CaseKind, language: str | None) -> str:
    """A case kind as a person reads it in an alert ("Emergency", "紧急求助")."""
    labels = {
        CaseKind.EMERGENCY: t(language, "Emergency"),
        CaseKind.CARE: t(language, "Care request"),
        CaseKind.SERVICE: t(language, "Service request"),
        CaseKind.CONSULT: t(language, "Consultation"),
        CaseKind.DEVICE: t(language, "Terminal problem"),
    }
    return labels[kind]


def alert_sms(facts: CaseFacts, step: int, language: str | None = None) -> str:
    """The SMS that asks a person to take the case (or, for a device case, informs them).

    Written for the medium: a Chinese one says who, where, what and how to answer in at
    most two UCS-2 segments (134 characters) for a usual name and address.
    """
    lang = language_of(language)
    if facts.kind is CaseKind.DEVICE:
        # Offline, battery or power: in each case a press may not get through, so the
        # family is asked to look in on the elder while the technician sees to the terminal.
        return t(
            lang,
            "{elder}'s help terminal may not be working: {problem}. Please check on {elder}. "
            "The centre's technician is on it (case {case}).",
            elder=facts.elder_name,
            problem=facts.summary,
            case=facts.case_id,
        )
    fields = {
        "what": kind_label(facts.kind, lang),
        "case": facts.case_id,
        "elder": facts.elder_name,
        "address": facts.address,
    }
    if facts.kind is CaseKind.EMERGENCY:
        if step > 0:
            return t(
                lang,
                "STILL UNANSWERED. EMERGENCY {case}: {elder} at {address} needs help. "
                "Reply 1 to take it, 2 if you cannot.",
                **fields,
            )
        return t(
            lang,
            "EMERGENCY {case}: {elder} at {address} needs help. "
            "Reply 1 to take it, 2 if you cannot.",
            **fields,
        )
    if step > 0:
        return t(
            lang,
            "STILL UNANSWERED. {what} {case}: {elder} at {address} needs help. "
            "Reply 1 to take it, 2 if you cannot.",
            **fields,
        )
    return t(
        lang,
        "{what} {case}: {elder} at {address} needs help. Reply 1 to take it, 2 if you cannot.",
        **fields,
    )


def alert_say(facts: CaseFacts, language: str | None = None) -> str:
    """What a voice call says."""
    return t(
        language,
        "{what}. {elder} at {address} needs help. To take the case, reply 1 by text message.",
        what=kind_label(facts.kind, language),
        elder=facts.elder_name,
        address=facts.address,
    )


def console_text(
    facts: CaseFacts,
    *,
    step: int = 0,
    flag: str | None = None,
    unreached: Sequence[str] = (),
    handed_on: bool = False,
    repeat: tuple[int, int] = (0, 0),
) -> str:
    """The console line for a step; a flag is shouted, and a step that found nobody says why.

    `repeat` is (n, of): the n-th repeat of the last step, of at most `of`.
    """
    text = Msg(
        "{summary}: {elder}, {address} ({case})",
        summary=facts.summary,
        elder=facts.elder_name,
        address=facts.address,
        case=facts.case_id,
    )
    if step > 0:
        text = Msg("{text}; no acknowledgement, step {step}", text=text, step=step)
    if repeat[0]:
        text = Msg("{text} (repeat {n} of {of})", text=text, n=repeat[0], of=repeat[1])
    if unreached:
        # Each reason is a catalogue text: joined so the list is said in one language.
        text = Msg("{text}; nobody to call: {reasons}", text=text, reasons=joined(unreached))
        if handed_on:
            text = Msg("{text}, next step now", text=text)
    if flag:
        text = Msg("{text}; {flag}", text=text, flag=term(flag.upper()))
    return text


def taken_text(case_id: str, owner: str, language: str | None = None) -> str:
    """What everyone else who was alerted is told once someone owns the case."""
    return t(
        language,
        "Case {case} is taken by {owner}, thank you. No need to act.",
        case=case_id,
        owner=owner,
    )


def pressed_again_text(facts: CaseFacts) -> str:
    """The elder pressed again while the case was running."""
    return Msg(
        "{elder} pressed the button again (case {case}, {address}).",
        elder=facts.elder_name,
        case=facts.case_id,
        address=facts.address,
    )


def folded_prefix(
    elder_name: str, emergencies: int, since_local: str, language: str | None = None
) -> str:
    """Opens the one alert that stands for several of the elder's emergencies in a row."""
    return tn(
        language,
        "{elder} pressed again once since {since}. ",
        "{elder} pressed again {n} times since {since}. ",
        emergencies,
        elder=elder_name,
        since=since_local,
    )


def cancelled_console_text(facts: CaseFacts, by_elder: bool) -> str:
    """The console line for a cancelled case: the operator still checks in."""
    fields: dict[str, str] = {"case": facts.case_id, "elder": facts.elder_name}
    if facts.elder_phone:
        if by_elder:
            return Msg(
                "{case} elder cancelled — check in with {elder}, call {phone}",
                phone=facts.elder_phone,
                **fields,
            )
        return Msg(
            "{case} case cancelled — check in with {elder}, call {phone}",
            phone=facts.elder_phone,
            **fields,
        )
    if by_elder:
        return Msg("{case} elder cancelled — check in with {elder}", **fields)
    return Msg("{case} case cancelled — check in with {elder}", **fields)


def cancelled_sms_text(facts: CaseFacts, language: str | None = None) -> str:
    """What alerted people are told when the elder cancels."""
    return t(
        language,
        "{elder} cancelled case {case}; the centre will check in. No need to act.",
        elder=facts.elder_name,
        case=facts.case_id,
    )


def checked_in_late_console_text(facts: CaseFacts, local_time: str) -> str:
    """The console line when the elder checks in after a missed window: confirm, then resolve."""
    fields = {"elder": facts.elder_name, "at": local_time, "case": facts.case_id}
    if facts.elder_phone:
        return Msg(
            "{elder} checked in late at {at} ({case}) — confirm, call {phone} and resolve the case",
            phone=facts.elder_phone,
            **fields,
        )
    return Msg("{elder} checked in late at {at} ({case}) — confirm and resolve the case", **fields)


def checked_in_late_sms_text(facts: CaseFacts, local_time: str) -> str:
    """What alerted people are told when the elder checks in after a missed window."""
    return Msg(
        "{elder} checked in at {at} (case {case}); the centre will confirm. No need to act.",
        elder=facts.elder_name,
        at=local_time,
        case=facts.case_id,
    )


KIND_NAMES = {
    CaseKind.EMERGENCY: N_("an emergency"),
    CaseKind.CARE: N_("a care need"),
    CaseKind.SERVICE: N_("a service request"),
    CaseKind.CONSULT: N_("a consultation"),
    CaseKind.DEVICE: N_("a terminal problem"),
}


def _changed(facts: CaseFacts, old: CaseKind, new: CaseKind) -> Msg:
    return Msg(
        "Case {case} ({elder}) is now {new}, no longer {old}.",
        case=facts.case_id,
        elder=facts.elder_name,
        new=Msg(KIND_NAMES[new]),
        old=Msg(KIND_NAMES[old]),
    )


def reclassified_owner_text(facts: CaseFacts, old: CaseKind, new: CaseKind) -> str:
    """What the owner of a reclassified case is told: it stays theirs."""
    if new is CaseKind.EMERGENCY:
        return Msg(
            "{changed} It is still yours. Call 120 if {elder} needs an ambulance. "
            "Call the centre if you need help.",
            changed=_changed(facts, old, new),
            elder=facts.elder_name,
        )
    return Msg(
        "{changed} It is still yours. Call the centre if you need help.",
        changed=_changed(facts, old, new),
    )


def reclassified_sms_text(facts: CaseFacts, old: CaseKind, new: CaseKind, owner: str | None) -> str:
    """What someone alerted under the old kind is told: they are no longer needed for it."""
    who = Msg("{owner} has it", owner=owner) if owner else Msg("the centre is handling it")
    if new is CaseKind.EMERGENCY:
        # Someone already with the elder must not walk away from what is now an emergency.
        return Msg(
            "{changed} No longer needed from you: {who}. "
            "If you are with {elder} now, stay and call the centre.",
            changed=_changed(facts, old, new),
            who=who,
            elder=facts.elder_name,
        )
    return Msg(
        "{changed} No longer needed from you: {who}.", changed=_changed(facts, old, new), who=who
    )


def reclassified_console_text(case_id: str, old: CaseKind, new: CaseKind, told: int) -> str:
    """The console line once the people alerted under the old kind were told of the change."""
    if told == 1:
        return Msg(
            "{case} is now {new} (was {old}): 1 person alerted before told by SMS",
            case=case_id,
            new=term(new),
            old=term(old),
        )
    return Msg(
        "{case} is now {new} (was {old}): {n} people alerted before told by SMS",
        case=case_id,
        new=term(new),
        old=term(old),
        n=told,
    )
