"""What a phone sends while it looks for networks: 802.11 probe requests, as a sensor hears them.

A model of the active scan of real devices (Android's wpa_supplicant `wpas_trigger_scan` /
`wpa_supplicant_req_scan`, iOS's scan scheduler, Windows' WLAN AutoConfig background scan),
fitted to the six real days in ../shared/data/probe-requests-brno (see
docs/footfall-simulation.md for what was measured and how):

- a scan sweeps the 2.4 GHz channels and sends 1-5 probe requests on each; a sensor on one
  channel hears that channel's burst: consecutive sequence numbers, about 2 dB apart;
- between two scans the sequence counter has moved on by the probes sent on the other channels
  (median about 25);
- phones scan every ~60 s with the screen off and every 5-20 s while it is on;
- Android 10+ and iOS 14+ probe from a new random (locally administered) MAC at every scan,
  while the sequence counter continues; laptops, old phones and small appliances use their
  global MAC;
- each device model sends its own set of information elements (IEs): its fingerprint.

`ProbeFrame` carries the fields of `analytics.capture.Frame` (plus the sensor's `zone`), so
analytics code takes either; `frame_bytes` crafts the real radiotap + 802.11 bytes of one (the
radiotap layout of the ESP32 sniffer in the real captures: channel, dBm signal, antenna), and
`scapy_frame` builds the same with scapy, the reference.
"""

from __future__ import annotations

import random
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from analytics import capture

BROADCAST = "ff:ff:ff:ff:ff:ff"
SUBTYPE_PROBE_REQ = 4
CHANNELS_24 = tuple(range(1, 14))  # the channels a 2.4 GHz scan sweeps (ETSI: 1-13)
PARTIAL_SCANS = 0.2  # share of scans that skip the sensor's channel (real gaps: 60 s, 120 s)


def channel_freq(channel: int) -> int:
    """MHz of a 2.4 GHz channel (IEEE 802.11-2020, 15.4.4.3)."""
    return 2484 if channel == 14 else 2407 + 5 * channel


# -- information elements (IEEE 802.11-2020, 9.4.2) -----------------------------------------

_RATES = bytes([0x02, 0x04, 0x0B, 0x16, 0x0C, 0x12, 0x18, 0x24])  # 1 2 5.5 11 (basic) 6-18
_RATES_B = bytes([0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24])
_EXT_RATES = bytes([0x30, 0x48, 0x60, 0x6C])  # 24 36 48 54
# The bodies below are what such devices send (HT 26 bytes, VHT 12, RM 5, …); bytes that
# differ between models make their fingerprints differ, as on real devices.
_HT = {  # HT capabilities (45), 26 bytes: capability info, A-MPDU, MCS set, …
    key: bytes.fromhex(value).ljust(26, b"\0")
    for key, value in (
        ("a", "2d0117ff"),
        ("b", "ef0917ffff"),
        ("c", "6e1802ff"),
        ("d", "ad0103ffff"),
    )
}
_VHT = bytes.fromhex("b2798033faff0c03faff0c03")
_RM = bytes.fromhex("7000000000")
_RM_B = bytes.fromhex("3200010000")
_APCR = bytes.fromhex("5101020304")  # AP channel report (51): operating class 81, ch 1-4
_INTERWORKING = bytes.fromhex("0f")


def _ext(values: str) -> bytes:
    return bytes.fromhex(values)


def _vendor(oui: str, body: str) -> bytes:
    return bytes.fromhex(oui + body)


_APPLE = "0017f2"
_MS_WPS = "0050f2"
_WFA = "506f9a"
_BRCM = "001018"
_QCOM = "8cfdf0"
_EPIGRAM = "00904c"
_MTK = "000ce7"


@dataclass(frozen=True)
class DeviceModel:
    """One family of devices: the IEs it probes with (ids as in the captures' `dot11elt`
    column, in order), whether it probes from random MACs, how often it scans, and how many
    probes it sends per channel."""

    name: str
    ies: tuple[tuple[int, bytes], ...]  # (element id, body) in order, without SSID (0) / DS (3)
    randomizes: bool
    oui: str  # the vendor prefix of its global MAC
    has_ds: bool = True  # sends a DS Parameter Set (3) with its channel
    ds_position: int = 2  # where the DS parameter set goes among `ies`
    burst: tuple[float, ...] = (0.40, 0.36, 0.12, 0.07, 0.05)  # P(1 … 5 probes per channel)
    screen_off_period: float = 60.0  # seconds between scans with the screen off
    # share of bursts that name a network the phone knows (real captures: 35-57 % of frames)
    directed_share: float = 0.5
    weight: float = 1.0  # share among shoppers' devices

    def element_ids(self) -> list[int]:
        ids = [0, *(eid for eid, _ in self.ies)]
        if self.has_ds:
            ids.insert(1 + self.ds_position, 3)
        return ids


def _model(name: str, elements: Sequence[tuple[int, bytes]], **kwargs: Any) -> DeviceModel:
    return DeviceModel(name, tuple(elements), **kwargs)


# IE lists are the ones most often seen in the real captures (ids in order); the bodies and the
# family each list is given to are this model's choice (docs/footfall-simulation.md).
MODELS: tuple[DeviceModel, ...] = (
    _model(  # [0, 1, 50, 3, 45, 127, 255, 221, 221, 221]
        "ios-17",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (45, _HT["a"]),
            (127, _ext("0400080000000040")),
            (255, _ext("2301080000800000000000000000000000")),
            (221, _vendor(_APPLE, "0a0000")),
            (221, _vendor(_BRCM, "0200100000")),
            (221, _vendor(_WFA, "16010103")),
        ],
        randomizes=True,
        oui="f0:18:98",
        weight=0.18,
    ),
    _model(  # [0, 1, 50, 3, 45, 127, 255, 255, 221, 221, 221, 221]
        "ios-18",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (45, _HT["b"]),
            (127, _ext("0400480000000040")),
            (255, _ext("2301080018800000000000000000000000")),
            (255, _ext("6c00")),
            (221, _vendor(_APPLE, "0a0000")),
            (221, _vendor(_BRCM, "0200100000")),
            (221, _vendor(_WFA, "16010103")),
            (221, _vendor(_APPLE, "0b0200")),
        ],
        randomizes=True,
        oui="a4:83:e7",
        weight=0.14,
    ),
    _model(  # [0, 1, 50, 45, 127, 221]
        "android-samsung",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (45, _HT["c"]),
            (127, _ext("0000080000000040")),
            (221, _vendor(_MS_WPS, "0800")),
        ],
        randomizes=True,
        oui="8c:f5:a3",
        has_ds=False,
        weight=0.24,
    ),
    _model(  # [0, 1, 50, 3, 45, 127, 255]
        "android-pixel",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (45, _HT["d"]),
            (127, _ext("0400480002000040")),
            (255, _ext("230108081a400000000000000000000000")),
        ],
        randomizes=True,
        oui="3c:28:6d",
        weight=0.12,
    ),
    _model(  # [0, 1, 50, 45, 51, 127]
        "android-xiaomi",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (45, _HT["c"]),
            (51, _APCR),
            (127, _ext("0000080000000000")),
        ],
        randomizes=True,
        oui="64:09:80",
        has_ds=False,
        weight=0.16,
    ),
    _model(  # [0, 1, 50, 3, 45, 127, 221]
        "android-old",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (45, _HT["a"]),
            (127, _ext("00000a0200000040")),
            (221, _vendor(_EPIGRAM, "0400")),
        ],
        randomizes=False,  # Android 9 and older (and MAC randomisation turned off)
        oui="ac:5f:3e",
        directed_share=0.5,
        weight=0.06,
    ),
    _model(  # [0, 1, 50, 3, 45, 127, 191, 221]
        "windows-laptop",
        [
            (1, _RATES_B),
            (50, _EXT_RATES),
            (45, _HT["b"]),
            (127, _ext("0000000000000040")),
            (191, _VHT),
            (221, _vendor(_MS_WPS, "10104a0001101049000600372a000120")),
        ],
        randomizes=False,  # Windows: random hardware addresses are off by default
        oui="3c:a9:f4",
        burst=(0.30, 0.50, 0.12, 0.05, 0.03),
        directed_share=0.6,
        weight=0.06,
    ),
    _model(  # [0, 1, 50, 45, 70, 127]
        "appliance",
        [
            (1, _RATES_B),
            (50, _EXT_RATES),
            (45, _HT["c"]),
            (70, _RM_B),
            (127, _ext("000000000000000000")),
        ],
        randomizes=False,
        oui="7c:8b:ca",
        has_ds=False,
        burst=(0.45, 0.50, 0.05, 0.0, 0.0),
        weight=0.04,
    ),
    _model(  # [0, 1, 50, 3, 127, 221]: a budget Android on MediaTek
        "android-mtk",
        [
            (1, _RATES),
            (50, _EXT_RATES),
            (127, _ext("0000080000000040")),
            (221, _vendor(_MTK, "0100")),
        ],
        randomizes=True,
        oui="00:08:22",
        weight=0.04,
    ),
)
MODEL_BY_NAME = {model.name: model for model in MODELS}
_INDEX = {model.name: index for index, model in enumerate(MODELS)}
KNOWN_SSIDS = ("Home", "CMCC-5G", "ChinaNet-a3f9", "Starbucks", "TP-LINK_8C21", "eduroam", "iPhone")


@cache
def _elements(model_index: int, channel: int, ssid: str) -> bytes:
    """The IEs of one probe request of a model, on a channel, for an SSID ('' = wildcard)."""
    model = MODELS[model_index]
    name = ssid.encode()
    parts = [bytes([0, len(name)]) + name]
    body = list(model.ies)
    if model.has_ds:
        body.insert(model.ds_position, (3, bytes([channel])))
    parts += [bytes([eid, len(data)]) + data for eid, data in body]
    return b"".join(parts)


# -- frames ------------------------------------------------------------------------------------


class ProbeFrame(NamedTuple):
    """One probe request as one sensor heard it: `analytics.capture.Frame`'s fields, plus the
    sensor (`zone`, its router id) and the model that sent it."""

    ts: float
    src: str
    dst: str
    rssi: int
    seq: int
    freq: int
    subtype: int
    fingerprint: int
    ssid: str | None
    zone: str
    model: int  # index into MODELS

    @property
    def randomized(self) -> bool:
        return is_randomized(self.src)


def is_randomized(mac: str) -> bool:
    """A locally administered address (second-least significant bit of the first octet)."""
    return bool(int(mac[:2], 16) & 0x02)


# The radiotap header of the real captures' sniffer: present = Channel | dBm_AntSignal |
# Antenna (bits 3, 5, 11), 14 bytes; no FCS.
_RADIOTAP = struct.Struct("<BBHIHHbB")
_RT_PRESENT = (1 << 3) | (1 << 5) | (1 << 11)
_CHAN_2GHZ = 0x0080
_DOT11 = struct.Struct("<HH6s6s6sH")


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def frame_bytes(frame: ProbeFrame) -> bytes:
    """The radiotap + 802.11 probe request bytes of a frame (the fast path of pcap_writer)."""
    channel = (frame.freq - 2407) // 5
    radiotap = _RADIOTAP.pack(0, 0, 14, _RT_PRESENT, frame.freq, _CHAN_2GHZ, frame.rssi, 0)
    header = _DOT11.pack(
        SUBTYPE_PROBE_REQ << 4,  # frame control: type 0 (management), subtype 4
        0,
        _mac_bytes(frame.dst),
        _mac_bytes(frame.src),
        _mac_bytes(BROADCAST),
        (frame.seq & 0xFFF) << 4,
    )
    return radiotap + header + _elements(frame.model, channel, frame.ssid or "")


def scapy_frame(frame: ProbeFrame) -> Any:
    """The same frame built with scapy (the reference for `frame_bytes`)."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap

    channel = (frame.freq - 2407) // 5
    packet = RadioTap(
        present="Channel+dBm_AntSignal+Antenna",
        ChannelFrequency=frame.freq,
        ChannelFlags="2GHz",
        dBm_AntSignal=frame.rssi,
        Antenna=0,
    ) / Dot11(
        type=0,
        subtype=SUBTYPE_PROBE_REQ,
        addr1=frame.dst,
        addr2=frame.src,
        addr3=BROADCAST,
        SC=(frame.seq & 0xFFF) << 4,
    )
    packet = packet / Dot11ProbeReq()
    elements = _elements(frame.model, channel, frame.ssid or "")
    offset = 0
    while offset < len(elements):
        eid, length = elements[offset], elements[offset + 1]
        packet = packet / Dot11Elt(
            ID=eid, len=length, info=elements[offset + 2 : offset + 2 + length]
        )
        offset += 2 + length
    return packet


# -- fingerprints ------------------------------------------------------------------------------


def fingerprint_of(elements: bytes) -> int:
    """The fingerprint analytics computes for these information elements (the one function
    that knows how: analytics.capture's)."""
    return capture.fingerprint_of(elements)[0]


@cache
def model_fingerprint(model_index: int, channel: int, ssid: str) -> int:
    return fingerprint_of(_elements(model_index, channel, ssid))


def fp_hex(fingerprint: int) -> str:
    """The `fp` of the MQTT `probes` telemetry (docs/mqtt-contract.md)."""
    return format(fingerprint & 0xFFFFFFFF, "08x")


# -- a phone -----------------------------------------------------------------------------------


def random_mac(rng: random.Random, *, local: bool, oui: str = "") -> str:
    if local:
        first = (rng.randrange(256) & 0xFC) | 0x02  # unicast, locally administered
        rest = [rng.randrange(256) for _ in range(5)]
        return ":".join(f"{b:02x}" for b in [first, *rest])
    return oui + ":" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


@dataclass
class Phone:
    """One device's radio: its global MAC, the MAC it probes from now, its sequence counter and
    the networks it remembers (wpa_supplicant's scan state, per device)."""

    model_index: int
    global_mac: str
    rng: random.Random
    seq: int = 0
    mac: str = ""
    known: tuple[str, ...] = ()
    screen_on_until: float = 0.0

    @classmethod
    def new(cls, rng: random.Random, model_index: int | None = None) -> Phone:
        if model_index is None:
            model_index = rng.choices(range(len(MODELS)), [m.weight for m in MODELS])[0]
        model = MODELS[model_index]
        phone = cls(
            model_index,
            random_mac(rng, local=False, oui=model.oui),
            random.Random(rng.getrandbits(64)),
            seq=rng.randrange(4096),
            known=tuple(rng.sample(KNOWN_SSIDS, rng.randint(1, 3))),
        )
        phone.mac = phone.global_mac
        return phone

    @property
    def model(self) -> DeviceModel:
        return MODELS[self.model_index]

    def scan(self, t: float, channel: int) -> list[tuple[float, str, int, str]]:
        """One scan as heard on `channel`: (ts, mac, seq, ssid) of each probe sent there.
        The counter moves on for the probes on the other channels."""
        rng = self.rng
        model = self.model
        # A new random MAC at (almost) every scan; the counter continues. The real captures
        # show ~5 % of random MACs in more than one burst.
        if model.randomizes and (self.mac == self.global_mac or rng.random() < 0.95):
            self.mac = random_mac(rng, local=True)
        per_channel = rng.choices((1, 2, 3, 4, 5), model.burst)[0]
        if rng.random() < PARTIAL_SCANS:
            # a scan of the saved networks' channels only (Android's PNO, iOS's partial
            # scans): this channel hears nothing, the counter moves on all the same
            self.seq = (self.seq + per_channel * rng.randint(2, 5)) % 4096
            return []
        ssid = ""
        if self.known and rng.random() < model.directed_share:
            ssid = rng.choice(self.known)
        position = CHANNELS_24.index(channel) if channel in CHANNELS_24 else 0
        # probes on the channels before this one, ~20 ms per channel (dwell + switch)
        start_seq = self.seq + position * per_channel
        start_t = t + position * 0.02
        probes = [
            (start_t + k * rng.uniform(0.002, 0.03), self.mac, (start_seq + k) % 4096, ssid)
            for k in range(per_channel)
        ]
        # the rest of the sweep, and now and then a data or null frame of its own
        self.seq = (self.seq + per_channel * len(CHANNELS_24) + rng.choice((0, 0, 0, 1, 2))) % 4096
        return probes

    def scan_interval(self, t: float) -> float:
        """Seconds to the next scan: the screen-off period (with jitter), or 5-20 s while the
        screen is on; the screen comes on now and then for 0.5-4 minutes."""
        rng = self.rng
        if t >= self.screen_on_until and rng.random() < 0.06:
            self.screen_on_until = t + rng.uniform(30, 240)
        if t < self.screen_on_until:
            return rng.uniform(5, 20)
        return self.model.screen_off_period + rng.gauss(0, 0.3)


# What `probe_stats` gives on each of the six real days (lowest, highest): the model is held to
# these (tests/simulators/test_probe_model.py), and the test recomputes them from the csv files.
MEASURED: dict[str, tuple[float, float]] = {
    "randomized_share": (0.962, 0.974),
    "burst_1": (0.384, 0.700),
    "burst_2": (0.176, 0.463),
    "burst_3": (0.051, 0.162),
    "burst_4": (0.017, 0.093),
    "burst_5": (0.015, 0.111),
    "mean_burst": (1.654, 2.554),
    "in_burst_step1": (0.640, 0.828),
    "between_step_median": (20.0, 72.0),
    "random_single_burst": (0.939, 0.971),
}


# -- measuring a probe stream (real or modelled), for the doc and the tests -------------------


def probe_stats(records: Iterable[tuple[float, str, int]]) -> dict[str, float]:
    """Statistics of probe requests `(ts, src mac, seq)` in time order, as measured on the real
    captures: the share of distinct MACs that are random, the burst sizes (probes from one MAC
    less than 0.5 s apart), the share of in-burst sequence steps of 1, the median sequence step
    between bursts of one MAC, and the share of random MACs seen in one burst only."""
    last: dict[str, tuple[float, int]] = {}
    burst_of: dict[str, int] = {}
    bursts: list[int] = []
    bursts_per_mac: Counter[str] = Counter()
    in_steps: Counter[int] = Counter()
    between: list[int] = []
    for ts, src, seq in records:
        previous = last.get(src)
        if previous is not None and ts - previous[0] < 0.5:
            burst_of[src] += 1
            in_steps[(seq - previous[1]) % 4096] += 1
        else:
            if previous is not None:
                bursts.append(burst_of[src])
                between.append((seq - previous[1]) % 4096)
            burst_of[src] = 1
            bursts_per_mac[src] += 1
        last[src] = (ts, seq)
    bursts.extend(burst_of.values())
    sizes = Counter(min(b, 5) for b in bursts)
    random_macs = [mac for mac in last if is_randomized(mac)]
    between.sort()
    return {
        "macs": len(last),
        "randomized_share": len(random_macs) / max(1, len(last)),
        **{f"burst_{n}": sizes[n] / max(1, len(bursts)) for n in range(1, 6)},
        "mean_burst": sum(bursts) / max(1, len(bursts)),
        "in_burst_step1": in_steps[1] / max(1, sum(in_steps.values())),
        "between_step_median": float(between[len(between) // 2]) if between else 0.0,
        "random_single_burst": sum(bursts_per_mac[m] == 1 for m in random_macs)
        / max(1, len(random_macs)),
    }


def csv_records(path: str) -> list[tuple[float, str, int]]:
    """`(ts, src, seq)` of a real capture's decoded csv (the dataset's `*_ver-99.csv`)."""
    import csv
    from datetime import datetime

    with open(path, newline="") as file:
        rows = csv.DictReader(file, delimiter=";")
        return [
            (datetime.fromisoformat(r["datetime"]).timestamp(), r["src"], int(r["seq_num"]))
            for r in rows
        ]


def sensor_stream(
    phones: int, seconds: float, seed: int, channel: int = 6
) -> list[tuple[float, str, int]]:
    """Probes `(ts, mac, seq)` that one sensor hears from `phones` devices in range for
    `seconds`: the model's stream to set beside the real one (frames lost at random, ~10 %,
    as a sensor misses some)."""
    rng = random.Random(seed)
    out: list[tuple[float, str, int]] = []
    for _ in range(phones):
        phone = Phone.new(rng)
        t = rng.uniform(0, 60)
        while t < seconds:
            for ts, mac, seq, _ssid in phone.scan(t, channel):
                if phone.rng.random() >= 0.1:
                    out.append((ts, mac, seq))
            t += phone.scan_interval(t)
    out.sort()
    return out
