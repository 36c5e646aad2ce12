"""What the line does to each copy a client publishes: the fault plan and ``[network]``.

Theory of operation. The fault proxy hands every PUBLISH a client sends to `LineModel`,
which judges it as the simulator judges a copy (`hotline.sim.exercise`): a line in an
outage drops the copy (when outages are detected) or holds it until the line returns,
unless it would outwait its answer deadline (then it is dropped as expired); on a
working line it may be lost, it is delayed by the line's latency, and the fault plan
(`hotline.faults.FaultPlan`) decides the rest: drops, delays, duplicates, corruption,
forgeries, replays. Loss and faults draw from the copy's own random numbers
(`FaultPlan.draws`), so a copy a simulated and a live run share is decided alike.

This module does no IO: the proxy (`hotline.live.proxy.server`) carries out the
verdicts, and tests can judge copies without a socket. Every decision is an `Applied`
record: what was done, by which fault, to which copy, when.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from hotline.core.channels import Doctrine
from hotline.core.errors import RejectedMessage
from hotline.core.names import Channel, Precedence, inbox_topic
from hotline.core.signing import StationKey, split_signed
from hotline.core.wire import decode_envelope
from hotline.faults import (
    ACTIONS,
    CONNECTION_FAULTS,
    MADE_BY,
    STATION_FAULTS,
    Copy,
    Delivery,
    Fault,
    FaultKind,
    FaultPlan,
    Tag,
    copy_label,
    fault_entry,
)
from hotline.sim.model import Link


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


NOT_HOTLINE: Final = Peek("", "", "", "", None)


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
    dropped: str | None = None  # why the genuine copy did not survive


@dataclass(slots=True)
class Counts:
    """What the line did, counted as the simulator counts (its `Tally`)."""

    copies: int = 0  # copies clients published (one per PUBLISH)
    dropped: int = 0
    injected: int = 0
    delayed: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    injections: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "copies": self.copies,
            "dropped": self.dropped,
            "injected": self.injected,
            "delayed": self.delayed,
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
        self._passive = True
        self.refresh()

    @property
    def faults(self) -> list[Fault]:
        """The plan's faults, in order of application."""
        return list(self.plan.faults)

    def set_faults(self, faults: Sequence[Fault]) -> None:
        """Replace the plan's faults (a runtime change)."""
        self.plan.faults = list(faults)
        self.refresh()

    def refresh(self) -> None:
        copy_faults = [
            f for f in self.plan.faults if f.kind not in CONNECTION_FAULTS | STATION_FAULTS
        ]
        down = any(f.kind is FaultKind.STATION_DOWN for f in self.plan.faults)
        self._passive = not copy_faults and not down and not self.network

    @property
    def passive(self) -> bool:
        """Whether every copy passes untouched (no copy fault, no network): the proxy
        then forwards packets without reading their payloads."""
        return self._passive

    def judge(self, topic: str, payload: bytes, at: float, sender: str = "") -> Verdict:
        """A copy published to ``topic`` at exercise time ``at``; ``sender`` names the
        publishing client's station when the payload does not."""
        self.counts.copies += 1
        line, about = parse_inbox(topic), peek(payload)
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
        if link is not None and not link.up(at):
            if link.detect_outages:
                return self._drop(copy, about, "line down", line_down=True)
            wait = link.resumes(at) - at
            if self._expires(line.channel, about.precedence, wait):
                return self._drop(copy, about, "expired in outage")
            record = self._record(
                copy, about, "held", "outage", f"until the line returns in {wait:.1f} s"
            )
            return Verdict([], [record], hold=wait)
        return self.on_line(copy, about, link)

    def judge_held(self, topic: str, payload: bytes, at: float, sender: str = "") -> Verdict:
        """A copy held in an outage, now that its line is back (counted once, in
        `judge`)."""
        self.counts.copies -= 1
        return self.judge(topic, payload, at, sender)

    def on_line(self, copy: Copy, about: Peek, link: Link | None) -> Verdict:
        """A copy on a working line: loss, latency, then the plan."""
        draws = self.plan.draws(copy)
        label = copy_label(copy, draws.ordinal)
        if link is not None and link.loss > 0.0 and draws.random() < link.loss:
            return self._drop(copy, about, "lost", label=label)
        latency = link.latency.sample(self.rng) if link is not None else 0.0
        outcome = self.plan.apply(copy, draws)
        applied: list[Applied] = []
        if outcome.dropped_by is not None:
            drop = self._drop(copy, about, str(outcome.dropped_by), label=label)
            applied.append(drop.applied[0])
        outgoing = []
        for delivery in outcome.deliveries:
            outgoing.append(
                self._deliver(
                    copy,
                    about=about,
                    delivery=delivery,
                    latency=latency,
                    applied=applied,
                    label=label,
                )
            )
        return Verdict(
            outgoing,
            applied,
            dropped=None if outcome.dropped_by is None else str(outcome.dropped_by),
        )

    def _deliver(
        self,
        copy: Copy,
        *,
        about: Peek,
        delivery: Delivery,
        latency: float,
        applied: list[Applied],
        label: str,
    ) -> Outgoing:
        counts = self.counts
        topic = copy.topic
        if delivery.to is not None and copy.channel is not None:
            topic = inbox_topic(copy.channel, delivery.to)
        if not delivery.genuine:
            counts.injected += 1
            counts.injections[str(delivery.tag)] += 1
        if delivery.tag is not None or delivery.delay > 0:
            if delivery.tag is None:
                counts.delayed += 1
            fault = MADE_BY[delivery.tag].value
            detail = f"+{delivery.delay:.3f} s" if delivery.delay else ""
            if delivery.to is not None:
                detail = f"to {delivery.to}" + (f", {detail}" if detail else "")
            record = self._record(
                copy, about, ACTIONS[delivery.tag], fault, detail, data=delivery.data, label=label
            )
            if delivery.to is not None:
                record = dataclasses.replace(record, to=delivery.to)
            applied.append(record)
        return Outgoing(
            topic, delivery.data, latency + delivery.delay, delivery.genuine, delivery.tag
        )

    def _drop(
        self, copy: Copy, about: Peek, why: str, *, line_down: bool = False, label: str = ""
    ) -> Verdict:
        counts = self.counts
        counts.dropped += 1
        counts.drops[why] += 1
        record = self._record(copy, about, "dropped", why, label=label)
        return Verdict([], [record], line_down=line_down, dropped=why)

    def _record(
        self,
        copy: Copy,
        about: Peek,
        action: str,
        fault: str,
        detail: str = "",
        *,
        data: bytes = b"",
        label: str = "",
    ) -> Applied:
        return Applied(
            copy.at,
            action,
            fault,
            copy.topic,
            None if copy.channel is None else copy.channel.value,
            copy.sender,
            copy.recipient,
            about.incident,
            about.kind,
            about.message,
            detail,
            copy=label or copy_label(copy),
            data=data or copy.data,
            original=copy.data,
        )

    def _expires(self, channel: Channel | None, precedence: Precedence | None, wait: float) -> bool:
        """Whether a copy would outwait its answer deadline in an outage."""
        if self.doctrine is None or channel is None or precedence is None:
            return False
        return wait > self.doctrine[channel].deadline(precedence)
