"""The channel model, pure: which channels a person is reached on for a ladder step."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.channels import CHANNELS, PERSON_CHANNELS, Channel, reach

PHONE = "+8613900000000"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
BOTH = {"phone": PHONE, "wechat_openid": OPENID}
FAMILY = ["wechat", "sms", "voice"]


def test_channels_a_bound_person_gets_wechat_instead_of_sms_and_the_call() -> None:
    assert reach(FAMILY, BOTH) == [("wechat", OPENID), ("voice", PHONE)]


def test_channels_a_person_without_wechat_gets_sms_and_the_call() -> None:
    assert reach(FAMILY, {"phone": PHONE}) == [("sms", PHONE), ("voice", PHONE)]


def test_channels_the_preferred_channel_wins_its_medium_and_goes_first() -> None:
    assert reach(FAMILY, BOTH, "sms") == [("sms", PHONE), ("voice", PHONE)]
    assert reach(FAMILY, BOTH, "voice") == [("voice", PHONE), ("wechat", OPENID)]


def test_channels_a_step_reaches_only_the_channels_it_names() -> None:
    assert reach(["sms"], BOTH, "wechat") == [("sms", PHONE)]
    assert reach(["console"], BOTH) == []


def test_channels_every_channel_is_declared_with_its_address_and_medium() -> None:
    assert set(CHANNELS) == set(Channel)
    assert set(PERSON_CHANNELS) == {"sms", "voice", "wechat"}
    assert CHANNELS[Channel.wechat].fallback is Channel.sms


@given(
    named=st.lists(st.sampled_from([c.value for c in Channel]), unique=True),
    has_phone=st.booleans(),
    has_wechat=st.booleans(),
    preferred=st.none() | st.sampled_from([c.value for c in Channel]),
)
def test_channels_one_message_per_medium_on_an_address_the_person_has(
    named: list[str], has_phone: bool, has_wechat: bool, preferred: str | None
) -> None:
    addresses = {}
    if has_phone:
        addresses["phone"] = PHONE
    if has_wechat:
        addresses["wechat_openid"] = OPENID
    chosen = reach(named, addresses, preferred)
    media = [CHANNELS[Channel(c)].medium for c, _ in chosen]
    assert len(media) == len(set(media))
    for channel, address in chosen:
        spec = CHANNELS[Channel(channel)]
        assert channel in named and spec.address is not None
        assert addresses[spec.address.value] == address
    if preferred is not None and chosen and any(c == preferred for c, _ in chosen):
        assert chosen[0][0] == preferred
