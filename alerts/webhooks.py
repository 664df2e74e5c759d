"""Twilio webhooks: SMS replies, voice prompts and key presses, and delivery status callbacks.

Every request must carry a valid `X-Twilio-Signature` (HMAC-SHA1 of the public URL and the
form, keyed by the auth token); a forged one gets 403 and changes nothing. Without a Twilio
account configured, or without the public URL the signatures must cover (VNH_PUBLIC_URL;
`vnh serve` refuses to start then), the routes answer 404, as if they did not exist: the
request's own Host header is never trusted as the signed URL.
"""

import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from alerts.hotline import DIALED_PATH, MENU_PATH, Urls
from alerts.ladder import spoken
from alerts.webhook_deps import AnswersDep, HotlineDep, SurveysDep
from care_api.domain.channels import Channel
from care_api.domain.hotline import CALL_ENDED
from care_api.domain.texts import Msg
from care_api.http.deps import ServicesDep, client_source, too_many_failures
from care_api.i18n import language_of, render, t
from care_api.services import Services
from care_api.throttle import Gate

log = logging.getLogger(__name__)

PREFIX = "/webhooks/twilio"
ANSWER_PATH = "/voice/answer"
GATHER_TIMEOUT_S = 10
MAX_FORM_BYTES = 64 * 1024  # Twilio's requests are a few hundred bytes
TWIML = "application/xml"
SORRY_TEXT = Msg("Sorry, something went wrong at the centre. Please call the centre.")
MAX_SID_CHARS = 64  # Twilio's SIDs are 34 characters
REPLAYED = "this webhook was already received; nothing was changed"
SMS_STEP = "sms"


def _twiml(response: VoiceResponse | MessagingResponse) -> Response:
    return Response(content=str(response), media_type=TWIML)


def _say(text: str, language: str | None) -> Response:
    response = VoiceResponse()
    response.say(spoken(render(language, text)), language=language_of(language))
    return _twiml(response)


def _message(text: str) -> Response:
    response = MessagingResponse()
    response.message(text)
    return _twiml(response)


def _public_base(services: Services) -> str:
    # _verified_form let the request in, so the public URL is set.
    return (services.settings.public_url or "").rstrip("/")


async def _verified_form(services: Services, request: Request) -> dict[str, str]:
    """The form of a request that Twilio really sent; 404 without Twilio, 403 when forged."""
    settings = services.settings
    if (
        not settings.twilio_configured
        or settings.twilio_auth_token is None
        or settings.public_url is None
        or settings.webhook_config_error() is not None
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    # Someone guessing signatures waits (backoff) once they failed a few times, unchecked.
    throttle = services.auth[Gate.WEBHOOK]
    source = client_source(request)
    wait = throttle.retry_after(source, services.clock.now())
    if wait is not None:
        raise too_many_failures(wait)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "form too large")
    # Parsed by hand: Twilio posts application/x-www-form-urlencoded, and this avoids a
    # python-multipart dependency for the one kind of form we accept.
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    query = f"?{request.url.query}" if request.url.query else ""
    url = settings.public_url.rstrip("/") + request.url.path + query
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not signature or not validator.validate(url, params, signature):
        log.warning("forged or unsigned Twilio webhook refused: %s", request.url.path)
        throttle.failed(source, services.clock.now())
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid Twilio signature")
    return params


def _urls(services: Services) -> Urls:
    return Urls(f"{_public_base(services)}{PREFIX}")


def _voice_twiml(twiml: str | None, what: str, sid: str) -> Response:
    if twiml is None:
        log.warning("replayed %s refused: %s", what, sid)
        raise _refuse_replay()
    return Response(content=twiml, media_type=TWIML)


def _person_phone(params: dict[str, str]) -> str:
    # On a call we placed, the person is the callee; on a call they placed, the caller.
    outbound = params.get("Direction", "").startswith("outbound")
    return params.get("To", "") if outbound else params.get("From", "")


def _sid(params: dict[str, str], *names: str) -> str:
    sid = next((params[n] for n in names if params.get(n)), "")
    if len(sid) > MAX_SID_CHARS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Twilio SID too long")
    return sid


def _refuse_replay() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, REPLAYED)


def _voice_step(case_id: str, digits: str) -> str:
    # The key pressed, and on which case: the same call pressing the same key again is a replay.
    return f"voice {case_id[:32]} {digits[:8]}"


router = APIRouter(prefix=PREFIX, tags=["webhooks"], include_in_schema=False)


async def _hotline_turn(
    services: Services, what: str, sid: str, step: Callable[[], str | None]
) -> Response:
    """One turn of a call to the hotline: its TwiML, or a replay refused.

    A failure still answers the caller (sorry, in the centre's language): no hang-up.
    """
    try:
        twiml = await run_in_threadpool(step)
    except Exception:
        log.exception("hotline %s webhook failed", what)
        return _say(SORRY_TEXT, services.settings.language)
    return _voice_twiml(twiml, what, sid)


@router.post("/sms")
async def inbound_sms(
    request: Request,
    services: ServicesDep,
    answers: AnswersDep,
    hotline: HotlineDep,
    surveys: SurveysDep,
) -> Response:
    """An SMS reply: "1" takes the case, "2" declines; the answer goes back by SMS.

    A reply to a callback survey sent by SMS answers it first; a text from an elder or from
    a number nobody has goes into a case the operator sees.
    """
    params = await _verified_form(services, request)
    # Twilio names every message; a signed request seen before is a replay (409).
    sid = _sid(params, "MessageSid", "SmsSid")
    if sid and not await run_in_threadpool(answers.first_sighting, sid, SMS_STEP):
        log.warning("replayed sms webhook refused: %s", sid)
        raise _refuse_replay()
    phone, body = params.get("From", ""), params.get("Body", "")
    try:
        text = None
        if sid:  # only a named message can be told from its replay
            text = await run_in_threadpool(surveys.sms_reply, phone, body)
            if text is None:
                text = await run_in_threadpool(hotline.text_in, sid, phone, body)
        if text is None:
            text = await run_in_threadpool(answers.sms, phone, body)
    except Exception:
        log.exception("sms webhook failed")
        if sid:
            await run_in_threadpool(answers.forget_sighting, sid, SMS_STEP)
        text = render(services.settings.language, SORRY_TEXT)
    return _message(text)


@router.post("/voice")
async def voice_prompt(
    request: Request, services: ServicesDep, answers: AnswersDep, hotline: HotlineDep
) -> Response:
    """Say who needs help and where, then wait for 1 (take it) or 2 (cannot).

    A call to the person who owns the case and is not yet with the elder waits for 3.
    A call to the centre's number (Direction=inbound) is the hotline's (alerts/hotline.py).
    """
    params = await _verified_form(services, request)
    if params.get("Direction", "") == "inbound":
        sid = _sid(params, "CallSid")
        if not sid:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "CallSid missing")
        urls = _urls(services)
        return await _hotline_turn(
            services,
            "inbound call",
            sid,
            lambda: hotline.call_in(sid, params.get("From", ""), urls),
        )
    try:
        prompt = await run_in_threadpool(
            answers.call_prompt, params.get("CallSid", ""), _person_phone(params)
        )
    except Exception:
        log.exception("voice webhook failed")
        return _say(SORRY_TEXT, services.settings.language)
    if prompt is None:
        return _say(
            Msg("There is no open case for you now. Thank you. Goodbye."),
            services.settings.language,
        )
    if not prompt.listen:
        return _say(prompt.say, prompt.language)
    query = urlencode({"case": prompt.case_id, "who": prompt.who})
    action = f"{_public_base(services)}{PREFIX}{ANSWER_PATH}?{query}"
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_S)
    # Spoken in the callee's language (Twilio reads the text with that language's voice).
    gather.say(spoken(render(prompt.language, prompt.say)), language=prompt.language)
    response.append(gather)
    bye = t(prompt.language, "{text} Goodbye.", text=prompt.no_answer)
    response.say(bye, language=prompt.language)
    return _twiml(response)


@router.post(ANSWER_PATH)
async def voice_answer(request: Request, services: ServicesDep, answers: AnswersDep) -> Response:
    """The key pressed after the prompt; the case and person come from our signed URL.

    1 takes the case, 2 declines it, 3 says the owner is with the elder (as an SMS "3").
    """
    params = await _verified_form(services, request)
    case_id = request.query_params.get("case", "")
    who = request.query_params.get("who", "")
    digits = params.get("Digits", "")
    if not case_id or not who:
        log.warning("voice answer without case or person: %s", request.url.query)
        return _say(
            Msg("Sorry, we lost track of the case. Please call the centre."),
            services.settings.language,
        )
    call_sid = _sid(params, "CallSid")
    step = _voice_step(case_id, digits)
    if call_sid:
        if not await run_in_threadpool(answers.call_answers_case, call_sid, case_id, who):
            log.warning("voice answer on call %s is not about case %s", call_sid, case_id)
            raise _refuse_replay()
        if not await run_in_threadpool(answers.first_sighting, call_sid, step):
            log.warning("replayed voice answer refused: %s %s", call_sid, step)
            raise _refuse_replay()
    language = await run_in_threadpool(answers.language_of, who)
    try:
        if digits == "1":
            text = await run_in_threadpool(answers.take, case_id, who, via=Channel.voice)
        elif digits == "2":
            text = await run_in_threadpool(answers.refuse, case_id, who, via=Channel.voice)
        elif digits == "3":
            text = await run_in_threadpool(answers.arrive, case_id, who)
        else:
            text = Msg("We did not get 1, 2 or 3, so nothing was changed.")
    except Exception:
        log.exception("voice answer webhook failed")
        if call_sid:
            await run_in_threadpool(answers.forget_sighting, call_sid, step)
        text = SORRY_TEXT
    return _say(Msg("{text} Goodbye.", text=text), language)


@router.post(MENU_PATH)
async def voice_menu(request: Request, services: ServicesDep, hotline: HotlineDep) -> Response:
    """The elder's key on the hotline menu, or none (Gather timed out), then the operators."""
    params = await _verified_form(services, request)
    sid, urls = _sid(params, "CallSid"), _urls(services)
    return await _hotline_turn(
        services, "menu key", sid, lambda: hotline.menu(sid, params.get("Digits", ""), urls)
    )


@router.post(DIALED_PATH)
async def voice_dialed(request: Request, services: ServicesDep, hotline: HotlineDep) -> Response:
    """How the operators' phones ended (DialCallStatus): unanswered is a missed call."""
    params = await _verified_form(services, request)
    sid, urls = _sid(params, "CallSid"), _urls(services)
    return await _hotline_turn(
        services,
        "dial outcome",
        sid,
        lambda: hotline.dialed(sid, params.get("DialCallStatus", ""), urls),
    )


@router.post("/status")
async def delivery_status(
    request: Request, services: ServicesDep, answers: AnswersDep, hotline: HotlineDep
) -> Response:
    """Twilio's report on a message or call we sent: the notification row follows it."""
    params = await _verified_form(services, request)
    sid = params.get("MessageSid") or params.get("CallSid") or ""
    report = params.get("MessageStatus") or params.get("CallStatus") or ""
    try:
        found = await run_in_threadpool(answers.delivery_status, sid, report)
        if not found and params.get("CallStatus") in CALL_ENDED:
            # A call to the centre ended: one still waiting for an operator was missed.
            found = await run_in_threadpool(hotline.ended, sid, report) or True
    except Exception:
        log.exception("status webhook failed")
        found = True  # not Twilio's fault: no point in it retrying
    if not found:
        # A report can beat the sender's own record of the SID; the row then says "sent".
        log.info("status %s for unknown sid %s", report, sid)
    return _twiml(MessagingResponse())
