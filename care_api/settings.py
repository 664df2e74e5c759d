"""Settings of the whole service, read once from VNH_* environment variables."""

from __future__ import annotations

import os
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from care_api.domain.phones import DEFAULT_REGION, checked_region, to_e164
from care_api.domain.storms import StormRule

# 1884, not 1883: the embedded broker must not fight a system Mosquitto for the standard port.
EMBEDDED_MQTT_PORT = 1884
# A directory holding one file per secret setting, named like its variable (VNH_ADMIN_TOKEN,
# VNH_MQTT_PASSWORD, VNH_TWILIO_AUTH_TOKEN…), as Docker and Kubernetes mount secrets.
SECRETS_DIR_ENV = "VNH_SECRETS_DIR"


class Settings(BaseSettings):
    """Every knob of the service; `VNH_` + the field name in upper case sets it."""

    model_config = SettingsConfigDict(env_prefix="VNH_", extra="ignore")

    database_url: str = "sqlite:///vnh.db"
    mqtt_url: str | None = None  # None: run the embedded broker
    embedded_mqtt_host: str = "127.0.0.1"
    embedded_mqtt_port: int = EMBEDDED_MQTT_PORT
    mqtt_client_id: str = "vnh-gateway"
    # The gateway's own broker login; a user:pass in VNH_MQTT_URL wins over this default.
    mqtt_username: str = "vnh-gateway"
    mqtt_password: SecretStr | None = None  # unset with the embedded broker: one per start
    # Set: this gateway is one of several sharing the terminals through an MQTT 5 shared
    # subscription ($share/<group>/…); needs VNH_MQTT_URL (amqtt speaks MQTT 3.1.1 only). The
    # client id is then vnh-gw-<host>-<pid> unless VNH_MQTT_CLIENT_ID is set.
    mqtt_shared_group: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Both set: `vnh serve` speaks HTTPS itself (else put a TLS-terminating proxy in front).
    http_ssl_certfile: str | None = None
    http_ssl_keyfile: str | None = None
    # Comma-separated serial hub lines: device paths or pyserial URLs (loop://, spy://…), each
    # with an optional "@<baud>" (default 115200 8N1): "/dev/ttyUSB0@9600,/dev/ttyACM0".
    # A device with a hub_port is accepted only from the port spelled the same, without "@…".
    serial_ports: Annotated[list[str], NoDecode] = []
    admin_token: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    # The centre's hotline a watch's SOS button may dial (sos_numbers {"hotline": true});
    # None: the Twilio number the centre's calls come in on.
    hotline_number: str | None = None
    # Only for tests and Twilio-compatible gateways; the real API is the default.
    twilio_api_url: str | None = None
    public_url: str | None = None  # how Twilio reaches our webhooks, e.g. https://vnh.example.org
    supervisor_phone: str | None = None  # the last rung of the emergency ladder
    # A WeChat official account (服务号) sending template messages to people who bound it;
    # the token signs its inbound message webhook (/webhooks/wechat).
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_template_id: str | None = None
    wechat_token: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"  # another only for tests
    # The centre's region (ISO 3166 code): numbers typed without "+" are read as its local
    # ones; every number is stored and matched in E.164.
    phone_region: str = DEFAULT_REGION
    merchant_red_card_days: int = 30  # a red card (停单) stops new orders this long
    timezone: str = "Asia/Shanghai"  # the centre's local day numbers cases and working days
    # The centre's language (BCP 47): what a person with no language of their own reads.
    language: str = "zh-CN"
    # The console's map tiles: a URL template with {z}, {x} and {y} (an https:// tile server
    # the centre may use). Unset: the map draws relative positions and distances only.
    map_tiles: str | None = None
    # Optional single sign-on (OpenID Connect, authorization code with PKCE): the IdP's issuer
    # URL (its /.well-known/openid-configuration is read), this service's client id and
    # secret there. A staff login of the same username must exist; see sso_user.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # Set: a verified e-mail at this domain names the login when the IdP sends no username.
    oidc_email_domain: str | None = None
    # Twilio <Say> voices per language; None: Twilio's default voice for that language.
    twilio_voice_zh: str | None = None
    twilio_voice_en: str | None = None
    timer_sweep_interval_s: float = 1.0
    # Callbacks by machine (回访): None: on when Twilio is configured. The first call goes
    # this long after the case is resolved, the next ones this far apart (in working hours:
    # on working days from the day shift's start to the night shift's).
    auto_callbacks: bool | None = None
    auto_callback_delay_s: Annotated[int, Field(ge=0, le=7 * 86_400)] = 30 * 60
    auto_callback_retry_s: Annotated[int, Field(ge=60, le=7 * 86_400)] = 2 * 3600
    # "sms": the survey goes by SMS even where Twilio could call (answered by SMS replies).
    auto_callback_channel: Literal["voice", "sms"] = "voice"
    # Closed loop: an accepted emergency's owner confirms "on site" within this
    # long or the ladder is re-alerted; an accepted case not resolved within the next is chased.
    on_site_within_s: int = 30 * 60
    resolve_within_s: int = 2 * 3600
    # Shifts of the answer-time figures: the day shift starts at this local hour, the night
    # shift at the other; a rota may replace this later.
    day_shift_start_hour: int = 8
    night_shift_start_hour: int = 20
    # A fall opens its emergency only if the elder sends no `cancel` within this (0: at once).
    fall_cancel_window_s: Annotated[int, Field(ge=0, le=600)] = 30
    # Bounds on what the alerts send (0 switches one off): phone messages per case, per
    # person and per terminal in any hour, and over all in any minute (beyond it they wait).
    # Emergency alerts are never dropped: a person alerted about one of the elder's
    # emergencies hears of the next ones at most once per emergency_fold_s, in one update.
    send_max_per_case_per_hour: Annotated[int, Field(ge=0)] = 20
    send_max_per_person_per_hour: Annotated[int, Field(ge=0)] = 20
    send_max_per_terminal_per_hour: Annotated[int, Field(ge=0)] = 20
    send_max_per_minute: Annotated[int, Field(ge=0)] = 60
    emergency_fold_s: Annotated[int, Field(ge=0, le=3600)] = 120
    # Twilio sends about one SMS segment a second from a long number; 0: not paced.
    twilio_sms_per_s: Annotated[float, Field(ge=0)] = 1.0
    gateway_workers: int = 1
    # Messages each gateway worker holds before it refuses technical reports (presses get
    # twice that). A refused report gets no app ack, so its terminal sends it again.
    gateway_inbox_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    # "127.0.0.1:7050": listen for SIA DC-09 alarm panels there; None: no DC-09 receiver
    dc09_listen: str | None = None
    # One thread per DC-09 connection: caps in all and per source address, and how long a
    # silent one stays open.
    dc09_max_connections: Annotated[int, Field(ge=1, le=10_000)] = 256
    dc09_max_per_source: Annotated[int, Field(ge=1, le=10_000)] = 16
    dc09_idle_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # Failed bearer tokens, broker logins and webhook signatures: this many per source are
    # free, then each one shuts the source out twice as long as the last, up to the ceiling.
    auth_free_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    auth_max_backoff_s: Annotated[float, Field(gt=0, le=86400)] = 300.0
    # The argon2 cost of staff passwords: "standard" in production; "minimal" only where the
    # passwords guard nothing (the test suite sets it: 0.2 s of CPU a hash there is waste).
    password_hash_cost: Literal["standard", "minimal"] = "standard"  # noqa: S105 - no secret
    # "0.0.0.0:7060": listen for 4G SOS watches there; None: no watch receiver. The watch
    # protocol carries no secret: expose it only on a private APN or VPN.
    watch_listen: str | None = None
    # Watches hold a connection each; caps keep one source (or a flood) from taking them all.
    watch_max_connections: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    watch_max_per_source: Annotated[int, Field(ge=1, le=100_000)] = 20
    # Alarm storms (issue 21): this many terminals of one district or hub (or this share of
    # it, never fewer than the floor) with a technical trouble within the window make one
    # area incident instead of a device case and family SMS each. The incident closes once
    # the close share of its terminals are back; one still down after the follow-up gets
    # its own device case.
    storm_window_s: Annotated[int, Field(ge=1, le=86400)] = 120
    storm_terminals: Annotated[int, Field(ge=2, le=1_000_000)] = 20
    storm_share: Annotated[float, Field(gt=0, le=1)] = 0.05
    storm_floor: Annotated[int, Field(ge=2, le=1_000_000)] = 5
    storm_close_share: Annotated[float, Field(gt=0, le=1)] = 0.8
    storm_followup_s: Annotated[int, Field(ge=0, le=86400)] = 1800
    # A trouble while others of its district or hub have one: its case waits this long.
    storm_hold_s: Annotated[int, Field(ge=0, le=3600)] = 60
    # A lone power loss (the first of a blackout?): its case waits this long; 0: at once.
    storm_settle_s: Annotated[int, Field(ge=0, le=3600)] = 30
    # Watches link (LK) every few minutes; a connection silent this long is closed.
    watch_idle_timeout_s: Annotated[float, Field(gt=0, le=86_400)] = 900.0
    # A watch taken off the wrist and not worn again within this long opens a care case
    # for elders flagged for it (Elder.taken_off_case).
    watch_taken_off_case_s: Annotated[int, Field(ge=60, le=7 * 86_400)] = 30 * 60
    # Positions (the tracks) are deleted this many days after they were received.
    position_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then VNH_* variables, then a .env file, then files in VNH_SECRETS_DIR."""
        # Read when Settings() is built, not at import, like every other setting.
        secrets_dir = os.environ.get(SECRETS_DIR_ENV)
        if secrets_dir:
            file_secret_settings = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @field_validator("serial_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @model_validator(mode="after")
    def _phones_in_e164(self) -> Settings:
        # A bad region or supervisor number stops the start with a clear error, rather than
        # an emergency's last rung paging nobody.
        self.phone_region = checked_region(self.phone_region)
        if self.supervisor_phone:
            self.supervisor_phone = to_e164(self.supervisor_phone, self.phone_region)
        return self

    @model_validator(mode="after")
    def _shared_group_needs_broker(self) -> Settings:
        if self.mqtt_shared_group and not self.mqtt_url:
            raise ValueError(
                "VNH_MQTT_SHARED_GROUP needs an external MQTT 5 broker (VNH_MQTT_URL, e.g. "
                "Mosquitto): the embedded amqtt broker speaks MQTT 3.1.1 only, without $share"
            )
        return self

    def webhook_config_error(self) -> str | None:
        """Why the Twilio webhooks cannot be checked safely with these settings, or None.

        A webhook's signature covers the URL Twilio called. Without VNH_PUBLIC_URL the only
        URL left is the one the request claims (its Host header), which whoever sends the
        request chooses: such a check proves little, so `vnh serve` refuses to start.
        """
        if not self.twilio_configured:
            return None  # no Twilio account: the webhooks answer 404 and check nothing
        url = urlsplit(self.public_url or "")
        if not self.public_url:
            return (
                "Twilio is configured (VNH_TWILIO_*) but VNH_PUBLIC_URL is not set: set it to "
                "the URL Twilio reaches this service at (e.g. https://vnh.example.org), so the "
                "webhooks' signatures are checked against it and not against the request's "
                "Host header"
            )
        if url.scheme not in ("http", "https") or not url.hostname:
            return (
                "VNH_PUBLIC_URL must be an http(s) URL such as https://vnh.example.org, "
                f"not {self.public_url!r}"
            )
        return None

    @property
    def storm_rule(self) -> StormRule:
        """The alarm-storm thresholds as the domain rule."""
        return StormRule(
            window_s=self.storm_window_s,
            terminals=self.storm_terminals,
            share=self.storm_share,
            floor=self.storm_floor,
            close_share=self.storm_close_share,
            followup_s=self.storm_followup_s,
            hold_s=self.storm_hold_s,
            settle_s=self.storm_settle_s,
        )

    @property
    def wechat_configured(self) -> bool:
        """True when every WeChat setting needed to send template messages is present."""
        return bool(self.wechat_app_id and self.wechat_app_secret and self.wechat_template_id)

    def wechat_config_error(self) -> str | None:
        """Why the WeChat settings cannot work as given (some set, not all), or None."""
        named = {
            "VNH_WECHAT_APP_ID": self.wechat_app_id,
            "VNH_WECHAT_APP_SECRET": self.wechat_app_secret,
            "VNH_WECHAT_TEMPLATE_ID": self.wechat_template_id,
            "VNH_WECHAT_TOKEN": self.wechat_token,
        }
        missing = [name for name, value in named.items() if not value]
        if not missing or len(missing) == len(named):
            return None
        return (
            f"WeChat is only partly configured: set {', '.join(missing)} too (or none of "
            "them): the template messages need the app id, secret and template, and the "
            "webhook that binds people and takes their replies needs the token"
        )

    @property
    def auto_callbacks_on(self) -> bool:
        """Whether the service makes the callbacks itself (by default only with Twilio)."""
        return self.twilio_configured if self.auto_callbacks is None else self.auto_callbacks

    @property
    def twilio_configured(self) -> bool:
        """True when every Twilio setting needed to send is present."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def effective_mqtt_url(self) -> str:
        """The broker URL the gateway connects to: the configured one or the embedded one."""
        if self.mqtt_url:
            return self.mqtt_url
        return f"mqtt://{self.embedded_mqtt_host}:{self.embedded_mqtt_port}"
