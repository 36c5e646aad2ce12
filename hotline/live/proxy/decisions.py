"""What the line does to each copy a client publishes: the fault plan and ``[network]``.

Theory of operation. The fault proxy hands every PUBLISH a client sends to `LineModel`,
which judges it with the simulator's own judgement (`hotline.lines.judge_copy`): a line
in an outage drops the copy (when outages are detected) or holds it until the line
returns, unless it would outwait its answer deadline; on a working line it may be lost,
it takes the line's latency, and the fault plan decides the rest: drops, delays,
duplicates, corruption, forgeries, replays. Loss and faults draw from the copy's own
random numbers (`FaultPlan.draws`), so a copy a simulated and a live run share is
decided alike. A hotline message its client publishes again (its outbox after a
reconnect, to any node of a cluster) is the same copy: judged once, remembered here.

This module does no IO: the proxy (`hotline.live.proxy.server`) carries out the
verdicts, and tests can judge copies without a socket. Every decision is an `Applied`
record: what was done, by which fault, to which copy, when.
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from hotline.core.channels import Doctrine
from hotline.core.errors import RejectedMessage
from hotline.core.names import Channel, Precedence, inbox_topic
from hotline.core.signing import StationKey, split_signed
from hotline.core.wire import decode_envelope
from hotline.faults import Copy, Delivery, Fault, FaultPlan, Tag, fault_entry
from hotline.lines import Judged, judge_copy
from hotline.sim.model import Link

#: hotline messages remembered, to know a client's repeat of one from a new copy
REMEMBERED: Final = 100_000


class Line(NamedTuple):
    """Where a topic leads: a hotline inbox's line and station (None, None otherwise)."""

    channel: Channel | None
    station: str


def parse_inbox(topic: str) -> Line:
    """The line and station of an inbox topic ``hotline/v2/<line>/<station>``."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "hotline" and parts[1] == "v2":
        try:
            return Line(Channel(parts[2]), parts[3])
        except ValueError:
            pass
    return Line(None, "")


class Peek(NamedTuple):
    """What a payload says of itself, read without verifying it (the proxy judges copies,
    not messages: a forgery is passed on for the station to refuse)."""

    sender: str
    incident: str
    kind: str
    message: str  # the message id, hex
    precedence: Precedence | None
    sent_at: float | None  # the send time it signed (Unix seconds)


NOT_HOTLINE: Final = Peek("", "", "", "", None, None)


def peek(payload: bytes) -> Peek:
    """The envelope fields of a signed hotline message, or `NOT_HOTLINE`."""
    try:
        envelope = decode_envelope(split_signed(payload).envelope_bytes)
    except RejectedMessage:
        return NOT_HOTLINE
    return Peek(
        envelope.sender,
        envelope.incident,
        envelope.kind.value,
        envelope.id.hex(),
        envelope.precedence,
        envelope.sent_at,
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """One thing the proxy did to a copy or a connection, with the plan's reason.

    ``data`` is what the copy became (a corrupted or forged copy's bytes) and
    ``original`` the bytes the client published: both stay out of `as_json`.
    """

    at: float  # exercise seconds
    action: str  # dropped, delayed, duplicated, corrupted, forged, replayed, held, ...
    fault: str  # the fault kind, or the network's reason (lost, line down, ...)
    topic: str
    channel: str | None = None
    sender: str = ""
    recipient: str = ""
    incident: str = ""
    kind: str = ""
    message: str = ""
    detail: str = ""
    copy: str = ""  # the copy as results name it (`hotline.faults.copy_label`)
    to: str = ""  # where a copy the fault made goes, when not where the copy went
    tag: Tag | None = None  # what the fault made of the delivery it concerns
    genuine: bool = True  # False: a copy the fault added (not the one sent)
    data: bytes = field(default=b"", repr=False)
    original: bytes = field(default=b"", repr=False)

    def entry(self) -> dict[str, Any]:
        """The record as a result lists it under its incident (`fault_entry`)."""
        return fault_entry(self.at, self.copy, self.fault, self.action, self.detail)

    def as_json(self) -> dict[str, Any]:
        """The record without its bytes, for logs and result documents."""
        return {
            "at": round(self.at, 3),
            "action": self.action,
            "fault": self.fault,
            "topic": self.topic,
            "channel": self.channel,
            "sender": self.sender,
            "recipient": self.recipient,
            "incident": self.incident,
            "kind": self.kind,
            "message": self.message,
            "detail": self.detail,
        }

    def line(self) -> str:
        """One readable line for a log."""
        what = f"{self.kind} {self.sender}->{self.recipient}" if self.kind else self.topic
        about = f" of {self.incident}" if self.incident else ""
        detail = f" ({self.detail})" if self.detail else ""
        message = f" [{self.message[:12]}]" if self.message else ""
        return f"{self.at:10.3f}  {self.action:<10} {what}{about}{message} by {self.fault}{detail}"


class Outgoing(NamedTuple):
    """A copy the line delivers: to ``topic``, ``delay`` exercise seconds from now."""

    topic: str
    data: bytes
    delay: float
    genuine: bool
    tag: Tag | None


class Verdict(NamedTuple):
    """What becomes of one copy: delivered copies, or a hold in an outage (then judged
    again when the line returns), and the records of what was done."""

    outgoing: list[Outgoing]
    applied: list[Applied]
    hold: float = 0.0  # exercise seconds to wait before the line takes the copy
    line_down: bool = False  # dropped because the sender found its line down

    @property
    def untouched(self) -> bool:
        """The copy goes on as it was sent, at once, alone."""
        return (
            not self.applied
            and len(self.outgoing) == 1
            and not self.outgoing[0].delay
            and self.outgoing[0].tag is None
        )


#: what a repeat of a copy the line took off its client's hands becomes: nothing more
TAKEN: Final = Verdict([], [])


@dataclass(slots=True)
class Counts:
    """What the line did, counted as the simulator counts (its `Tally`)."""

    copies: int = 0  # copies clients published (one per PUBLISH, repeats aside)
    dropped: int = 0
    injected: int = 0
    delayed: int = 0
    repeats: int = 0  # hotline messages their clients published again
    drops: Counter[str] = field(default_factory=Counter)
    injections: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "copies": self.copies,
            "dropped": self.dropped,
            "injected": self.injected,
            "delayed": self.delayed,
            "repeats": self.repeats,
            "drops": dict(sorted(self.drops.items())),
            "injections": dict(sorted(self.injections.items())),
        }


class LineModel:
    """Judges copies by a fault plan and a network (see the module doc).

    Args:
        faults: the plan's faults, in order (connection faults are the proxy's own).
        seed: the run's seed (each copy's numbers derive from it).
        network: each line's latency, loss and outages (None: a perfect line).
        doctrine: answer deadlines, for copies held in an outage.
        keys: private keys a forger may use (another station's), by station.
        lines: the lines each station sits on.
        attacker: a key in nobody's keyring.
    """

    def __init__(
        self,
        faults: Sequence[Fault] = (),
        *,
        seed: int = 0,
        network: Mapping[Channel, Link] | None = None,
        doctrine: Doctrine | None = None,
        keys: Mapping[str, StationKey] | None = None,
        lines: Mapping[str, frozenset[Channel]] | None = None,
        attacker: StationKey | None = None,
    ) -> None:
        self.plan = FaultPlan(
            list(faults), keys=keys or {}, lines=lines or {}, attacker=attacker, seed=seed
        )
        self.network = dict(network or {})
        self.doctrine = doctrine
        self.rng = random.Random(f"hotline proxy latency|{seed}")  # timing only
        self.counts = Counts()
        self._remembered: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._faulty = not self.plan.empty

    @property
    def faults(self) -> list[Fault]:
        """The plan's faults, in order of application."""
        return list(self.plan.faults)

    def set_faults(self, faults: Sequence[Fault]) -> None:
        """Replace the plan's faults (a runtime change)."""
        self.plan.faults = list(faults)
        self._faulty = not self.plan.empty

    @property
    def passive(self) -> bool:
        """Whether every copy passes untouched (no copy fault, no network): the proxy
        then forwards packets without reading their payloads."""
        return not self._faulty and not self.network

    def judge(self, topic: str, payload: bytes, at: float, sender: str = "") -> Verdict:
        """A copy published to ``topic``, sent at exercise time ``at``; ``sender`` names
        the publishing client's station when the payload does not."""
        about = peek(payload)
        if about.message:
            key = (topic, about.message)
            untouched = self._remembered.get(key)
            if untouched is not None:  # its client published it again: the same copy
                self.counts.repeats += 1
                return _AS_SENT if untouched else TAKEN
        self.counts.copies += 1
        verdict = self._judge(topic, payload, at, sender, about)
        if about.message:
            self._remembered[(topic, about.message)] = verdict.untouched
            if len(self._remembered) > REMEMBERED:
                self._remembered.popitem(last=False)
        return verdict

    def judge_held(self, topic: str, payload: bytes, at: float, sender: str = "") -> Verdict:
        """A copy held in an outage, now that its line is back (counted once, in
        `judge`)."""
        return self._judge(topic, payload, at, sender, peek(payload))

    def _judge(self, topic: str, payload: bytes, at: float, sender: str, about: Peek) -> Verdict:
        line = parse_inbox(topic)
        copy = Copy(
            line.channel,  # None: not a hotline inbox
            about.sender or sender,
            line.station,
            payload,
            at,
            about.incident,
            about.kind,
            topic,
        )
        link = self.network.get(line.channel) if line.channel is not None else None
        deadline = None
        if self.doctrine is not None and line.channel is not None and about.precedence:
            deadline = self.doctrine[line.channel].deadline(about.precedence)
        judged = judge_copy(
            copy, link, self.plan, rng=self.rng, deadline=deadline, faulty=self._faulty
        )
        return self._verdict(copy, about, judged)

    def _verdict(self, copy: Copy, about: Peek, judged: Judged) -> Verdict:
        counts = self.counts
        if judged.dropped is not None:
            counts.dropped += 1
            counts.drops[judged.dropped] += 1
        applied = [self._record(copy, about, entry, delivery) for entry, delivery in judged.marks]
        outgoing = []
        for delivery in judged.deliveries:
            if not delivery.genuine:
                counts.injected += 1
                counts.injections[str(delivery.tag)] += 1
            elif delivery.tag is None and delivery.delay > 0:
                counts.delayed += 1
            topic = copy.destination
            if delivery.to is not None and copy.channel is not None:
                topic = inbox_topic(copy.channel, delivery.to)
            delay = judged.latency + delivery.delay
            outgoing.append(Outgoing(topic, delivery.data, delay, delivery.genuine, delivery.tag))
        return Verdict(outgoing, applied, judged.hold, judged.line_down)

    def _record(
        self, copy: Copy, about: Peek, entry: Mapping[str, Any], delivery: Delivery | None
    ) -> Applied:
        return Applied(
            copy.at,
            entry["action"],
            entry["fault"],
            copy.destination,
            None if copy.channel is None else copy.channel.value,
            copy.sender,
            copy.recipient,
            about.incident,
            about.kind,
            about.message,
            entry.get("detail", ""),
            copy=entry["copy"],
            to=delivery.to or "" if delivery is not None else "",
            tag=None if delivery is None else delivery.tag,
            genuine=True if delivery is None else delivery.genuine,
            data=copy.data if delivery is None else delivery.data,
            original=copy.data,
        )


#: a repeat of a copy that went on as sent: forwarded as sent again
_AS_SENT: Final = Verdict([Outgoing("", b"", 0.0, True, None)], [])
