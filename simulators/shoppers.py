"""Shoppers' phones around a store: who was inside when (the truth), and what the routers heard.

A model of a store's footfall for the demo, the tests and the benchmarks. People come by:
passers-by outside (seconds to 2 minutes, weak signal), shoppers inside (a few bounce within 3
minutes, most stay 5-60 minutes, a few stay hours), regular customers who come back daily,
weekly, biweekly or monthly with the same phone, staff through their 6-9 h shifts, and a few
fixed devices all day. Arrivals follow a weekday × hour curve. Each person carries a phone
(simulators.probes: its model, MAC randomisation and scan timing); each of the store's sensors
(its routers, the zones) hears each probe with an RSSI from a log-distance path loss (the
storefront wall costs 12 dB, so inside is stronger than outside). Some shoppers join the WiFi
(station join/leave, as hostapd reports them) and some of those log in on the portal.

`simulate(profile, start, end, seed)` returns `(frames, truth)`: a time-ordered iterator of
`probes.ProbeFrame` and the `Truth` (every visit, station event and login, and occupancy per
5 minutes). Everything is drawn from `seed` and the day, so a day is the same whichever range
it is simulated in.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from simulators import probes
from simulators.pcap_writer import write_pcap

WINDOW = 300  # seconds: the occupancy windows
SENSITIVITY = -95  # dBm: weaker frames are not received at all
CHANNEL = 6  # the routers' channel; their monitor interface hears probes sent on it


# -- a store --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreProfile:
    """A store's footfall. `hourly`: shoppers arriving per hour on a Monday (24 values, local
    time); `weekday`: Monday … Sunday factors. Zones are the routers; they stand along the
    store's front, `spacing` metres apart."""

    name: str
    zones: tuple[str, ...]
    hourly: tuple[float, ...]
    weekday: tuple[float, ...] = (1.0, 0.95, 1.0, 1.05, 1.25, 1.6, 1.5)
    timezone: str = "Asia/Shanghai"
    opens: float = 10.0  # local hours: staff shifts and fixed opening
    closes: float = 22.0
    passers_per_shopper: float = 2.0
    dwell_minutes: float = 14.0  # median of an ordinary shopper's stay
    bounce_share: float = 0.15  # shoppers who leave within 3 minutes
    long_share: float = 0.06  # who stay 1-4 hours
    staff: int = 4
    fixed: int = 2  # all-day devices (a POS tablet, a printer, a sign)
    regulars: int = 200  # returning customers the store has
    regular_share: float = 0.25  # share of shoppers' visits made by regulars
    connect_share: float = 0.15  # shoppers whose phone joins the WiFi
    login_share: float = 0.6  # of those, who log in on the portal
    spacing: float = 18.0
    depth: float = 20.0

    def __post_init__(self) -> None:
        if len(self.hourly) != 24 or len(self.weekday) != 7:
            raise ValueError("hourly needs 24 values and weekday 7")
        if not self.zones:
            raise ValueError("a store needs at least one zone (router)")


def _curve(peaks: Sequence[tuple[float, float, float]], opens: float, closes: float, base: float):
    """24 hourly values: `base` while open plus Gaussian peaks (hour, width, height)."""
    values = []
    for hour in range(24):
        mid = hour + 0.5
        if not opens <= mid < closes:
            values.append(0.0)
            continue
        level = base + sum(h * math.exp(-(((mid - c) / w) ** 2) / 2) for c, w, h in peaks)
        values.append(round(level, 2))
    return tuple(values)


def mall_store(name: str, zones: Sequence[str], scale: float = 1.0) -> StoreProfile:
    """A mall shop open 10-22: lunch and evening peaks, busy weekends (~700 shoppers a weekday
    at scale 1)."""
    hourly = _curve([(13.0, 1.2, 45), (19.0, 1.5, 60)], 10, 22, 30)
    return StoreProfile(name, tuple(zones), tuple(v * scale for v in hourly))


def food_court(name: str, zones: Sequence[str], scale: float = 1.0) -> StoreProfile:
    """A food court open 10-21: a sharp lunch peak and a dinner peak, long stays at tables."""
    hourly = _curve([(12.3, 0.8, 130), (18.5, 1.0, 80)], 10, 21, 15)
    return StoreProfile(
        name,
        tuple(zones),
        tuple(v * scale for v in hourly),
        weekday=(1.0, 1.0, 1.0, 1.0, 1.1, 1.4, 1.3),
        opens=10.0,
        closes=21.0,
        dwell_minutes=25.0,
        bounce_share=0.08,
        long_share=0.08,
        passers_per_shopper=1.5,
        staff=6,
        connect_share=0.25,
    )


def cafe(name: str, zones: Sequence[str], scale: float = 1.0) -> StoreProfile:
    """A café open 7-20: the morning coffee rush, lunch, laptops staying for hours."""
    hourly = _curve([(8.3, 0.7, 40), (12.5, 0.9, 30), (15.5, 1.0, 12)], 7, 20, 6)
    return StoreProfile(
        name,
        tuple(zones),
        tuple(v * scale for v in hourly),
        weekday=(1.0, 1.0, 1.0, 1.0, 1.1, 0.9, 0.8),
        opens=7.0,
        closes=20.0,
        dwell_minutes=18.0,
        long_share=0.12,
        staff=3,
        fixed=1,
        regulars=120,
        regular_share=0.4,
        connect_share=0.35,
    )


# -- the truth ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Visit:
    """One person at the store, start to end (unix seconds). `kind`: shopper, passer_by,
    staff, fixed. `inside` is false only for passers-by. `person` is stable across the
    visits of a regular, a staff member or a fixed device."""

    person: str
    kind: str
    zone: str  # the router nearest to where they were
    start: float
    end: float
    device: str  # the phone's global MAC (what it probes from when it does not randomise)
    model: str
    assoc_mac: str | None  # the MAC it joins our WiFi with, when it does
    logged_in: bool

    @property
    def inside(self) -> bool:
        return self.kind != "passer_by"

    @property
    def dwell(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class StationEvent:
    """What the router's agent reports as telemetry `station` (hostapd's clients)."""

    ts: float
    zone: str
    event: str  # join / leave
    mac: str
    rssi: int
    person: str


@dataclass(frozen=True, slots=True)
class Login:
    ts: float
    zone: str
    mac: str
    person: str  # the identity they log in with (a phone number, an account)


@dataclass
class Truth:
    """What really happened. `occupancy[w]`: shoppers inside (staff, fixed devices and
    passers-by not counted) at any moment of the 5-minute window starting at unix second `w`,
    counted as people entered and left (a sweep over the visits' ends)."""

    visits: list[Visit] = field(default_factory=list)
    stations: list[StationEvent] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    occupancy: dict[int, int] = field(default_factory=dict)

    def shoppers(self) -> list[Visit]:
        return [v for v in self.visits if v.kind == "shopper"]

    def _add_occupancy(self, visits: Sequence[Visit], start: float, end: float) -> None:
        first = int(start // WINDOW) * WINDOW
        last = math.ceil(end / WINDOW) * WINDOW
        delta = [0] * ((last - first) // WINDOW + 1)
        for visit in visits:
            if visit.kind != "shopper":
                continue
            enter = max(0, int(visit.start - first) // WINDOW)
            leave = math.ceil((visit.end - first) / WINDOW)  # windows it touches end here
            if leave <= enter:
                leave = enter + 1
            delta[enter] += 1
            delta[min(leave, len(delta) - 1)] -= 1
        level = 0
        for index in range((last - first) // WINDOW):
            level += delta[index]
            window = first + index * WINDOW
            self.occupancy[window] = self.occupancy.get(window, 0) + level


# -- people ----------------------------------------------------------------------------------


@dataclass
class _Person:
    person: str
    kind: str
    phone: probes.Phone
    assoc_mac: str | None
    x: float  # metres along the front
    y: float  # metres into the store (negative: outside)
    power: float  # the phone's transmit offset, dB


@dataclass
class _Plan:
    visit: Visit
    who: _Person
    walks: bool  # a passer-by walking along the front


def _day_rng(seed: int, day: date, what: str) -> random.Random:
    return random.Random(f"{seed}:{day.isoformat()}:{what}")


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Store:
    """The store's lasting people (regulars, staff, fixed devices), drawn once from the seed."""

    def __init__(self, profile: StoreProfile, seed: int) -> None:
        self.profile = profile
        self.seed = seed
        rng = random.Random(f"{seed}:{profile.name}:people")
        self.width = profile.spacing * len(profile.zones)
        self.regulars = [self._lasting(rng, f"regular-{i}") for i in range(profile.regulars)]
        # daily (mostly weekdays), weekly, biweekly, monthly: P(a visit on a given day)
        self.regular_rate = [
            rng.choices((5 / 7, 1 / 7, 1 / 14, 1 / 30), (1, 3, 3, 4))[0] for _ in self.regulars
        ]
        self.staff = [self._lasting(rng, f"staff-{i}") for i in range(profile.staff)]
        appliance = probes.MODELS.index(probes.MODEL_BY_NAME["appliance"])
        self.fixed = [
            self._lasting(rng, f"fixed-{i}", model_index=appliance, connected=False)
            for i in range(profile.fixed)
        ]

    def _lasting(
        self, rng: random.Random, name: str, model_index: int | None = None, connected: bool = True
    ) -> tuple[str, int, str, str | None, float]:
        phone = probes.Phone.new(rng, model_index)
        assoc = None
        if connected:  # a private per-network address stays the same for this network
            assoc = (
                phone.global_mac
                if not phone.model.randomizes
                else probes.random_mac(rng, local=True)
            )
        x = rng.uniform(2, self.width - 2)
        return (name, phone.model_index, phone.global_mac, assoc, x)

    def _person(
        self, rng: random.Random, lasting: tuple[str, int, str, str | None, float], kind: str
    ) -> _Person:
        name, model_index, global_mac, assoc, x = lasting
        phone = probes.Phone.new(rng, model_index)
        phone.global_mac = phone.mac = global_mac
        return _Person(
            name, kind, phone, assoc, x, rng.uniform(2, self.profile.depth), rng.gauss(0, 2)
        )

    def plan_day(self, day: date) -> list[_Plan]:
        """Everyone who comes by on this local day, with their phones."""
        profile = self.profile
        rng = _day_rng(self.seed, day, profile.name)
        tz = ZoneInfo(profile.timezone)
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        day_end = (
            datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=1)
        ).timestamp()
        factor = profile.weekday[day.weekday()]
        plans: list[_Plan] = []
        counter = 0

        def visit(who: _Person, start: float, end: float, *, logged_in: bool = False) -> None:
            nearest = int(who.x // profile.spacing)  # passers-by may be past either end
            zone = profile.zones[max(0, min(len(profile.zones) - 1, nearest))]
            v = Visit(
                who.person,
                who.kind,
                zone,
                start,
                min(end, day_end),
                who.phone.global_mac,
                who.phone.model.name,
                who.assoc_mac,
                logged_in,
            )
            plans.append(_Plan(v, who, walks=who.kind == "passer_by"))

        # shoppers and passers-by: a Poisson number per hour
        hours = [h for h in range(24) if profile.hourly[h] > 0]
        for hour in range(24):
            expected = profile.hourly[hour] * factor * (1 - profile.regular_share)
            for _ in range(_poisson(rng, expected)):
                counter += 1
                start = midnight + (hour + rng.random()) * 3600
                connects = rng.random() < profile.connect_share
                who = _Person(
                    f"{day.isoformat()}-{counter}",
                    "shopper",
                    probes.Phone.new(rng),
                    None,
                    rng.uniform(1, self.width - 1),
                    rng.uniform(1, profile.depth),
                    rng.gauss(0, 2),
                )
                if connects:
                    phone = who.phone
                    who.assoc_mac = (
                        probes.random_mac(rng, local=True)
                        if phone.model.randomizes
                        else phone.global_mac
                    )
                logged_in = connects and rng.random() < profile.login_share
                visit(who, start, start + self._dwell(rng), logged_in=logged_in)
            passers = profile.passers_per_shopper * profile.hourly[hour] * factor
            # the mall's corridor is not empty while the shop is closed
            if profile.hourly[hour] == 0 and hours and hours[0] - 2 <= hour <= hours[-1] + 1:
                passers = profile.passers_per_shopper * min(profile.hourly[h] for h in hours) * 0.3
            for _ in range(_poisson(rng, passers)):
                counter += 1
                start = midnight + (hour + rng.random()) * 3600
                who = _Person(
                    f"{day.isoformat()}-{counter}",
                    "passer_by",
                    probes.Phone.new(rng),
                    None,
                    rng.uniform(-20, self.width + 20),
                    -rng.uniform(3, 25),
                    rng.gauss(0, 2),
                )
                visit(who, start, start + min(120.0, rng.lognormvariate(math.log(35), 0.7)))
        # regulars
        weights = [profile.hourly[h] for h in range(24)]
        for lasting, rate in zip(self.regulars, self.regular_rate, strict=True):
            daily_on_weekend = rate > 0.5 and day.weekday() >= 5
            if daily_on_weekend or rng.random() >= rate * factor or not any(weights):
                continue
            hour = rng.choices(range(24), weights)[0]
            who = self._person(rng, lasting, "shopper")
            start = midnight + (hour + rng.random()) * 3600
            logged_in = who.assoc_mac is not None and rng.random() < 0.5
            if rng.random() < 0.5:  # half of the regulars never join the WiFi
                who.assoc_mac = None
                logged_in = False
            visit(who, start, start + self._dwell(rng), logged_in=logged_in)
        # staff: 5 days a week, an early or a late shift of 6-9 h
        for index, lasting in enumerate(self.staff):
            if (day.toordinal() + index) % 7 in (0, 1):
                continue
            who = self._person(rng, lasting, "staff")
            length = rng.uniform(6, 9) * 3600
            if index % 2 == 0:
                start = midnight + (profile.opens - 0.5) * 3600 + rng.uniform(-600, 600)
            else:
                start = midnight + (profile.closes + 0.5) * 3600 - length + rng.uniform(-600, 600)
            visit(who, start, start + length)
        # fixed devices: all day
        for lasting in self.fixed:
            visit(self._person(rng, lasting, "fixed"), midnight, day_end)
        plans.sort(key=lambda p: p.visit.start)
        return plans

    def _dwell(self, rng: random.Random) -> float:
        """Seconds a shopper stays: bounce (0.5-3 min), ordinary (5-60 min around the median),
        long (1-4 h)."""
        draw = rng.random()
        profile = self.profile
        if draw < profile.bounce_share:
            return rng.uniform(30, 180)
        if draw < profile.bounce_share + profile.long_share:
            return rng.uniform(3600, 4 * 3600)
        minutes = rng.lognormvariate(math.log(profile.dwell_minutes), 0.55)
        return min(60.0, max(5.0, minutes)) * 60


# -- radio -----------------------------------------------------------------------------------

P0 = -35.0  # dBm at 1 m (a phone's ~15 dBm less antenna and body losses)
PATH_EXPONENT = 2.4  # indoors, open floor
WALL_LOSS = 12.0  # the storefront (glass, shelving)
SHADOWING = 3.5  # dB, per scan


def rssi_at(rng: random.Random, who: _Person, x: float, zone_x: float) -> int:
    """Log-distance path loss from the person to a router 2.5 m up at the front's inside."""
    distance = math.sqrt((x - zone_x) ** 2 + who.y**2 + 2.5**2)
    level = P0 + who.power - 10 * PATH_EXPONENT * math.log10(max(1.0, distance))
    if who.y < 0:
        level -= WALL_LOSS
    return max(-127, min(-20, round(level + rng.gauss(0, SHADOWING))))


def _received(rng: random.Random, rssi: int) -> bool:
    """Near the sensitivity more frames are lost (a real sensor misses some at any level)."""
    if rssi < SENSITIVITY:
        return False
    loss = 0.05 + 0.6 * max(0.0, min(1.0, (-82 - rssi) / 13))
    return rng.random() >= loss


def _radio(
    store: Store, plans: list[_Plan], day: date, t0: float, t1: float
) -> list[probes.ProbeFrame]:
    """Every probe a zone heard in [t0, t1) from the day's people, in time order. Each visit
    draws from its own generator and is followed from its start, so a range's frames are the
    same whatever range is asked for."""
    profile = store.profile
    zone_x = [(i + 0.5) * profile.spacing for i in range(len(profile.zones))]
    freq = probes.channel_freq(CHANNEL)
    frames: list[probes.ProbeFrame] = []
    append = frames.append
    for index, plan in enumerate(plans):
        who, v = plan.who, plan.visit
        if v.end <= t0 or v.start >= t1:
            continue
        rng = _day_rng(store.seed, day, f"{profile.name}:radio:{index}")
        phone = who.phone
        model_index = phone.model_index
        t = v.start + rng.uniform(0, 20)
        speed = rng.uniform(0.8, 1.5) * rng.choice((-1, 1))
        x0 = who.x
        end = min(v.end, t1)
        while t < end:
            probes_sent = phone.scan(t, CHANNEL)
            if plan.walks:
                x = x0 + speed * (t - v.start)
            else:  # browsing: wanders a few metres around its spot
                x = who.x = min(store.width, max(0.0, who.x + rng.gauss(0, 1.0)))
            for zone, zx in zip(profile.zones, zone_x, strict=True):
                level = rssi_at(rng, who, x, zx)
                if level < SENSITIVITY:
                    continue
                for ts, mac, seq, ssid in probes_sent:
                    rssi = level + round(rng.gauss(0, 1.2))
                    if _received(rng, rssi) and t0 <= ts < t1:
                        fp = probes.model_fingerprint(model_index, CHANNEL, ssid)
                        append(
                            probes.ProbeFrame(
                                ts,
                                mac,
                                probes.BROADCAST,
                                rssi,
                                seq,
                                freq,
                                4,
                                fp,
                                ssid or None,
                                zone,
                                model_index,
                            )
                        )
            t += phone.scan_interval(t)
    frames.sort()
    return frames


def _stations(store: Store, plans: list[_Plan], day: date, truth: Truth) -> None:
    rng = _day_rng(store.seed, day, store.profile.name + ":wifi")
    for plan in plans:
        v = plan.visit
        if v.assoc_mac is None or v.dwell < 90:
            continue
        joined = v.start + rng.uniform(15, 60)
        left = max(joined + 10, v.end - rng.uniform(0, 30))
        rssi = max(-90, min(-30, round(-58 + rng.gauss(0, 6))))
        truth.stations.append(StationEvent(joined, v.zone, "join", v.assoc_mac, rssi, v.person))
        truth.stations.append(
            StationEvent(left, v.zone, "leave", v.assoc_mac, rssi - rng.randint(0, 8), v.person)
        )
        if v.logged_in:
            truth.logins.append(Login(joined + rng.uniform(20, 90), v.zone, v.assoc_mac, v.person))


# -- the whole thing --------------------------------------------------------------------------


def local_days(profile: StoreProfile, start: float, end: float) -> list[date]:
    tz = ZoneInfo(profile.timezone)
    first = datetime.fromtimestamp(start, tz).date()
    last = datetime.fromtimestamp(max(start, end - 1e-6), tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _as_ts(moment: datetime | float) -> float:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("start and end need a time zone")
        return moment.timestamp()
    return float(moment)


def simulate(
    profile: StoreProfile, start: datetime | float, end: datetime | float, seed: int
) -> tuple[Iterator[probes.ProbeFrame], Truth]:
    """The frames every zone of the store heard in [start, end) (a time-ordered iterator,
    generated a day at a time) and the truth: visits (clipped to the range), station events
    and logins in it, occupancy per 5-minute window. Deterministic for a seed."""
    t0, t1 = _as_ts(start), _as_ts(end)
    if t1 <= t0:
        raise ValueError("end must be after start")
    store = Store(profile, seed)
    truth = Truth()
    days = [(day, store.plan_day(day)) for day in local_days(profile, t0, t1)]
    for day, plans in days:
        visits = []
        for plan in plans:
            v = plan.visit
            if v.end > t0 and v.start < t1:
                visits.append(replace(v, start=max(v.start, t0), end=min(v.end, t1)))
        truth.visits.extend(visits)
        day_truth = Truth()
        _stations(store, plans, day, day_truth)
        truth.stations.extend(e for e in day_truth.stations if t0 <= e.ts < t1)
        truth.logins.extend(e for e in day_truth.logins if t0 <= e.ts < t1)
    truth.stations.sort(key=lambda e: e.ts)
    truth.logins.sort(key=lambda e: e.ts)
    truth._add_occupancy(truth.visits, t0, t1)

    def frames() -> Iterator[probes.ProbeFrame]:
        for day, plans in days:
            yield from _radio(store, plans, day, t0, t1)

    return frames(), truth


def write_capture(path: str | Path, frames: Iterator[probes.ProbeFrame], zone: str) -> int:
    """A pcap (linktype 127, radiotap) of what one zone's router heard; returns the count."""
    return write_pcap(path, ((f.ts, probes.frame_bytes(f)) for f in frames if f.zone == zone))


def merge(*streams: Iterator[probes.ProbeFrame]) -> Iterator[probes.ProbeFrame]:
    """Several stores' frames in one time order (a benchmark's feed)."""
    return heapq.merge(*streams, key=lambda f: f.ts)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)
