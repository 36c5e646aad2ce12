"""Endpoints wired together in memory, under virtual time: enough to run full paths.

Each delivery takes ``latency`` seconds; ``cut`` drops every message on a channel.
Responders decide through ``on_notice`` callbacks, as the simulator's policies will.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.core.channels import Doctrine
from hotline.core.endpoint import StationEndpoint
from hotline.core.events import Event, NoticeReceived
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.signing import StationKey
from hotline.core.wire import Envelope
from hotline.doctrine import doctrine_with

T0 = 1_800_000_000.0
STATIONS: Mapping[str, Mapping[str, str]] = {
    "air": {"US": "US-CAOC", "RU": "RU-HMEIMIM", "TR": "TR-AIR"},
    "ground": {"US": "US-GROUND", "RU": "RU-GROUND", "TR": "TR-GROUND"},
    "general-officer": {"US": "US-CJCS", "RU": "RU-GENSTAFF", "TR": "TR-TGS"},
}


def make_doctrine(parties: Iterable[str] = ("US", "RU"), **overrides: Any) -> Doctrine:
    """Default doctrine with the test stations of ``parties``, plus ``overrides`` (file shape)."""
    wanted = set(parties)
    stations = {
        ch: {p: s for p, s in table.items() if p in wanted} for ch, table in STATIONS.items()
    }
    doctrine = doctrine_with({"channels": {ch: {"stations": s} for ch, s in stations.items()}})
    return doctrine.with_overrides(overrides) if overrides else doctrine


def station_key(station: str) -> StationKey:
    return StationKey(hashlib.sha256(station.encode()).digest(), station)


def signed(
    sender: str,
    recipient: str,
    incident: str,
    kind: Kind,
    *,
    at: float,
    seq: int,
    ref: bytes | None = None,
    body: Mapping[str, Any] | None = None,
    message_id: bytes | None = None,
) -> bytes:
    """A message on the air line, validly signed by ``sender``'s test key, that no
    endpoint sent: late answers, repeated notices, impostors."""
    return station_key(sender).sign(
        Envelope(
            id=message_id or hashlib.sha256(f"{sender} {seq} {kind}".encode()).digest()[:16],
            channel=Channel.AIR,
            kind=kind,
            sender=sender,
            recipients=(recipient,),
            incident=incident,
            ref=ref,
            seq=seq,
            sent_at_ms=int(at * 1000),
            precedence=Precedence.FLASH,
            body=dict(body or {}),
        )
    )


def keyring_for(doctrine: Doctrine) -> Keyring:
    keys = []
    for channel in Channel:
        for party, station in doctrine[channel].stations.items():
            keys.append((station, party, channel))
    by_station: dict[str, tuple[str, set[Channel]]] = {}
    for station, party, channel in keys:
        by_station.setdefault(station, (party, set()))[1].add(channel)
    return Keyring(
        TrustedKey(public_key=station_key(s).public_key, party=p, station=s, channels=frozenset(c))
        for s, (p, c) in sorted(by_station.items())
    )


def endpoint(party: str, doctrine: Doctrine, keyring: Keyring | None = None) -> StationEndpoint:
    stations = {doctrine[c].stations[party] for c in Channel if party in doctrine[c].stations}
    counter = itertools.count(1)
    return StationEndpoint(
        party=party,
        keys=[station_key(s) for s in sorted(stations)],
        keyring=keyring or keyring_for(doctrine),
        doctrine=doctrine,
        message_ids=lambda: hashlib.sha256(f"{party}:{next(counter)}".encode()).digest()[:16],
    )


Decide = Callable[[StationEndpoint, NoticeReceived, "Net"], None]


@dataclass
class Net:
    endpoints: dict[str, StationEndpoint]
    latency: float = 2.0
    now: float = T0
    cut: set[Channel] = field(default_factory=set)
    on_notice: dict[str, Decide] = field(default_factory=dict)
    log: list[tuple[float, str, Event]] = field(default_factory=list)
    sent: list[tuple[float, str, Any]] = field(default_factory=list)
    delayed: list[tuple[float, int, Channel, str, bytes]] = field(default_factory=list)
    _count: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def of(cls, parties: Iterable[str], doctrine: Doctrine | None = None, **kw: Any) -> Net:
        parties = list(parties)
        doctrine = doctrine or make_doctrine(parties)
        keyring = keyring_for(doctrine)
        return cls({p: endpoint(p, doctrine, keyring) for p in parties}, **kw)

    def owner(self, station: str) -> str:
        for party, ep in self.endpoints.items():
            if station in ep.stations.values():
                return party
        raise KeyError(station)

    def pump(self) -> None:
        for party, ep in self.endpoints.items():
            for message in ep.outbox():
                self.sent.append((self.now, party, message.envelope))
                if message.channel in self.cut:
                    continue
                for station in message.recipients:
                    arrival = self.now + self.latency
                    heapq.heappush(
                        self.delayed,
                        (arrival, next(self._count), message.channel, station, message.data),
                    )

    def step(self) -> bool:
        """Advance to the next delivery or deadline; False when nothing is left."""
        upcoming = self._next_time()
        if upcoming is None:
            return False
        self.now = max(self.now, upcoming)
        while self.delayed and self.delayed[0][0] <= self.now:
            _, _, channel, station, data = heapq.heappop(self.delayed)
            party = self.owner(station)
            self._handle(party, self.endpoints[party].receive(data, self.now, channel=channel))
        for party, ep in self.endpoints.items():
            self._handle(party, ep.on_timer(self.now))
        self.pump()
        return True

    def _handle(self, party: str, events: list[Event]) -> None:
        for event in events:
            self.log.append((self.now, party, event))
            if isinstance(event, NoticeReceived) and party in self.on_notice:
                self.on_notice[party](self.endpoints[party], event, self)

    def run(self, until: float | None = None, max_steps: int = 10_000) -> None:
        """Step until nothing is left to do (or the next thing is after ``until``)."""
        for _ in range(max_steps):
            upcoming = self._next_time()
            if upcoming is None or (until is not None and upcoming > until):
                if until is not None:
                    self.now = max(self.now, until)
                return
            self.step()
        raise AssertionError("the network did not settle")

    def _next_time(self) -> float | None:
        self.pump()
        times = [d for d in (ep.next_deadline() for ep in self.endpoints.values()) if d is not None]
        if self.delayed:
            times.append(self.delayed[0][0])
        return min(times) if times else None

    def events(self, party: str, kind: type[Event]) -> list[Any]:
        return [e for _, p, e in self.log if p == party and isinstance(e, kind)]
