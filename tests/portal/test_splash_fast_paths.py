"""The splash view's fast paths give exactly what the plain ones give (issue 5, benchmarks):
the page filled into a pre-rendered skeleton, the FAS parser's shortcuts, and the caches."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import uuid
from urllib.parse import quote

import jinja2
import pytest

import ads.services as ads
import kernel.cache
from kernel.cache import TtlCache
from kernel.i18n import translator
from kernel.privacy import normalize_mac
from kernel.web import make_templates
from portal import fas, views
from portal.messages import CATALOG

AD = ads.Ad(
    campaign_id=uuid.uuid4(),
    creative_id=uuid.uuid4(),
    advertiser="Lucky <Bean> & Co",
    headline="Any latte ¥9.9 'this' week",
    body="",
    coupon_id=uuid.uuid4(),
    coupon_title='拿铁立减 10 元 "today"',
)
HOSTILE = ['a"b', "<script>x</script>", "{0}{raw_fas}}{", "x&y=1&lang=en", "中文 é", "\x00", "'"]


def full_page(env: jinja2.Environment, look: views._Look, shopper: dict[str, str | None]) -> bytes:
    """The page as jinja2 renders it in one go, from the same values."""
    context = {k: v for k, v in look._asdict().items() if k != "present"}
    template = env.get_template("portal/splash.html")
    return template.render(_=translator(CATALOG, look.lang), **context, **shopper).encode()


def a_view(lang: str, ad: ads.Ad | None, error: str | None, coupon_code: str | None, raw: str):
    shopper = {
        "raw_fas": raw,
        "ad_image": f"/ad/show/{raw[:8]}" if ad else None,
        "ad_seen": None,
        "ad_click": f"/ad/go/{raw[:8]}" if ad else None,
        "ad_token": raw[:8] if ad else None,
        "switch_url": views.splash_url("ap-1", raw, views.other_language(lang)),
        "coupon_code": coupon_code,
    }
    look = views._Look(
        lang,
        "Demo <Mall> & 'Co'",
        "#0a7d5a",
        "#ffffff",
        "#1f2937",
        "/look/m/s/logo",
        "" if error else "/look/m/s/background",
        "" if error else "Welcome {friend}",
        ad,
        error,
        "/fas/ap-1/login",
        "/fas/ap-1/coupon",
        ("click",),
        "/fas/ap-1",
        "/terms/m/s/1",
        tuple(map(bool, shopper.values())),
    )
    return look, shopper


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("ad", [AD, None])
@pytest.mark.parametrize("error", [None, "error_terms_required"])
@pytest.mark.parametrize("coupon_code", [None, "AB<12>&"])
def test_the_two_step_page_is_the_page_jinja_renders(
    lang: str, ad: ads.Ad | None, error: str | None, coupon_code: str | None
) -> None:
    env = make_templates("portal")
    views._skeletons.clear()
    raws = ["aGlkPWFiYw+/==", "Zm9v+YmFy/&iv=0123456789abcdef", *HOSTILE]
    for raw in raws:  # the first builds the look's skeleton, the others fill it in
        look, shopper = a_view(lang, ad, error, coupon_code, raw)
        assert views._splash_page(env, look, shopper) == full_page(env, look, shopper), raw
    assert len(views._skeletons._entries) == 1  # one look, one skeleton, whatever the shopper


def test_a_template_that_transforms_a_shopper_field_is_rendered_in_full() -> None:
    splash = (
        "{{ brand_name }}|{{ raw_fas|upper }}|{{ switch_url }}|{{ lang }}{{ ad_image }}"
        "{{ coupon_code }}{{ welcome }}{{ brand_color }}{{ error }}{{ login_action }}"
        "{{ coupon_action }}{{ ad }}{{ _('title') }}"
    )
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"portal/splash.html": splash}), autoescape=True
    )
    views._skeletons.clear()
    for raw in ["abc", "def<"]:
        look, shopper = a_view("en", None, None, None, raw)
        assert views._skeleton(env, look, shopper) == views._RENDER_IN_FULL
        assert views._splash_page(env, look, shopper) == full_page(env, look, shopper)


def test_the_splash_link_escapes_any_redirect_exactly_as_quote_does() -> None:
    rng = random.Random(5)
    alphabet = "AZaz09+/=&%-_.~ <>\"'中\n\x00"
    for _ in range(20_000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert views.quote_carried(raw) == quote(raw, safe=""), raw


def test_the_ipv4_shortcut_takes_exactly_the_addresses_ipaddress_writes_back_unchanged() -> None:
    octets = [str(n) for n in range(1000)] + [f"0{n}" for n in range(100)] + ["00", "000"]
    for octet in octets:
        for value in (f"{octet}.1.2.3", f"1.2.3.{octet}"):
            try:
                canonical = str(ipaddress.ip_address(value))
            except ValueError:
                canonical = None
            assert bool(fas._CANONICAL_IPV4.fullmatch(value)) == (canonical == value), value
    for value in ["10.0.0.1", "::1", "fe80::1", "::ffff:1.2.3.4", "1.2.3.4 ", "١.2.3.4"]:
        try:
            expected = str(ipaddress.ip_address(value))
        except ValueError:
            with pytest.raises(fas.BadRedirect):
                fas._ip(value, "clientip")
        else:
            assert fas._ip(value, "clientip") == expected


def test_the_mac_shortcut_agrees_with_normalize_mac() -> None:
    samples = ["aa:bb:cc:dd:ee:ff", "AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabbccddeeff"]
    samples += [
        "aa:bb:cc:dd:ee",
        "zz:bb:cc:dd:ee:ff",
        "",
        " aa:bb:cc:dd:ee:ff",
        "aa:bb:cc:dd:ee:fF",
    ]
    for value in samples:
        assert fas._mac(value) == normalize_mac(value), value
        assert fas._gateway_mac(value) == normalize_mac(value), value


def test_a_bad_gateway_field_is_refused_every_time_not_only_the_first() -> None:
    good = {
        "hid": "a" * 64,
        "clientip": "10.0.0.2",
        "clientmac": "aa:bb:cc:dd:ee:01",
        "gatewayaddress": "10.0.0.1:2050",
        "gatewayname": "Mall%20Node:02%20",
    }
    assert fas.parse_fas(fas.encode_fas(good)).gateway_name == "Mall"
    for bad in [{"gatewayaddress": "10.0.0.1:99999"}, {"gatewaymac": "zz"}]:
        for _ in range(2):
            with pytest.raises(fas.BadRedirect):
                fas.parse_fas(fas.encode_fas({**good, **bad}))


async def test_callers_missing_the_same_entry_share_one_load() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return 42

    assert await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(20))) == [42] * 20
    assert loads == 1
    assert await cache.get_or_load("k", load) == 42 and loads == 1


async def test_a_failed_load_raises_in_every_caller_and_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0)
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise LookupError("gone")

    results = await asyncio.gather(
        *(cache.get_or_load("k", load) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, LookupError) for r in results) and calls == 1
    with pytest.raises(LookupError):
        await cache.get_or_load("k", load)
    assert calls == 2


class _Clock:
    """kernel.cache's clock, moved by the test (a busy machine's pauses do not age entries)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_a_hot_entry_is_renewed_in_the_background_before_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(kernel.cache, "time", clock)
    cache: TtlCache[str, int] = TtlCache(0.2)
    values = iter([1, 2])

    async def load() -> int:
        await asyncio.sleep(0.01)
        return next(values)

    assert await cache.get_or_load("k", load, refresh_ahead=0.1) == 1
    clock.now += 0.05  # not yet in the last 0.1 s: nothing is loaded
    assert await cache.get_or_load("k", load, refresh_ahead=0.1) == 1
    await asyncio.sleep(0.05)
    assert cache.get("k") == 1
    clock.now += 0.1  # in the last 0.1 s: the old value now, a new one read meanwhile
    assert await cache.get_or_load("k", load, refresh_ahead=0.1) == 1
    deadline = asyncio.get_running_loop().time() + 10
    while cache.get("k") != 2:  # the clock stands still: only the background load renews it
        assert asyncio.get_running_loop().time() < deadline, "the hot entry was not renewed"
        await asyncio.sleep(0.01)


async def test_clear_forgets_a_load_begun_before_it() -> None:
    cache: TtlCache[str, int] = TtlCache(5.0)

    async def load() -> int:
        await asyncio.sleep(0.01)
        return 1

    pending = asyncio.ensure_future(cache.get_or_load("k", load))
    await asyncio.sleep(0)
    cache.clear()
    assert await pending == 1
    assert cache.get("k") is None


def test_the_carried_redirect_is_the_first_fas_and_iv_as_raw_query_param_finds_them() -> None:
    rng = random.Random(7)
    pairs = [
        "fas=abc",
        "fas=",
        "fas",
        "iv=12",
        "iv",
        "iv=",
        "lang=en",
        "=x",
        "",
        "fas=d+/=",
        "x=fas=1",
    ]
    for _ in range(20_000):
        query = "&".join(rng.choice(pairs) for _ in range(rng.randint(0, 5)))
        raw_fas = fas.raw_query_param(query, "fas")
        raw_iv = fas.raw_query_param(query, "iv")
        expected = raw_fas if raw_fas is None or raw_iv is None else f"{raw_fas}&iv={raw_iv}"
        assert fas.carried_redirect(query) == expected, query


def test_shopper_fields_are_escaped_exactly_as_markupsafe_escapes_them() -> None:
    from markupsafe import Markup, escape

    rng = random.Random(11)
    alphabet = "ab<>&\"'%{}中\x00 ;#"
    for _ in range(20_000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert views._escaped(value) == str(escape(value)).encode(), value
    for value in [Markup("<b>x</b>"), None, 42, "&amp;"]:
        assert views._escaped(value) == str(escape(value)).encode()


def test_an_index_refresh_keeps_the_ad_and_so_the_pages_cached_with_it() -> None:
    """The index is read again every few seconds into new objects: an ad whose values did not
    change is the same Ad (the page cache's key holds it by identity); a changed one is not."""
    from datetime import UTC, datetime, timedelta

    from ads import decision as d
    from ads import delivery

    now = datetime.now(UTC)

    def read_index(headline: str) -> tuple[delivery.Content, d.LineItem]:
        ids = [uuid.UUID(int=n) for n in range(1, 6)]
        content = delivery.Content(
            ids[0], ids[1], ids[2], "Bean", "image", headline, "zh", "", "", None, ids[3], 0
        )
        campaign = d.Campaign(ids[2], ids[1], now - timedelta(hours=1), now + timedelta(hours=1))
        return content, d.LineItem(ids[4], campaign, (d.Creative(ids[0]),))

    coupon = (uuid.UUID(int=9), "¥10 off", "立减 10 元")
    first = ads._ad_of(*read_index("Latte"), False, coupon)
    again = ads._ad_of(*read_index("Latte"), False, tuple(coupon))
    assert again is first
    changed = ads._ad_of(*read_index("Latte ¥9.9"), False, coupon)
    assert changed is not first and changed.headline == "Latte ¥9.9"
    assert ads._ad_of(*read_index("Latte"), True, coupon) is not first  # another language
    assert ads._ad_of(*read_index("Latte"), False, None).coupon_id is None
