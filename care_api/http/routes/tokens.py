"""Bearer tokens: the admin mints one for a person (shown once) and can revoke it."""

from datetime import timedelta

from fastapi import APIRouter, Response, status

from care_api.domain.errors import InvalidInput, NotFound
from care_api.domain.texts import Msg
from care_api.http.deps import AdminDep, ServicesDep, UowDep
from care_api.http.models.tokens import TokenCreate, TokenCreated
from care_api.usecases.people.registry import get_elder
from care_api.usecases.people.tokens import mint_token, revoke_token

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED)
def post_token(
    body: TokenCreate, services: ServicesDep, uow: UowDep, _principal: AdminDep
) -> TokenCreated:
    """Mint a token for a person with a role; the token is shown this once."""
    for elder_id in body.elder_ids or ():
        try:
            get_elder(uow.session, elder_id)
        except NotFound:
            # A typo here would silently give a caregiver nobody to see; say so instead.
            raise InvalidInput(
                Msg("elder {elder_id} in elder_ids does not exist", elder_id=elder_id)
            ) from None
    now = services.clock.now()
    expires_at = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, token = mint_token(
        uow.session,
        role=body.role,
        name=body.name,
        now=now,
        subject_id=body.subject_id,
        elder_ids=body.elder_ids or (),
        expires_at=expires_at,
    )
    uow.commit()
    return TokenCreated.of(row, token)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(
    token_id: int, services: ServicesDep, uow: UowDep, _principal: AdminDep
) -> Response:
    """Revoke a token; it stops working at once. Revoking twice is harmless."""
    revoke_token(uow.session, token_id, now=services.clock.now())
    uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
