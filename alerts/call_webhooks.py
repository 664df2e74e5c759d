"""Twilio webhooks of the calls we place: the operator's bridged call and the callback survey.

Signed like every Twilio webhook (alerts.webhooks' check: 404 without Twilio, 403 forged).
The call's own row names its Twilio SID: a request about a call whose SID it does not carry,
or answering a question that is not the one being asked, gets 409 and changes nothing.
"""

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool
from twilio.twiml.voice_response import Gather, VoiceResponse

from alerts.calls import BRIDGE_PATH, SURVEY_PATH
from alerts.webhook_deps import PlacedCallsDep
from alerts.webhooks import GATHER_TIMEOUT_S, PREFIX, TWIML, _verified_form
from care_api.http.deps import ServicesDep

NOT_THIS_CALL = "this webhook is not about a call in progress; nothing was changed"
MAX_ID = 2**31 - 1


def _row_id(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "")
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must be an id")
    return int(raw)


def _not_this_call() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, NOT_THIS_CALL)


def _xml(text: str) -> Response:
    return Response(content=text, media_type=TWIML)


router = APIRouter(prefix=PREFIX, tags=["webhooks"], include_in_schema=False)


@router.post(BRIDGE_PATH)
async def bridge(request: Request, services: ServicesDep, calls: PlacedCallsDep) -> Response:
    """The operator picked up: connect them to the party."""
    params = await _verified_form(services, request)
    call_id = _row_id(request, "call")
    twiml = await run_in_threadpool(calls.desk.bridge_twiml, call_id, params.get("CallSid", ""))
    if twiml is None:
        raise _not_this_call()
    return _xml(twiml)


@router.post(f"{BRIDGE_PATH}/dialed")
async def dialed(request: Request, services: ServicesDep, calls: PlacedCallsDep) -> Response:
    """The party's leg ended: whether they answered and for how long."""
    params = await _verified_form(services, request)
    found = await run_in_threadpool(
        calls.desk.dialed,
        _row_id(request, "call"),
        params.get("CallSid", ""),
        params.get("DialCallStatus", ""),
        params.get("DialCallDuration", ""),
    )
    if not found:
        raise _not_this_call()
    return _xml(str(VoiceResponse()))


@router.post(f"{BRIDGE_PATH}/status")
async def bridge_status(request: Request, services: ServicesDep, calls: PlacedCallsDep) -> Response:
    """Twilio's report on the operator's leg: ringing, answered, and how it ended."""
    params = await _verified_form(services, request)
    found = await run_in_threadpool(
        calls.desk.progress,
        _row_id(request, "call"),
        params.get("CallSid", ""),
        params.get("CallStatus", ""),
    )
    if not found:
        raise _not_this_call()
    return _xml(str(VoiceResponse()))


@router.post(SURVEY_PATH)
async def survey(request: Request, services: ServicesDep, calls: PlacedCallsDep) -> Response:
    """The callee answered, or pressed a key for the question `q`."""
    params = await _verified_form(services, request)
    row_id = _row_id(request, "cb")
    question = request.query_params.get("q", "")[:16]
    digits = params.get("Digits")
    turn = await run_in_threadpool(
        calls.machine.survey, row_id, params.get("CallSid", ""), question, digits
    )
    if turn is None:
        raise _not_this_call()
    response = VoiceResponse()
    if turn.ask is None:
        response.say(turn.say, language=turn.language)
        response.hangup()
        return _xml(str(response))
    base = f"{(services.settings.public_url or '').rstrip('/')}{PREFIX}"
    action = f"{base}{SURVEY_PATH}?{urlencode({'cb': row_id, 'q': turn.ask})}"
    gather = Gather(num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_S)
    gather.say(turn.say, language=turn.language)
    response.append(gather)
    # No key within the timeout: the same question's URL without Digits asks it again.
    response.redirect(action, method="POST")
    return _xml(str(response))


@router.post(f"{SURVEY_PATH}/status")
async def survey_status(request: Request, services: ServicesDep, calls: PlacedCallsDep) -> Response:
    """The callback call ended; unfinished, its attempt did not reach anyone."""
    params = await _verified_form(services, request)
    found = await run_in_threadpool(
        calls.machine.call_ended,
        _row_id(request, "cb"),
        params.get("CallSid", ""),
        params.get("CallStatus", ""),
    )
    if not found:
        raise _not_this_call()
    return _xml(str(VoiceResponse()))
