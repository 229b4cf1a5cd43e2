"""The Alibaba Cloud SMS provider against a local model of SendSms (simulators/aliyun_sms.py),
which checks each request's signature as the service's gateway does; and the settings that
choose it. Never the network."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from kernel.config import ConfigError, Settings, load_settings
from portal import sms
from simulators.aliyun_sms import AliyunSmsSim, expected_signature

KEY_ID, SECRET = "LTAI5tTestAccessKey", "test-access-key-secret-0123456789"
PHONE = "+8613812345678"


@pytest.fixture
async def service() -> AsyncIterator[AliyunSmsSim]:
    sim = AliyunSmsSim(KEY_ID, SECRET)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def provider(
    http: aiohttp.ClientSession, url: str, *, secret: str = SECRET, timeout: float = 5.0
) -> sms.AliyunSmsProvider:
    return sms.AliyunSmsProvider(
        http,
        access_key_id=KEY_ID,
        access_key_secret=secret,
        sign_name="波蒂科",
        template_code="SMS_123456789",
        endpoint=url,
        timeout=timeout,
    )


def test_signature_of_the_documented_example() -> None:
    """Alibaba Cloud's signature documentation: DescribeRegions with AccessKey testid /
    testsecret signs to CT9X0VtwR86fNWSnsc6v8YGOjuE=."""
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert sms.rpc_string_to_sign("GET", params).startswith(
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    )
    assert "TimeStamp%3D2016-02-23T12%253A46%253A24Z" in sms.rpc_string_to_sign("GET", params)
    assert sms.rpc_signature("GET", params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    assert expected_signature("GET", params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("a*b", "a%2Ab"),
        ("a~b-_.", "a~b-_."),
        ("a+b/c=d&e", "a%2Bb%2Fc%3Dd%26e"),
        ('{"code":"1"}', "%7B%22code%22%3A%221%22%7D"),
        ("波", "%E6%B3%A2"),
    ],
)
def test_percent_encoding_follows_rfc_3986(raw: str, encoded: str) -> None:
    assert sms.percent_encode(raw) == encoded


def test_signed_parameters_are_what_send_sms_needs(http: aiohttp.ClientSession) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    params = provider(http, "https://dysmsapi.aliyuncs.com/").signed_params(
        PHONE, {"code": "042137"}, now=when
    )
    assert params["PhoneNumbers"] == "8613812345678"  # country code, no "+"
    assert params["TemplateParam"] == '{"code":"042137"}'
    assert params["Timestamp"] == "2026-01-02T03:04:05Z"
    assert (params["Action"], params["Version"]) == ("SendSms", "2017-05-25")
    assert params["Signature"] == expected_signature("POST", params, SECRET)


async def test_a_text_is_accepted_by_the_service(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    await provider(http, service.url).send(PHONE, "042137 is your code", {"code": "042137"})
    assert service.answers == [(200, "OK")]
    (sent,) = service.sent
    assert sent["PhoneNumbers"] == "8613812345678"
    assert (sent["SignName"], sent["TemplateCode"]) == ("波蒂科", "SMS_123456789")
    assert json.loads(sent["TemplateParam"]) == {"code": "042137"}


async def test_each_send_has_its_own_nonce(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    client = provider(http, service.url)
    await client.send(PHONE, "one", {"code": "111111"})
    await client.send("+8613912345678", "two", {"code": "222222"})
    assert [code for _status, code in service.answers] == ["OK", "OK"]
    assert service.sent[0]["SignatureNonce"] != service.sent[1]["SignatureNonce"]


async def test_a_wrong_secret_is_refused_by_the_signature_check(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    with pytest.raises(sms.SmsSendFailed) as failed:
        await provider(http, service.url, secret="not-the-secret").send(PHONE, "x", {"code": "1"})
    assert type(failed.value) is sms.SmsSendFailed
    assert service.answers == [(400, "SignatureDoesNotMatch")]
    assert "SignatureDoesNotMatch" in failed.value.detail
    assert service.sent == []


async def test_the_services_flow_control_is_a_429(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    client = provider(http, service.url)
    await client.send(PHONE, "first", {"code": "111111"})
    with pytest.raises(sms.SmsThrottled) as throttled:
        await client.send(PHONE, "second", {"code": "222222"})
    assert throttled.value.status == 429
    assert service.answers[-1] == (200, "isv.BUSINESS_LIMIT_CONTROL")
    assert "13812345678" not in throttled.value.detail


async def test_a_number_the_service_calls_illegal_is_a_bad_number(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    with pytest.raises(sms.SmsNumberRefused) as refused:
        await provider(http, service.url).send("+8612345", "x", {"code": "1"})
    assert refused.value.message_id == "error_bad_phone"
    assert service.answers == [(200, "isv.MOBILE_NUMBER_ILLEGAL")]


async def test_a_server_error_is_a_failed_send(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    service.fail_next.append("http500")
    with pytest.raises(sms.SmsSendFailed) as failed:
        await provider(http, service.url).send(PHONE, "x", {"code": "1"})
    assert type(failed.value) is sms.SmsSendFailed and failed.value.status == 503
    assert "HTTP 500 InternalError" in failed.value.detail


async def test_no_answer_in_time_may_have_sent_the_text(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    service.fail_next.append("hang")
    with pytest.raises(sms.SmsSendUnsure):
        await provider(http, service.url, timeout=0.3).send(PHONE, "x", {"code": "1"})


async def test_a_service_that_cannot_be_reached_sent_nothing(
    http: aiohttp.ClientSession, service: AliyunSmsSim
) -> None:
    url = service.url
    await service.stop()
    with pytest.raises(sms.SmsSendFailed) as failed:
        await provider(http, url).send(PHONE, "x", {"code": "1"})
    assert type(failed.value) is sms.SmsSendFailed
    assert "cannot connect" in failed.value.detail


async def test_an_answer_that_is_not_json_is_a_failed_send(http: aiohttp.ClientSession) -> None:
    from aiohttp import web

    async def proxy_page(request: web.Request) -> web.Response:
        return web.Response(text="<html>502 Bad Gateway</html>", status=502)

    app = web.Application()
    app.router.add_post("/", proxy_page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        with pytest.raises(sms.SmsSendFailed, match="not a JSON object"):
            await provider(http, url).send(PHONE, "x", {"code": "1"})
    finally:
        await runner.cleanup()


# -- settings ---------------------------------------------------------------------------------


def _aliyun(**values: str) -> dict[str, str]:
    return {
        "sms_provider": "aliyun",
        "aliyun_sms_access_key_id": KEY_ID,
        "aliyun_sms_access_key_secret": SECRET,
        "aliyun_sms_sign_name": "波蒂科",
        "aliyun_sms_template_code": "SMS_123456789",
        **values,
    }


def test_settings_choose_the_outbox_by_default(tmp_path: object) -> None:
    settings = load_settings({}, env="test", data_dir=str(tmp_path))
    assert settings.sms_provider == "outbox"
    assert settings.aliyun_sms_endpoint == "https://dysmsapi.aliyuncs.com/"


def test_settings_read_the_aliyun_provider_from_the_environment(tmp_path: object) -> None:
    environ = {
        "PORTICO_SMS_PROVIDER": "aliyun",
        "PORTICO_ALIYUN_SMS_ACCESS_KEY_ID": KEY_ID,
        "PORTICO_ALIYUN_SMS_ACCESS_KEY_SECRET": SECRET,
        "PORTICO_ALIYUN_SMS_SIGN_NAME": "波蒂科",
        "PORTICO_ALIYUN_SMS_TEMPLATE_CODE": "SMS_123456789",
    }
    settings = load_settings(environ, env="test", data_dir=str(tmp_path))
    assert (settings.sms_provider, settings.aliyun_sms_template_code) == ("aliyun", "SMS_123456789")
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"sms_provider": "carrier-pigeon"}, "PORTICO_SMS_PROVIDER must be one of"),
        (_aliyun(aliyun_sms_sign_name=""), "needs PORTICO_ALIYUN_SMS_SIGN_NAME"),
        (_aliyun(aliyun_sms_endpoint="http://sms.example.com/"), "must be an https:// URL"),
    ],
)
def test_settings_refuse_an_sms_provider_that_cannot_work(
    tmp_path: object, values: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load_settings({}, env="test", data_dir=str(tmp_path), **values)


def test_settings_allow_plain_http_only_on_loopback(tmp_path: object) -> None:
    settings: Settings = load_settings(
        {}, env="test", data_dir=str(tmp_path), **_aliyun(aliyun_sms_endpoint="http://127.0.0.1:9/")
    )
    assert settings.aliyun_sms_endpoint == "http://127.0.0.1:9/"
