"""The WeChat official account's message webhook: bind codes and replies to alerts.

WeChat signs each request with sha1 of the sorted (token, timestamp, nonce): a GET with an
`echostr` verifies the URL when it is set up, a POST carries one message as XML (plaintext
mode). A forged or stale request gets 403 and changes nothing; without VNH_WECHAT_TOKEN the
routes answer 404. A text message is a bind code or an answer ("1" takes the case), both
handled by the one answer service (`alerts.answers.Answers`), and answered in the reply.
"""

import hashlib
import hmac
import logging
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from alerts.webhook_deps import AnswersDep
from care_api.http.deps import ServicesDep, client_source, too_many_failures
from care_api.services import Services
from care_api.throttle import Gate

log = logging.getLogger(__name__)

PREFIX = "/webhooks/wechat"
MAX_BODY_BYTES = 16 * 1024  # a text message is a few hundred bytes
MAX_AGE_S = 300  # a signed request older (or newer) than this is refused as a replay
MAX_MSGID_CHARS = 32
STEP = "wechat"
JOB_FINISHED = "TEMPLATESENDJOBFINISH"  # WeChat's report on one template message
SORRY_TEXT = "Sorry, something went wrong at the centre. Please call the centre."


def signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature of a request: sha1 of the three strings sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()  # noqa: S324


def _checked(services: Services, request: Request) -> None:
    """Let through only what WeChat signed lately; 404 without a token, 403 when forged."""
    token = services.settings.wechat_token
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    throttle = services.auth[Gate.WEBHOOK]
    source = client_source(request)
    now = services.clock.now()
    wait = throttle.retry_after(source, now)
    if wait is not None:
        raise too_many_failures(wait)
    query = request.query_params
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    given = query.get("signature", "")
    expected = signature(token.get_secret_value(), timestamp, nonce)
    fresh = timestamp.isdigit() and abs(now.timestamp() - int(timestamp)) <= MAX_AGE_S
    if not given or not hmac.compare_digest(given, expected) or not fresh:
        log.warning("forged, unsigned or stale WeChat webhook refused: %s", request.url.path)
        throttle.failed(source, now)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid WeChat signature")


def parse_message(body: bytes) -> dict[str, str]:
    """The fields of one plaintext XML message; 400 for anything else (no DTDs, no entities)."""
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
    if b"<!" in body.replace(b"<![CDATA[", b""):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "no DTD or entities in a message")
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD can reach here (above)
    except ET.ParseError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not an XML message") from exc
    return {child.tag: (child.text or "") for child in root}


def reply_xml(to: str, account: str, text: str, now: int) -> str:
    """A passive text reply: WeChat shows it to the person as the account's answer."""
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{account}]]></FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(text)}</Content></xml>"
    )


router = APIRouter(prefix=PREFIX, tags=["webhooks"], include_in_schema=False)


@router.get("")
def verify(request: Request, services: ServicesDep) -> Response:
    """WeChat's URL check when the account is set up: echo `echostr` if signed by us."""
    _checked(services, request)
    return PlainTextResponse(request.query_params.get("echostr", ""))


@router.post("")
async def message(request: Request, services: ServicesDep, answers: AnswersDep) -> Response:
    """One message to the account: a bind code, or an answer to an alert."""
    _checked(services, request)
    fields = parse_message(await request.body())
    openid = fields.get("FromUserName", "")
    account = fields.get("ToUserName", "")
    if fields.get("MsgType") == "event" and fields.get("Event") == JOB_FINISHED:
        # The template message reached the person, or not (they blocked the account).
        msgid, report = fields.get("MsgID", "")[:MAX_MSGID_CHARS], fields.get("Status", "")
        if not await run_in_threadpool(answers.wechat_delivery, msgid, report[:64]):
            log.info("wechat report %s for unknown msgid %s", report, msgid)
        return PlainTextResponse("success")
    if fields.get("MsgType") != "text" or not openid:
        return PlainTextResponse("success")  # other events (follow, menu), pictures
    msgid = fields.get("MsgId", "")[:MAX_MSGID_CHARS]
    # WeChat resends a message it got no answer to within 5 s: each is taken once.
    if msgid and not await run_in_threadpool(answers.first_sighting, f"wx{msgid}", STEP):
        log.info("wechat message %s seen before: not taken again", msgid)
        return PlainTextResponse("success")
    try:
        text = await run_in_threadpool(answers.wechat, openid, fields.get("Content", ""))
    except Exception:
        log.exception("wechat webhook failed")
        if msgid:
            await run_in_threadpool(answers.forget_sighting, f"wx{msgid}", STEP)
        text = SORRY_TEXT
    now = int(services.clock.now().timestamp())
    return Response(reply_xml(openid, account, text, now), media_type="application/xml")
