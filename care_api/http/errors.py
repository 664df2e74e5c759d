"""Domain errors to HTTP answers, in one place: every error is `{"detail": …}` with its 4xx."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError

from care_api.domain.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from care_api.domain.texts import Msg
from care_api.http.reader_language import reader_language
from care_api.i18n import render
from care_api.log_privacy import mask_phones_in

log = logging.getLogger(__name__)

# The root comes last: the first entry the error is an instance of gives the code.
_STATUS_OF: dict[type[DomainError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,  # IllegalTransition is a Conflict
    NotAllowed: status.HTTP_403_FORBIDDEN,
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
    DomainError: status.HTTP_400_BAD_REQUEST,
}


def _request_line(request: Request) -> str:
    return f"{request.method} {request.url.path}"


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(c for t, c in _STATUS_OF.items() if isinstance(exc, t))
    log.info("%s → %d: %s", _request_line(request), code, mask_phones_in(str(exc)))
    said = exc.args[0] if exc.args else ""
    detail = render(reader_language(), said) if isinstance(said, Msg) else str(exc)
    return JSONResponse({"detail": detail}, status_code=code)


async def _invalid_row(request: Request, exc: Exception) -> JSONResponse:
    # A use case built a row from the client's data and the row's model refused it: the
    # client's fault, so 422. Any other ValueError is a bug and stays a 500.
    if not isinstance(exc, ValidationError):  # registered for ValidationError only
        raise exc
    # A validation error quotes the input, which may be a phone number.
    log.warning("%s rejected: %s", _request_line(request), mask_phones_in(str(exc)))
    detail = jsonable_encoder(exc.errors(include_url=False, include_context=False))
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Two requests raced for the same unique key; the loser is told, nothing was written.
    # The database's message lists the statement's parameters: phone numbers among them.
    log.warning("%s conflicted: %s", _request_line(request), mask_phones_in(str(exc)))
    return JSONResponse(
        {"detail": "conflicts with existing data"}, status_code=status.HTTP_409_CONFLICT
    )


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # A number or text the database cannot hold (an id past 2**63 on SQLite, past 2**31 on
    # PostgreSQL): the client's input, so 422 rather than a 500.
    log.warning("%s rejected by the database: %s", _request_line(request), type(exc).__name__)
    return JSONResponse(
        {"detail": "a value is out of range for the database"},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn domain and validation errors into 4xx answers."""
    for error_type in _STATUS_OF:
        app.add_exception_handler(error_type, _domain_error)
    app.add_exception_handler(ValidationError, _invalid_row)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
