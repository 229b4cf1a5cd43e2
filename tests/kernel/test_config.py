"""Settings from the environment and a TOML file; secrets in production."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel.config import ConfigError, load_settings


def test_defaults_and_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"PORTICO_DATA_DIR": str(tmp_path), "PORTICO_PORTAL_PORT": "9090", "MQTT_URL": "mqtt://b"}
    )
    assert settings.portal_port == 9090
    assert settings.console_port == 8000
    assert settings.mqtt_url == "mqtt://b"
    assert settings.database_url == ""
    assert settings.portal_url == "http://127.0.0.1:9090"


def test_development_secret_is_generated_once_per_data_dir(tmp_path: Path) -> None:
    first = load_settings({"PORTICO_DATA_DIR": str(tmp_path)})
    second = load_settings({"PORTICO_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "dev-secret").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PORTICO_SECRET_KEY must be set"):
        load_settings({"PORTICO_ENV": "production", "PORTICO_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="at least 32"):
        load_settings({"PORTICO_ENV": "production", "PORTICO_SECRET_KEY": "short"})
    ok = load_settings({"PORTICO_ENV": "production", "PORTICO_SECRET_KEY": "k" * 40})
    assert ok.production


def test_toml_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "portico.toml"
    config.write_text('console_port = 8100\nportal_port = 8180\nbind = "0.0.0.0"\n')
    settings = load_settings(
        {
            "PORTICO_CONFIG": str(config),
            "PORTICO_PORTAL_PORT": "8280",
            "PORTICO_DATA_DIR": str(tmp_path),
        }
    )
    assert (settings.console_port, settings.portal_port, settings.bind) == (8100, 8280, "0.0.0.0")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORTICO_PORTAL_PORT": "eighty"}, "PORTICO_PORTAL_PORT='eighty' is not a valid int"),
        ({"PORTICO_ENV": "staging"}, "PORTICO_ENV must be"),
        ({"PORTICO_CONFIG": "/nonexistent/portico.toml"}, "does not exist"),
    ],
)
def test_bad_configuration_is_explained(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"PORTICO_DATA_DIR": str(tmp_path), **environ})


def test_unknown_or_broken_toml_is_explained(tmp_path: Path) -> None:
    config = tmp_path / "portico.toml"
    config.write_text("portal_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown settings portal_prot"):
        load_settings({"PORTICO_CONFIG": str(config)})
    config.write_text("portal_port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"PORTICO_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORTICO_ACK_TIMEOUT": "0"}, "PORTICO_ACK_TIMEOUT must be more than 0"),
        ({"PORTICO_ACK_TIMEOUT": "61"}, "at most 60 seconds"),
        (
            {"PORTICO_ACK_TIMEOUT": "8", "PORTICO_GRANT_TIMEOUT": "6"},
            "GRANT_TIMEOUT must be between",
        ),
        ({"PORTICO_GRANT_TIMEOUT": "90"}, "GRANT_TIMEOUT must be between"),
    ],
)
def test_waits_a_router_cannot_honour_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings({"PORTICO_DATA_DIR": str(tmp_path), **env})


def test_grants_wait_longer_than_other_commands_by_default(tmp_path: Path) -> None:
    settings = load_settings({"PORTICO_DATA_DIR": str(tmp_path)})
    assert (settings.ack_timeout, settings.grant_timeout) == (5.0, 12.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORTICO_MOSQUITTO_AUTH_DIR": "/x", "MQTT_URL": "mqtt://b"}, "go together"),
        ({"PORTICO_MOSQUITTO_PID_FILE": "/x.pid", "MQTT_URL": "mqtt://b"}, "go together"),
        (
            {"PORTICO_MOSQUITTO_AUTH_DIR": "/x", "PORTICO_MOSQUITTO_PID_FILE": "/x.pid"},
            "without MQTT_URL Portico runs (and secures) its own embedded broker",
        ),
    ],
)
def test_an_administered_broker_needs_its_folder_pid_file_and_url(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings({"PORTICO_DATA_DIR": str(tmp_path), **env})


def test_routers_and_the_portal_reach_the_broker_as_told(tmp_path: Path) -> None:
    plain = load_settings({"PORTICO_DATA_DIR": str(tmp_path), "MQTT_URL": "mqtt://c:pw@b"})
    assert plain.portal_broker_url == plain.router_broker_url == "mqtt://c:pw@b"
    told = load_settings(
        {
            "PORTICO_DATA_DIR": str(tmp_path),
            "MQTT_URL": "mqtt://c:pw@internal",
            "PORTICO_PORTAL_MQTT_URL": "mqtt://p:pw@internal",
            "PORTICO_PUBLIC_MQTT_URL": "mqtts://mqtt.example.com:8883",
        }
    )
    assert told.portal_broker_url == "mqtt://p:pw@internal"
    assert told.router_broker_url == "mqtts://mqtt.example.com:8883"
    assert "p:pw@internal" not in repr(told)  # the portal's password stays out of logs


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORTICO_MARKETING_MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS must be from 1 to 50"),
        ({"PORTICO_MARKETING_BACKOFF_BASE": "0"}, "BACKOFF_BASE must be more than 0"),
        ({"PORTICO_MARKETING_SEND_TIMEOUT": "120"}, "SEND_TIMEOUT must be more than 0"),
        ({"PORTICO_MARKETING_LEASE": "19"}, "LEASE must be at least 4 × PORTICO_MARKETING_SEND"),
        ({"PORTICO_MARKETING_WECHAT_API_URL": "http://api.weixin.qq.com"}, "https:// URL"),
    ],
)
def test_marketing_dispatch_settings_that_cannot_work_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings({"PORTICO_DATA_DIR": str(tmp_path), **env})


def test_marketing_dispatch_defaults_and_a_local_wechat_model(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PORTICO_DATA_DIR": str(tmp_path),
            "PORTICO_MARKETING_WECHAT_API_URL": "http://127.0.0.1:9000",
        }
    )
    assert (settings.marketing_max_attempts, settings.marketing_backoff_base) == (8, 5.0)
    assert settings.marketing_lease == 60.0
    longer = load_settings(
        {"PORTICO_DATA_DIR": str(tmp_path), "PORTICO_MARKETING_SEND_TIMEOUT": "30"}
    )
    assert longer.marketing_lease == 120.0  # four sends' worth
    assert settings.marketing_wechat_api_url == "http://127.0.0.1:9000"
