"""Failed calls, as data: what can go wrong between two stations, reproducibly.

A `FaultPlan` is a list of `Fault` values. For each copy of a message on its way from
one station to another, `FaultPlan.apply` runs every fault that matches the copy (line,
sender, recipient, time window) and fires with its probability, in order, and returns
what actually happens: zero, one or several `Delivery` values (dropped, delayed,
duplicated, corrupted, accompanied by a forgery or a later replay). The plan knows
nothing of how copies travel: the simulator feeds it, and a live transport can feed it
the same way. Randomness comes only from the generator passed in, so a run's seed
decides everything. Station faults (down, clock skew) are questions the transport asks:
`station_down` and `clock_offset`.

Faults compose: a copy can be delayed by one fault and duplicated by the next; every
duplicate then goes through the remaining faults too.

A plan decides each copy with random numbers drawn for that copy alone (`draws`): from
the run's seed and the copy's identity (its line, incident, kind, sender, recipient and
how many such copies came before it), never from the order in which copies happen to
reach the plan. So a simulated run and a live run of one scenario and seed, whose
copies reach the plan in different orders, decide every copy they share alike; only
what depends on timing (a window's edge, an outage) can set them apart.

Connection faults (`CONNECTION_FAULTS`: latency, bandwidth, reset-peer, stall, slicer,
slow-close, broker-down) act on the TCP connections between posts and a broker, as
Toxiproxy's toxics do: only a live run's fault proxy (`hotline.live.proxy`) applies
them; a simulated run says it did not.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, NamedTuple

from hotline.core.errors import RejectedMessage
from hotline.core.names import NOTICE_KINDS, Channel, Kind, inbox_topic
from hotline.core.signing import StationKey, split_signed
from hotline.core.wire import Envelope, decode_envelope, digest, encode_envelope


class FaultKind(StrEnum):
    """The failed calls a plan can inject."""

    DROP = "drop"  # the copy is lost
    DELAY = "delay"  # the copy arrives later (by a distribution: delay with jitter)
    DUPLICATE = "duplicate"  # extra copies arrive too
    REORDER = "reorder"  # the copy is held back up to a window, so later ones overtake it
    CORRUPT = "corrupt"  # bits of the copy flip on the way
    FORGE = "forge"  # an attacker sends a forged answer alongside the copy
    REPLAY = "replay"  # the copy is captured and sent again later
    PARTITION = "partition"  # the line carries nothing in the window
    STATION_DOWN = "station-down"  # nothing reaches the station, nothing leaves it
    CLOCK_SKEW = "clock-skew"  # the station's clock is off by a fixed amount
    FLAP = "flap"  # the bearer goes up and down in a cycle
    # connection faults: on the TCP connections of a live run (the fault proxy)
    LATENCY = "latency"  # every packet held back (delay: a range, real seconds)
    BANDWIDTH = "bandwidth"  # at most `rate` bytes a second
    RESET_PEER = "reset-peer"  # the connection reset (TCP RST), `after` real seconds
    STALL = "stall"  # half-open: data accepted, nothing forwarded; closed `after` if set
    SLICER = "slicer"  # each write cut into pieces of about `size` bytes, `delay` apart
    SLOW_CLOSE = "slow-close"  # a closing connection lingers `delay` real seconds
    BROKER_DOWN = "broker-down"  # every connection cut, new ones refused (a broker restart)


class ForgeKey(StrEnum):
    """Which key a forger signs with."""

    ATTACKER = "attacker"  # a key in nobody's keyring
    OTHER_STATION = "other-station"  # a real key of another station, claiming the victim
    OTHER_CHANNEL = "other-channel"  # the victim party's real key from another line


#: Faults that need real signed bytes (refused in protocol-only runs).
BYTE_FAULTS: Final = frozenset({FaultKind.CORRUPT, FaultKind.FORGE, FaultKind.REPLAY})
#: Faults that act on stations rather than on copies.
STATION_FAULTS: Final = frozenset({FaultKind.STATION_DOWN, FaultKind.CLOCK_SKEW})
#: Faults that act on a live run's TCP connections (applied by the fault proxy only).
CONNECTION_FAULTS: Final = frozenset(
    {
        FaultKind.LATENCY,
        FaultKind.BANDWIDTH,
        FaultKind.RESET_PEER,
        FaultKind.STALL,
        FaultKind.SLICER,
        FaultKind.SLOW_CLOSE,
        FaultKind.BROKER_DOWN,
    }
)


class Stream(StrEnum):
    """Which way through a connection a connection fault acts (Toxiproxy's stream)."""

    UPSTREAM = "upstream"  # from the client to the broker
    DOWNSTREAM = "downstream"  # from the broker to the client
    BOTH = "both"


class Tag(StrEnum):
    """What a fault made of a delivery (for accounting and invariants)."""

    DUPLICATE = "duplicate"
    CORRUPTED = "corrupted"
    FORGED = "forged"
    REPLAYED = "replayed"


class Copy(NamedTuple):
    """One copy of a message on its way: the unit a plan decides about.

    ``incident`` and ``kind`` name what the copy carries (empty for a payload that is no
    hotline message); with the line, sender and recipient they are the copy's identity,
    from which the plan draws what happens to it (`FaultPlan.draws`). A live fault proxy
    also sees copies published to topics that are no hotline inbox: their ``channel``
    is None and ``topic`` says where they go (a hotline copy's topic is its recipient's
    inbox, derived when not given).
    """

    channel: Channel | None
    sender: str
    recipient: str
    data: bytes
    at: float  # exercise seconds when it was sent
    incident: str = ""
    kind: str = ""
    topic: str = ""

    @property
    def destination(self) -> str:
        """The MQTT topic the copy is published to."""
        if self.topic or self.channel is None:
            return self.topic
        return inbox_topic(self.channel, self.recipient)


class Delivery(NamedTuple):
    """One arrival that a copy turns into."""

    data: bytes
    delay: float  # extra seconds on top of the line's own latency
    tag: Tag | None = None  # what a fault made of it; None: untouched
    genuine: bool = True  # the sent copy itself (possibly corrupted), not an extra one
    to: str | None = None  # where it arrives, if not the copy's recipient (forged answers)
    claims: tuple[str, str] | None = None  # a forgery: the (kind, sender) it claims to be


class Outcome(NamedTuple):
    """What `FaultPlan.apply` decided for one copy."""

    deliveries: list[Delivery]
    dropped_by: FaultKind | None  # set when the genuine copy did not survive


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One failed call to inject.

    Args:
        kind: what goes wrong.
        channel: only on this line (None: every line).
        sender: only copies sent by this station.
        recipient: only copies addressed to this station.
        station: the station concerned (station-down, clock-skew).
        start: exercise time the fault begins.
        until: exercise time it ends.
        probability: chance it fires for each matching copy.
        delay: delay: extra delay in seconds (a callable distribution sample);
            reorder: the hold-back window; replay: how long after capture it is replayed.
        copies: duplicate: how many extra copies.
        bits: corrupt: how many bits flip.
        forge_key: forge: whose key signs the forgery.
        skew: clock-skew: seconds the station's clock is ahead (negative: behind).
        up: flap: seconds the bearer stays up in each cycle.
        down: flap: seconds it stays down.
        topic: only copies published to a topic this MQTT filter matches (``+`` and
            ``#`` wildcards); a copy's topic is its recipient's inbox on its line.
        stream: connection faults: which way through the connection.
        rate: bandwidth: bytes a second.
        size: slicer: the average size of a piece, bytes.
        after: reset-peer, stall: real seconds from the moment the fault takes a
            connection until it is reset, or closed (stall; None: left hanging).

    The attributes of connection faults (``delay``, ``rate``, ``after``) are in real
    seconds, as they act on the real network; their window (``start``, ``until``) is in
    exercise time, as every fault's is.
    """

    kind: FaultKind
    channel: Channel | None = None
    sender: str | None = None
    recipient: str | None = None
    station: str | None = None
    start: float = 0.0
    until: float = math.inf
    probability: float = 1.0
    delay: tuple[float, float] = (0.0, 0.0)  # low, high: uniform seconds
    copies: int = 1
    bits: int = 1
    forge_key: ForgeKey = ForgeKey.ATTACKER
    skew: float = 0.0
    up: float = 60.0
    down: float = 60.0
    topic: str | None = None
    stream: Stream = Stream.BOTH
    rate: int = 0
    size: int = 0
    after: float | None = None

    def matches(
        self, channel: Channel | None, sender: str, recipient: str, at: float, topic: str = ""
    ) -> bool:
        """Whether this fault concerns a copy on ``channel`` (None: a topic that is no
        hotline inbox, ``topic``) at exercise time ``at``."""
        if not self.start <= at < self.until:
            return False
        if self.channel is not None and channel != self.channel:
            return False
        if self.sender is not None and sender != self.sender:
            return False
        if self.recipient is not None and recipient != self.recipient:
            return False
        if self.station is not None and self.station not in (sender, recipient):
            return False
        if self.topic is not None:
            where = topic or (inbox_topic(channel, recipient) if channel is not None else "")
            if not topic_matches(self.topic, where):
                return False
        if self.kind is FaultKind.FLAP:
            return (at - self.start) % (self.up + self.down) >= self.up
        return True

    def draw_delay(self, rng: random.Random) -> float:
        """A delay from this fault's range."""
        low, high = self.delay
        return low if high <= low else rng.uniform(low, high)


@dataclass(slots=True)
class FaultPlan:
    """The faults of a run, and the keys a forger could lay hands on.

    Args:
        faults: in order of application.
        keys: every station's private key (forgeries use them as the fault says).
        lines: the lines each station sits on (to pick a key from another line).
        attacker: the attacker's own key (in no keyring).
    """

    faults: Sequence[Fault] = ()
    keys: Mapping[str, StationKey] = field(default_factory=dict)
    lines: Mapping[str, frozenset[Channel]] = field(default_factory=dict)
    attacker: StationKey | None = None
    seed: int = 0
    _ordinals: dict[tuple[str, ...], int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """No fault to apply to copies (cheap check for the common case): a down station
        loses what it sends and what is sent to it, so station-down counts."""
        return not any(
            f.kind is not FaultKind.CLOCK_SKEW and f.kind not in CONNECTION_FAULTS
            for f in self.faults
        )

    def draws(self, copy: Copy) -> CopyDraws:
        """The random numbers this plan decides ``copy`` with (see the module doc).

        Each call counts one more copy of its identity, so a retry of a notice (same
        incident, kind, sender and recipient) draws numbers of its own.
        """
        line = copy.destination if copy.channel is None else copy.channel.value
        key = (line, copy.incident, copy.kind, copy.sender, copy.recipient)
        ordinal = self._ordinals.get(key, 0)
        self._ordinals[key] = ordinal + 1
        draws = CopyDraws("|".join(("hotline copy", str(self.seed), *key, str(ordinal))).encode())
        draws.ordinal = ordinal
        return draws

    def station_down(self, station: str, at: float) -> bool:
        """Whether ``station`` is down at exercise time ``at``."""
        return any(
            f.kind is FaultKind.STATION_DOWN and f.station == station and f.start <= at < f.until
            for f in self.faults
        )

    def back_up(self, station: str, at: float) -> float:
        """When ``station``, down at exercise time ``at``, is up again (``at`` if up;
        infinity if it never comes back)."""
        while self.station_down(station, at):
            at = max(
                f.until
                for f in self.faults
                if f.kind is FaultKind.STATION_DOWN
                and f.station == station
                and f.start <= at < f.until
            )
        return at

    def clock_offset(self, stations: Iterable[str]) -> float:
        """Seconds the clock of the post hosting ``stations`` runs ahead (sum of skews)."""
        names = set(stations)
        return sum(
            f.skew for f in self.faults if f.kind is FaultKind.CLOCK_SKEW and f.station in names
        )

    def apply(self, copy: Copy, rng: random.Random) -> Outcome:
        """Decide what becomes of one copy.

        Each delivery meets each later fault by its own direction: a forged answer
        travels back from the copy's recipient to its sender, and a fault on that
        direction reaches it, one on the copy's direction does not.
        """
        deliveries = [Delivery(copy.data, 0.0)]
        dropped_by: FaultKind | None = None
        for fault in self.faults:
            if fault.kind is FaultKind.CLOCK_SKEW or fault.kind in CONNECTION_FAULTS:
                continue
            survivors: list[Delivery] = []
            for delivery in deliveries:
                source = copy.sender if delivery.to is None else copy.recipient
                target = copy.recipient if delivery.to is None else delivery.to
                if fault.kind is FaultKind.STATION_DOWN:
                    down = fault.start <= copy.at < fault.until
                    hit = down and fault.station in (source, target)
                elif fault.matches(
                    copy.channel, source, target, copy.at, copy.topic if delivery.to is None else ""
                ):
                    hit = fault.probability >= 1.0 or rng.random() < fault.probability
                else:
                    hit = False
                if not hit:
                    survivors.append(delivery)
                    continue
                made = (
                    []
                    if fault.kind is FaultKind.STATION_DOWN
                    else self._one(fault, delivery, copy, rng)
                )
                if delivery.genuine and not any(d.genuine for d in made):
                    dropped_by = fault.kind
                survivors.extend(made)
            deliveries = survivors
        return Outcome(deliveries, dropped_by)

    def _one(
        self, fault: Fault, delivery: Delivery, copy: Copy, rng: random.Random
    ) -> list[Delivery]:
        kind = fault.kind
        if kind in (FaultKind.DROP, FaultKind.PARTITION, FaultKind.FLAP):
            return []
        if kind in (FaultKind.DELAY, FaultKind.REORDER):
            return [delivery._replace(delay=delivery.delay + fault.draw_delay(rng))]
        if kind is FaultKind.DUPLICATE:
            # an extra copy goes where this one goes (a forged answer's copy, back to
            # the notice's sender), so every copy keeps its destination
            extra = [
                delivery._replace(
                    delay=delivery.delay + fault.draw_delay(rng), tag=Tag.DUPLICATE, genuine=False
                )
                for _ in range(fault.copies)
            ]
            return [delivery, *extra]
        if kind is FaultKind.CORRUPT:
            flipped = flip_bits(delivery.data, fault.bits, rng)
            return [delivery._replace(data=flipped, tag=Tag.CORRUPTED)]
        if kind is FaultKind.REPLAY:
            later = delivery._replace(
                delay=delivery.delay + fault.draw_delay(rng), tag=Tag.REPLAYED, genuine=False
            )
            return [delivery, later]
        forged = self.forge(copy, fault.forge_key, rng)
        if forged is None:
            return [delivery]
        arrives = delivery.delay + fault.draw_delay(rng)
        return [delivery, forged._replace(delay=arrives)]

    def forge(self, copy: Copy, key: ForgeKey, rng: random.Random) -> Delivery | None:
        """A forgery made from the intercepted copy, addressed to the station it is sent to
        and naming the kind and sender it claims.

        A notice gets a forged acknowledgement "from" its recipient, sent back to the
        notice's sender; anything else is re-signed as it stands and sent on. The
        signing key is the attacker's own, another station's real key, or a real key of
        a station not on this line — each a different way for verification to refuse it.
        """
        channel, sender, recipient, data = copy.channel, copy.sender, copy.recipient, copy.data
        if channel is None:
            return None  # not a hotline inbox: no station to imitate
        try:
            original = decode_envelope(split_signed(data).envelope_bytes)
        except RejectedMessage:
            return None  # not a well-formed message: nothing to imitate
        forged_id = rng.randbytes(16)  # the copy's own draws: the same in sim and live
        if original.kind in NOTICE_KINDS:
            envelope = Envelope(
                id=forged_id,
                channel=channel,
                kind=Kind.ACK,
                sender=recipient,
                recipients=(sender,),
                incident=original.incident,
                ref=digest(split_signed(data).envelope_bytes),
                seq=original.seq,
                sent_at_ms=original.sent_at_ms,
                precedence=original.precedence,
                body={},
            )
        else:
            envelope = replace(original, id=forged_id)
        signer = self._forging_key(envelope.sender, channel, key)
        if signer is None:
            return None
        to = sender if original.kind in NOTICE_KINDS else recipient
        data = signer.sign_bytes(encode_envelope(envelope))
        claims = (envelope.kind.value, envelope.sender)
        return Delivery(data, 0.0, Tag.FORGED, genuine=False, to=to, claims=claims)

    def _forging_key(self, victim: str, channel: Channel, key: ForgeKey) -> StationKey | None:
        """Attacker: unknown key. Other station: a real key of another station on this
        line (refused as sender-mismatch). Other channel: a real key of a station that is
        not on this line at all (refused as key-not-for-channel)."""
        if key is ForgeKey.ATTACKER:
            return self.attacker
        for station, candidate in sorted(self.keys.items()):
            on_line = channel in self.lines.get(station, frozenset())
            if station != victim and on_line == (key is ForgeKey.OTHER_STATION):
                return candidate
        return None


class CopyDraws(random.Random):
    """The random numbers of one copy: BLAKE2b of the copy's key and a counter, the same
    in every process and Python version. A copy draws a handful of numbers, and seeding a
    Mersenne Twister for it would cost more than all of them (about 7 us against 3)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._count = 0
        #: how many copies of the same identity the plan decided before this one
        self.ordinal = 0
        super().__init__()

    def seed(self, a: object = None, version: int = 2) -> None:
        """Nothing to seed: the key is the seed."""

    def getrandbits(self, k: int, /) -> int:
        """``k`` random bits."""
        bits, have = 0, 0
        while have < k:
            self._count += 1
            block = hashlib.blake2b(self._key + self._count.to_bytes(8, "big"), digest_size=32)
            bits = (bits << 256) | int.from_bytes(block.digest(), "big")
            have += 256
        return bits >> (have - k)

    def random(self) -> float:
        """A float in [0, 1), 53 bits of it random."""
        return self.getrandbits(53) * (1.0 / 9_007_199_254_740_992.0)


#: what a fault made of a copy, as logs and results say it
ACTIONS: Final[Mapping[Tag | None, str]] = {
    None: "delayed",
    Tag.DUPLICATE: "duplicated",
    Tag.CORRUPTED: "corrupted",
    Tag.FORGED: "forged",
    Tag.REPLAYED: "replayed",
}
#: the fault that makes each tag (a delay is a delay or a reorder: both hold a copy back)
MADE_BY: Final[Mapping[Tag | None, FaultKind]] = {
    None: FaultKind.DELAY,
    Tag.DUPLICATE: FaultKind.DUPLICATE,
    Tag.CORRUPTED: FaultKind.CORRUPT,
    Tag.FORGED: FaultKind.FORGE,
    Tag.REPLAYED: FaultKind.REPLAY,
}
#: what the plan decides from a copy's own draws, whatever the timing: a simulated and a
#: live run of one scenario and seed must agree on these for every copy they share (a
#: partition, a flap or a station down decide by their windows alone: timing)
PLAN_DECIDED: Final = frozenset({"drop", "duplicate", "corrupt", "forge", "replay", "lost"})


def copy_label(copy: Copy, ordinal: int | None = None) -> str:
    """A copy as results name it: ``notify US-CAOC->RU-HMEIMIM #0`` (the ordinal counts
    earlier copies of the same incident, kind, sender and recipient)."""
    what = copy.kind or copy.destination
    label = f"{what} {copy.sender}->{copy.recipient}" if copy.kind else what
    return label if ordinal is None else f"{label} #{ordinal}"


def fault_entry(at: float, label: str, fault: str, action: str, detail: str = "") -> dict[str, Any]:
    """One fault applied to one copy, as a result document lists it per incident."""
    entry: dict[str, Any] = {"at": round(at, 3), "copy": label, "fault": fault, "action": action}
    if detail:
        entry["detail"] = detail
    return entry


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether MQTT topic filter ``pattern`` (``+`` one level, ``#`` the rest) matches
    ``topic`` (MQTT 3.1.1 section 4.7)."""
    wanted, levels = pattern.split("/"), topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(wanted) == len(levels)


def check_topic_filter(pattern: str) -> str:
    """``pattern`` if it is a valid MQTT topic filter, else `ValueError` saying why."""
    if not pattern or "\x00" in pattern:
        raise ValueError(f"{pattern!r} is not an MQTT topic filter (empty, or a NUL in it)")
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError(f"{pattern!r}: '#' must be a whole level, and the last")
        if "+" in level and level != "+":
            raise ValueError(f"{pattern!r}: '+' must be a whole level")
    return pattern


def flip_bits(data: bytes, bits: int, rng: random.Random) -> bytes:
    """``data`` with ``bits`` distinct random bits flipped."""
    corrupted = bytearray(data)
    for position in rng.sample(range(len(data) * 8), min(bits, len(data) * 8)):
        corrupted[position // 8] ^= 1 << (position % 8)
    return bytes(corrupted)
