"""CallDesk: places the calls the rows ask for (bridged calls, machine callbacks) through Twilio.

A row is the request: an operator's `case_call` in state "requested", a machine callback in
state "dial". `dial_due` claims each with a conditional UPDATE (so two beats never place one
call twice), asks Twilio outside any transaction, and writes the call's SID back. Twilio then
fetches the TwiML from our webhooks (alerts/call_webhooks.py) and reports the call's end.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CompoundSelect, CursorResult, literal, union_all, update
from sqlmodel import col, select
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from alerts.notify.twilio import PROVIDER_ERRORS
from care_api.domain.texts import Msg
from care_api.i18n import language_of, t
from care_api.log_privacy import mask_phone
from care_api.services import Services
from care_api.store.call_tables import AutoCallback, CaseCall
from care_api.usecases.cases.auto_callbacks import CALLING, DIAL, WAITING, note
from care_api.usecases.cases.calls import (
    CONNECTING,
    DIALING,
    FINAL_STATES,
    REQUESTED,
    UNPLACED,
    end_call,
    party_answered,
)

log = logging.getLogger(__name__)

# A call asked for this long ago and never placed (the process was down) is not placed late:
# the operator has moved on, and a phone ringing minutes after the click confuses.
CALL_STALE_S = 120
DIAL_TIMEOUT_S = 30  # how long the party's phone rings before the bridge gives up
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# The calls a beat places: bridges asked for (kind 0), then surveys to dial (kind 1), each
# by id. One statement, built once: every beat asks it, and almost always finds none.
_CALLS_DUE: CompoundSelect[*tuple[Any, ...]] = union_all(
    select(literal(0).label("kind"), col(CaseCall.id).label("id")).where(
        col(CaseCall.state) == REQUESTED
    ),
    select(literal(1), col(AutoCallback.id)).where(col(AutoCallback.state) == DIAL),
).order_by("kind", "id")
# Twilio's progress reports before the end, as the console shows them.
PROGRESS = {"initiated": DIALING, "ringing": "ringing", "in-progress": CONNECTING}
BRIDGE_PATH = "/bridge"
SURVEY_PATH = "/survey"


class CallDesk:
    """Places bridged and survey calls; answers the bridge's webhooks."""

    def __init__(self, services: Services, client: Client | None, webhook_base: str | None) -> None:
        self._services = services
        self._client = client
        self._from = services.settings.twilio_from or ""
        # The public URL of our Twilio webhooks; without it Twilio could not fetch the TwiML.
        self._base = webhook_base

    @property
    def can_call(self) -> bool:
        """Twilio is configured and can reach our webhooks."""
        return self._client is not None and self._base is not None

    # -- placing ------------------------------------------------------------------------------

    def dial_due(self, now: datetime) -> int:
        """Place every call a row asks for; returns how many were handed to Twilio."""
        # A bare connection: a read on every beat, nearly always of nothing, needs no session.
        with self._services.engine.connect() as conn:
            rows = conn.execute(_CALLS_DUE).all()
        bridges = [row_id for kind, row_id in rows if kind == 0]
        surveys = [row_id for kind, row_id in rows if kind == 1]
        placed = 0
        for call_id in bridges:
            if call_id is not None:
                placed += self._place_bridge(call_id, now)
        for row_id in surveys:
            if row_id is not None:
                placed += self._place_survey(row_id, now)
        return placed

    def _claim(
        self, table: type[CaseCall] | type[AutoCallback], row_id: int, old: str, new: str
    ) -> bool:
        with self._services.uow() as uow:
            result = cast(
                CursorResult[Any],
                uow.session.execute(
                    update(table)
                    .where(col(table.id) == row_id, col(table.state) == old)
                    .values(state=new)
                ),
            )
            uow.commit()
            return result.rowcount == 1

    def _place_bridge(self, call_id: int, now: datetime) -> int:
        with self._services.uow() as uow:
            call = uow.session.get(CaseCall, call_id)
            if call is None or call.state != REQUESTED:
                return 0
            if not self.can_call or call.created_at < now - timedelta(seconds=CALL_STALE_S):
                call.detail = (
                    "no Twilio account or public URL: dial by hand"
                    if not self.can_call
                    else "asked for too long ago"
                )
                end_call(uow, call, UNPLACED, now=now)
                uow.commit()
                return 0
            operator_phone = call.operator_phone
        client = self._client
        if client is None or not self._claim(CaseCall, call_id, REQUESTED, DIALING):
            return 0
        base = f"{self._base}{BRIDGE_PATH}"
        try:
            placed = client.calls.create(
                to=operator_phone,
                from_=self._from,
                url=f"{base}?call={call_id}",
                method="POST",
                status_callback=f"{base}/status?call={call_id}",
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
            )
        except PROVIDER_ERRORS as exc:
            log.warning("bridged call %d not placed: %s", call_id, exc)
            with self._services.uow() as uow:
                row = uow.session.get(CaseCall, call_id)
                if row is not None:
                    row.detail = f"Twilio refused the call: {exc}"[:500]
                    end_call(uow, row, "failed", now=now)
                    uow.commit()
            return 0
        with self._services.uow() as uow:
            row = uow.session.get(CaseCall, call_id)
            if row is not None:
                row.call_sid = placed.sid
                uow.session.add(row)
                uow.commit()
        log.info("bridged call %d: ringing %s first", call_id, mask_phone(operator_phone))
        return 1

    def _place_survey(self, row_id: int, now: datetime) -> int:
        client = self._client
        if client is None or not self._claim(AutoCallback, row_id, DIAL, CALLING):
            return 0  # the machine marks rows "dial" only when Twilio can call
        with self._services.uow() as uow:
            row = uow.session.get(AutoCallback, row_id)
            if row is None:  # pragma: no cover - claimed just now
                return 0
            phone = row.phone
        base = f"{self._base}{SURVEY_PATH}"
        try:
            placed = client.calls.create(
                to=phone,
                from_=self._from,
                url=f"{base}?cb={row_id}",
                method="POST",
                status_callback=f"{base}/status?cb={row_id}",
                status_callback_method="POST",
            )
        except PROVIDER_ERRORS as exc:
            log.warning("callback call %d not placed: %s", row_id, exc)
            with self._services.uow() as uow:
                row = uow.session.get(AutoCallback, row_id)
                if row is not None:
                    row.state = WAITING  # the next attempt is scheduled already
                    why = Msg("callback call not placed: {detail}", detail=str(exc)[:800])
                    note(uow, row, why, now)
                    uow.commit()
            return 0
        with self._services.uow() as uow:
            row = uow.session.get(AutoCallback, row_id)
            if row is not None:
                row.call_sid = placed.sid
                uow.session.add(row)
                uow.commit()
        return 1

    # -- the bridge's webhooks ----------------------------------------------------------------

    def _own_call(self, call_id: int, call_sid: str) -> CaseCall | None:
        with self._services.uow() as uow:
            call = uow.session.get(CaseCall, call_id)
            if call is None or not call_sid or call.call_sid != call_sid:
                return None
            uow.session.expunge(call)
            return call

    def bridge_twiml(self, call_id: int, call_sid: str) -> str | None:
        """The operator answered: TwiML that dials the party; None when the call is not ours."""
        call = self._own_call(call_id, call_sid)
        if call is None:
            return None
        language = language_of(self._services.settings.language)
        response = VoiceResponse()
        if call.state in FINAL_STATES:
            response.say(t(language, "This call has ended. Goodbye."), language=language)
            return str(response)
        self.progress(call_id, call_sid, "in-progress")
        response.say(
            t(language, "Connecting you to {name}.", name=call.party_name), language=language
        )
        dial = Dial(
            action=f"{self._base}{BRIDGE_PATH}/dialed?call={call_id}",
            method="POST",
            caller_id=self._from,
            timeout=DIAL_TIMEOUT_S,
        )
        dial.number(call.party_phone)
        response.append(dial)
        return str(response)

    def dialed(self, call_id: int, call_sid: str, outcome: str, duration: str) -> bool:
        """The <Dial> to the party ended; False when the call is not ours."""
        with self._services.uow() as uow:
            call = uow.session.get(CaseCall, call_id)
            if call is None or not call_sid or call.call_sid != call_sid:
                return False
            party_answered(call, outcome, int(duration) if duration.isdigit() else None)
            uow.session.add(call)
            uow.commit()
            return True

    def progress(self, call_id: int, call_sid: str, status: str) -> bool:
        """Twilio's report on the operator's leg; its end goes on the history. False: not ours."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            call = uow.session.get(CaseCall, call_id)
            if call is None or not call_sid or call.call_sid != call_sid:
                return False
            if status in FINAL_STATES:
                end_call(uow, call, status, now=now)
            elif status in PROGRESS and call.state not in FINAL_STATES:
                call.state = PROGRESS[status]
                uow.session.add(call)
            uow.commit()
            return True
