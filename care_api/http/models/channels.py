"""API models of a contact's or volunteer's channels: their addresses and WeChat binding."""

from datetime import datetime

from pydantic import BaseModel, Field

from care_api.domain.channels import Channel


class BindCodeIn(BaseModel):
    """Whether to send the code to the person's phone by SMS as well."""

    send_sms: bool = False


class BindCodeOut(BaseModel):
    """A one-time code the person sends to the official account; shown once."""

    code: str
    expires_at: datetime
    sms_queued: bool


class ChannelsOut(BaseModel):
    """Where the person is reached: phone, whether WeChat is bound, the preferred channel."""

    phone: str
    wechat_bound: bool
    preferred: str | None


class PreferredIn(BaseModel):
    """The channel to reach the person on first; null for none."""

    preferred: Channel | None = Field(default=None)
