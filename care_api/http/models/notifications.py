"""API models of notifications: every message sent or queued."""

from typing import Self

from pydantic import BaseModel, ConfigDict

from care_api.http.models.common import Timestamp
from care_api.http.reader_language import in_reader_language
from care_api.store.tables import Notification


class NotificationPublic(BaseModel):
    """A message sent or queued, whatever the channel."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str | None
    channel: str
    to: str
    recipient: str
    body: str
    status: str
    attempts: int
    provider_id: str | None
    detail: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: Notification, *, to: str | None = None) -> Self:
        """The public view of a notification row; `to` replaces the number when given."""
        view = cls.model_validate(row)
        # A console row is rendered for its reader; a message to a person is as it was sent.
        view.body = in_reader_language(view.body, row.body_msg)
        return view if to is None else view.model_copy(update={"to": to})
