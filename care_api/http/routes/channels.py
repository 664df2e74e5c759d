"""How contacts and volunteers are reached: their addresses, preferred channel, WeChat binding."""

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Path

from care_api.domain.channels import AddressKind
from care_api.domain.errors import NotFound
from care_api.domain.texts import Msg
from care_api.http.deps import ServicesDep, StaffDep, UowDep
from care_api.http.models.channels import BindCodeIn, BindCodeOut, ChannelsOut, PreferredIn
from care_api.usecases.people.addresses import (
    new_bind_code,
    person_of,
    reach_of,
    send_bind_code_by_sms,
    set_preferred,
    unbind,
)
from care_api.usecases.people.languages import language_of_person

log = logging.getLogger(__name__)

router = APIRouter(tags=["channels"])
PersonKind = Literal["contacts", "volunteers"]
_ACTOR = {"contacts": "contact", "volunteers": "volunteer"}


def _actor(kind: PersonKind, person_id: int) -> str:
    return f"{_ACTOR[kind]}:{person_id}"


def _channels(uow: UowDep, actor: str) -> ChannelsOut:
    person = person_of(uow.session, actor)
    if person is None:
        raise NotFound(Msg("{actor} not found", actor=actor))
    reach = reach_of(uow.session, [actor])[actor]
    return ChannelsOut(
        phone=person.phone,
        wechat_bound=AddressKind.wechat_openid.value in reach.addresses,
        preferred=reach.preferred,
    )


PersonId = Annotated[int, Path(ge=1)]


@router.get("/{kind}/{person_id}/channels")
def get_channels(kind: PersonKind, person_id: PersonId, uow: UowDep, _: StaffDep) -> ChannelsOut:
    """How a contact or volunteer is reached (the openid itself is never shown)."""
    return _channels(uow, _actor(kind, person_id))


@router.put("/{kind}/{person_id}/channels")
def put_channels(
    kind: PersonKind,
    person_id: PersonId,
    body: PreferredIn,
    uow: UowDep,
    services: ServicesDep,
    _: StaffDep,
) -> ChannelsOut:
    """Set the channel a person is reached on first (they must have its address)."""
    actor = _actor(kind, person_id)
    preferred = body.preferred.value if body.preferred is not None else None
    set_preferred(uow.session, actor, preferred, now=services.clock.now())
    uow.commit()
    return _channels(uow, actor)


@router.post("/{kind}/{person_id}/wechat/code", status_code=201)
def wechat_code(
    kind: PersonKind,
    person_id: PersonId,
    body: BindCodeIn,
    uow: UowDep,
    services: ServicesDep,
    principal: StaffDep,
) -> BindCodeOut:
    """A one-time code binding the person's WeChat once they send it to the official account."""
    actor = _actor(kind, person_id)
    now = services.clock.now()
    code, expires = new_bind_code(uow.session, actor, now=now)
    if body.send_sms:
        language = language_of_person(uow.session, actor, centre=services.settings.language)
        send_bind_code_by_sms(uow.session, actor, code, language=language, now=now)
    uow.commit()
    log.info("wechat bind code for %s made by %s", actor, principal.name)
    return BindCodeOut(code=code, expires_at=expires, sms_queued=body.send_sms)


@router.delete("/{kind}/{person_id}/wechat", status_code=204)
def wechat_unbind(kind: PersonKind, person_id: PersonId, uow: UowDep, _: StaffDep) -> None:
    """Stop reaching the person on WeChat (nothing to do when none is bound)."""
    actor = _actor(kind, person_id)
    if unbind(uow.session, actor, AddressKind.wechat_openid):
        log.info("wechat of %s unbound", actor)
    uow.commit()
