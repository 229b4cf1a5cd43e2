"""Settings: every environment variable the platform reads, each default written once.

Values come from the environment, then an optional TOML file (`PORTICO_CONFIG`), then the
defaults below. Secrets have no usable default in production (`PORTICO_ENV=production`).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(Exception):
    """The configuration is missing something or holds a value that cannot work."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = ""  # empty: start the embedded PostgreSQL
    mqtt_url: str = ""  # empty: start the embedded MQTT broker
    data_dir: Path = Path("var")
    bind: str = "127.0.0.1"
    portal_port: int = 8080
    console_port: int = 8000
    embedded_mqtt_port: int = 0  # 0: a free loopback port
    # The address routers and phones use to reach the portal (what openNDS's faspath points at).
    public_portal_url: str = ""
    public_console_url: str = ""
    secret_key: str = field(default="", repr=False)
    # Broker accounts (docs/broker-security.md). The portal role's MQTT URL, with the portal's
    # own account (empty: MQTT_URL). How routers reach the broker, given to them when they
    # redeem an install code (empty: MQTT_URL's host and port, without its credentials).
    portal_mqtt_url: str = field(default="", repr=False)
    public_mqtt_url: str = ""
    # A Mosquitto that Portico administers: it writes portico.passwd and portico.acl into this
    # folder and sends SIGHUP to the pid in mosquitto_pid_file when they change. Empty: the
    # broker at MQTT_URL is the operator's to secure.
    mosquitto_auth_dir: str = ""
    mosquitto_pid_file: str = ""
    ack_timeout: float = 5.0
    # The wait for a grant (auth, restore): room for several of openNDS's ~1 s tries when its
    # binauth race refuses a run of them (docs/login-flow.md).
    grant_timeout: float = 12.0
    command_ttl: int = 30
    db_pool_size: int = 10
    # The controller's MQTT client id: its persistent session (what it has not acked yet is
    # delivered again after a crash). One per controller process; empty: portico-ctrl-<host>.
    controller_id: str = ""
    log_level: str = "INFO"
    # SMS one-time codes (portal/sms.py, docs/logins.md "SMS code"): "outbox" keeps each text in
    # the console's SMS outbox instead of sending it (development); "aliyun" sends it with
    # Alibaba Cloud SMS (Dysmsapi SendSms) under the approved sign name and template, whose one
    # variable is ${code}.
    sms_provider: str = "outbox"
    aliyun_sms_access_key_id: str = ""
    aliyun_sms_access_key_secret: str = field(default="", repr=False)
    aliyun_sms_sign_name: str = ""
    aliyun_sms_template_code: str = ""
    # An approved template for coupon texts (variables ${title} and ${code}); none: coupons are
    # not texted through Alibaba Cloud (the outbox provider texts them always).
    aliyun_sms_coupon_template_code: str = ""
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    # An approved template for marketing texts (one variable, ${message}); none: marketing SMS
    # are not sent through Alibaba Cloud (the outbox provider keeps them always).
    aliyun_sms_marketing_template_code: str = ""
    # The secret part of the address Alibaba Cloud pushes shoppers' replies to
    # (/sms/replies/aliyun/<token>, portal/sms_inbound.py: a "T" ends their marketing-SMS
    # consent); none: that address answers 404.
    aliyun_sms_inbound_token: str = field(default="", repr=False)
    # Marketing dispatch (marketing/dispatch.py, docs/marketing-dispatch.md): how many tries a
    # contact gets before it is 'failed'; the wait before the first retry in seconds (doubled
    # at each retry, with jitter, at most an hour); the timeout of every call to a channel (a
    # webhook, WeChat); and the base URL of WeChat's API (a local model in tests).
    marketing_max_attempts: int = 8
    marketing_backoff_base: float = 5.0
    marketing_send_timeout: float = 5.0
    # How long a claim holds a contact (seconds): a dispatcher killed mid-send leaves it pending
    # this long before another claims it and sends it again under the same delivery id. 0: 60 s,
    # or four send timeouts when that is longer.
    marketing_lease: float = 0.0
    marketing_wechat_api_url: str = "https://api.weixin.qq.com"
    # Email to console users (accounts/email.py, docs/console.md "Email"): "outbox" keeps each
    # message in the console's email outbox instead of sending it (development); "smtp" sends it
    # through the SMTP server below. smtp_security: "starttls" (port 587), "tls" (implicit TLS,
    # port 465) or "none" (plain, only to a server on this machine).
    email_provider: str = "outbox"
    email_from: str = "Portico <no-reply@portico.local>"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_timeout: float = 10.0

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def portal_url(self) -> str:
        return self.public_portal_url or f"http://{_host_for_url(self.bind)}:{self.portal_port}"

    @property
    def portal_broker_url(self) -> str:
        return self.portal_mqtt_url or self.mqtt_url

    @property
    def router_broker_url(self) -> str:
        return self.public_mqtt_url or self.mqtt_url

    @property
    def console_url(self) -> str:
        return self.public_console_url or f"http://{_host_for_url(self.bind)}:{self.console_port}"


def _host_for_url(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "") else bind  # noqa: S104 - only a display name


_ENV_PREFIX = "PORTICO_"
_UNPREFIXED = {"database_url": "DATABASE_URL", "mqtt_url": "MQTT_URL"}


def env_name(name: str) -> str:
    return _UNPREFIXED.get(name, _ENV_PREFIX + name.upper())


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, the optional TOML file and keyword overrides."""
    environ = dict(os.environ if environ is None else environ)
    raw: dict[str, Any] = {}
    config_file = environ.get("PORTICO_CONFIG")
    if config_file:
        raw.update(_read_toml(Path(config_file)))
    for f in fields(Settings):
        value = environ.get(env_name(f.name))
        if value is not None and value != "":
            raw[f.name] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    values = {
        f.name: _coerce(f.name, f.type, raw[f.name]) for f in fields(Settings) if f.name in raw
    }
    settings = Settings(**values)
    checked = _check_sms(_check_secrets(_check_waits(_check_broker_admin(settings))))
    return _check_marketing(_check_email(checked))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"PORTICO_CONFIG points at {path}, which does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(unknown)}")
    return data


def _coerce(name: str, type_name: Any, value: Any) -> Any:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{env_name(name)}={value!r} is not a valid {kind}") from exc
    return str(value)


def _check_waits(settings: Settings) -> Settings:
    # A router accepts at most a minute of wait_ms (controller.topics.MAX_WAIT_MS).
    if not 0 < settings.ack_timeout <= 60:
        raise ConfigError("PORTICO_ACK_TIMEOUT must be more than 0 and at most 60 seconds")
    if not settings.ack_timeout <= settings.grant_timeout <= 60:
        raise ConfigError(
            "PORTICO_GRANT_TIMEOUT must be between PORTICO_ACK_TIMEOUT and 60 seconds"
        )
    return settings


def _check_broker_admin(settings: Settings) -> Settings:
    if bool(settings.mosquitto_auth_dir) != bool(settings.mosquitto_pid_file):
        raise ConfigError(
            "PORTICO_MOSQUITTO_AUTH_DIR and PORTICO_MOSQUITTO_PID_FILE go together: Portico "
            "writes the broker's password and ACL files into the one and signals the other"
        )
    if settings.mosquitto_auth_dir and not settings.mqtt_url:
        raise ConfigError(
            "PORTICO_MOSQUITTO_AUTH_DIR administers the broker at MQTT_URL; without MQTT_URL "
            "Portico runs (and secures) its own embedded broker"
        )
    return settings


SMS_PROVIDERS = ("outbox", "aliyun")
_ALIYUN_REQUIRED = (
    "aliyun_sms_access_key_id",
    "aliyun_sms_access_key_secret",
    "aliyun_sms_sign_name",
    "aliyun_sms_template_code",
)


def _check_sms(settings: Settings) -> Settings:
    if settings.sms_provider not in SMS_PROVIDERS:
        raise ConfigError(f"PORTICO_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}")
    if settings.sms_provider != "aliyun":
        return settings
    missing = [env_name(name) for name in _ALIYUN_REQUIRED if not getattr(settings, name)]
    if missing:
        raise ConfigError(f"PORTICO_SMS_PROVIDER=aliyun needs {', '.join(missing)}")
    endpoint = urlsplit(settings.aliyun_sms_endpoint)
    # The access key signs every request: plain HTTP only to a server on this machine (tests).
    loopback = endpoint.hostname in ("127.0.0.1", "::1", "localhost")
    if endpoint.scheme != "https" and not (endpoint.scheme == "http" and loopback):
        raise ConfigError("PORTICO_ALIYUN_SMS_ENDPOINT must be an https:// URL")
    return settings


def _check_marketing(settings: Settings) -> Settings:
    if not 1 <= settings.marketing_max_attempts <= 50:
        raise ConfigError("PORTICO_MARKETING_MAX_ATTEMPTS must be from 1 to 50")
    if not 0 < settings.marketing_backoff_base <= 3600:
        raise ConfigError("PORTICO_MARKETING_BACKOFF_BASE must be more than 0 and at most 3600 s")
    if not 0 < settings.marketing_send_timeout <= 60:
        raise ConfigError("PORTICO_MARKETING_SEND_TIMEOUT must be more than 0 and at most 60 s")
    # A contact's sends take at most four calls (WeChat: a token, the send, a new token, the
    # send again): a shorter lease would let a second dispatcher send it while the first still is.
    lease = settings.marketing_lease or max(60.0, 4 * settings.marketing_send_timeout)
    if not 4 * settings.marketing_send_timeout <= lease <= 3600:
        raise ConfigError(
            "PORTICO_MARKETING_LEASE must be at least 4 × PORTICO_MARKETING_SEND_TIMEOUT and at "
            "most 3600 s"
        )
    api = urlsplit(settings.marketing_wechat_api_url)
    # The AppSecret and access tokens travel in its URLs: plain HTTP only on this machine.
    loopback = api.hostname in ("127.0.0.1", "::1", "localhost")
    if api.scheme != "https" and not (api.scheme == "http" and loopback):
        raise ConfigError("PORTICO_MARKETING_WECHAT_API_URL must be an https:// URL")
    return replace(settings, marketing_lease=lease)


EMAIL_PROVIDERS = ("outbox", "smtp")
SMTP_SECURITY = ("starttls", "tls", "none")


def _check_email(settings: Settings) -> Settings:
    if settings.email_provider not in EMAIL_PROVIDERS:
        raise ConfigError(f"PORTICO_EMAIL_PROVIDER must be one of {', '.join(EMAIL_PROVIDERS)}")
    if settings.smtp_security not in SMTP_SECURITY:
        raise ConfigError(f"PORTICO_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}")
    if "@" not in settings.email_from or any(ch in settings.email_from for ch in "\r\n"):
        raise ConfigError("PORTICO_EMAIL_FROM must be an address, as 'Name <a@b.example>'")
    if settings.email_provider != "smtp":
        return settings
    if not settings.smtp_host:
        raise ConfigError("PORTICO_EMAIL_PROVIDER=smtp needs PORTICO_SMTP_HOST")
    if not 0 < settings.smtp_port < 65536 or not 0 < settings.smtp_timeout <= 120:
        raise ConfigError("PORTICO_SMTP_PORT must be a port, PORTICO_SMTP_TIMEOUT 0-120 seconds")
    # The password crosses the network: in the clear only to a server on this machine (tests).
    loopback = settings.smtp_host in ("127.0.0.1", "::1", "localhost")
    if settings.smtp_security == "none" and not loopback:
        raise ConfigError("PORTICO_SMTP_SECURITY=none is allowed only for a server on 127.0.0.1")
    return settings


def _check_secrets(settings: Settings) -> Settings:
    if settings.env not in ("development", "production", "test"):
        raise ConfigError("PORTICO_ENV must be development, production or test")
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise ConfigError("PORTICO_SECRET_KEY must be at least 32 characters")
        return settings
    if settings.production:
        raise ConfigError("PORTICO_SECRET_KEY must be set in production (32+ random characters)")
    return _with_dev_secret(settings)


def _with_dev_secret(settings: Settings) -> Settings:
    """Outside production, keep one random secret per data directory so cookies survive restarts."""
    path = settings.data_dir / "dev-secret"
    if path.exists():
        secret = path.read_text().strip()
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret + "\n")
        path.chmod(0o600)
    return replace(settings, secret_key=secret)
