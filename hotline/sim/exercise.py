"""Running one exercise: real endpoints, a simulated network, virtual time.

Theory of operation. `Exercise` builds one `StationEndpoint` per party from the
scenario, with keys derived from the seed (no key files), and drives them with the
`Kernel`. Everything an endpoint emits goes through `_pump`: its outbox onto the
simulated network, its next deadline onto the agenda. The network is per line: a
message copy is dropped if the bearer is out (judged when it is sent) or by random loss,
and otherwise arrives after a latency drawn from the line's distribution. Randomness
comes from the one `random.Random(seed)` of the run, drawn in agenda order, so the same
scenario and seed give the same run, byte for byte.

With ``signing = "none"`` (protocol-only timing studies) the endpoints hand envelopes
to each other in memory: nothing is encoded, signed or decoded, while freshness, replay
and every incident rule still apply.

Message accounting: every copy (one per recipient) is sent, and is then exactly one of
delivered, dropped or in flight when the run ends. A delivered copy may still be
rejected by its receiver; rejections are counted by reason.
"""

from __future__ import annotations

import gc
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hotline.core.endpoint import Outgoing, StationEndpoint
from hotline.core.errors import HotlineError
from hotline.core.events import Event, Received, Rejected
from hotline.core.incident import Incident, Notice
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Kind
from hotline.core.signing import StationKey
from hotline.core.verifier import VerifierPolicy
from hotline.sim.kernel import Kernel, Priority
from hotline.sim.responders import Responders
from hotline.sim.scenario import Scenario, ScriptEvent

_NOTICES = frozenset({Kind.NOTIFY, Kind.ESCALATE})


@dataclass(slots=True)
class MessageRecord:
    """One copy of one message on the network (times in exercise seconds)."""

    sent_at: float
    channel: str
    kind: str
    incident: str
    sender: str
    recipient: str
    fate: str = "in-flight"  # delivered, dropped (why), rejected (reason)
    arrived_at: float | None = None


@dataclass(slots=True)
class Tally:
    """Message counts of a run."""

    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    in_flight: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Note:
    """Something worth a line in the timeline that is not a message: decisions, script."""

    at: float
    party: str
    incident: str
    text: str


@contextmanager
def _cyclic_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the length of a run.

    A run keeps every incident alive to the end and makes no reference cycles per
    message (reference counting frees all its garbage at once), but the collector
    would still rescan the whole growing set of live incidents over and over: measured
    at about 40% of a run's time. The previous setting is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def station_seed(seed: int, station: str) -> bytes:
    """The private seed of ``station`` in a run with ``seed``: no key files needed."""
    return hashlib.sha256(f"hotline exercise key|{seed}|{station}".encode()).digest()


class Exercise:
    """One run of a scenario.

    Args:
        scenario: what to run.
        seed: overrides the scenario's seed.
        record: keep every message copy and decision for a timeline (costs memory).
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, *, record: bool = True) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.kernel = Kernel(scenario.start)
        self.tally = Tally()
        self.records: list[MessageRecord] | None = [] if record else None
        self.notes: list[Note] = []
        self._timers: dict[str, tuple[float, int]] = {}  # party -> (deadline, kernel handle)
        self.encoded = scenario.signing != "none"
        keys = {s: StationKey(station_seed(self.seed, s), s) for s in scenario.stations()}
        keyring = Keyring(
            TrustedKey(public_key=keys[s].public_key, party=p, station=s, channels=c)
            for s, (p, c) in scenario.stations().items()
        )
        policy = VerifierPolicy(max_age=scenario.max_age, max_skew=scenario.max_skew)
        self.endpoints = {
            party: StationEndpoint(
                party=party,
                keys=[keys[s] for s in sorted(set(table.values()))],
                keyring=keyring,
                doctrine=scenario.doctrine,
                message_ids=lambda: self.rng.randbytes(16),
                policy=policy,
                encode=self.encoded,
            )
            for party, table in scenario.parties.items()
        }
        self._owner = {s: p for s, (p, _) in scenario.stations().items()}
        self.responders = Responders(scenario, self.rng, self.kernel, self.endpoints, self._decided)
        for event in scenario.events:
            self.kernel.schedule(scenario.start + event.at, Priority.SCRIPT, self._script(event))

    # -- running ----------------------------------------------------------------------

    def run(self) -> Exercise:
        """Run to the scenario's duration, or until nothing is left to happen."""
        with _cyclic_collector_paused():
            self.kernel.run(self.scenario.start + self.scenario.duration)
        return self

    @property
    def elapsed(self) -> float:
        """Exercise seconds from the start to where the run stopped."""
        return self.kernel.now - self.scenario.start

    def incidents(self) -> list[Incident]:
        """Every incident, from its originator's view, in order of opening."""
        found = [
            i for ep in self.endpoints.values() for i in ep.incidents() if i.role == "originator"
        ]
        return sorted(found, key=lambda i: (i.opened_at, i.id))

    def views(self) -> list[tuple[str, Incident]]:
        """Every responder view, with its party."""
        return [
            (p, i)
            for p, ep in self.endpoints.items()
            for i in ep.incidents()
            if i.role == "responder"
        ]

    # -- the pumps --------------------------------------------------------------------

    def _script(self, event: ScriptEvent) -> Callable[[], None]:
        def act() -> None:
            endpoint, now = self.endpoints[event.party], self.kernel.now
            try:
                if event.action == "notify":
                    endpoint.notify(
                        channel=event.channel,
                        precedence=event.precedence,
                        notice=Notice(
                            activity=event.activity,
                            starts_at=None if event.starts_in is None else now + event.starts_in,
                            ends_at=None
                            if event.starts_in is None or event.lasts is None
                            else now + event.starts_in + event.lasts,
                            area=event.area,
                            text=event.text,
                        ),
                        now=now,
                        parties=event.to,
                        incident_id=event.incident,
                    )
                elif event.action == "withdraw":
                    endpoint.withdraw(event.incident, now, text=event.text)
                elif event.action == "escalate":
                    endpoint.escalate(event.incident, now, reason=event.reason)
                else:
                    endpoint.resolve(event.incident, event.actions, now, text=event.text)
            except (HotlineError, ValueError) as exc:  # the incident's state no longer allows it
                self._note(event.party, event.incident, f"scripted {event.action} not done: {exc}")
            else:
                self._note(event.party, event.incident, f"scripted {event.action}")
            self._pump(event.party)

        return act

    def _pump(self, party: str) -> None:
        endpoint = self.endpoints[party]
        for message in endpoint.outbox():
            self._transmit(party, message)
        deadline = endpoint.next_deadline()
        current = self._timers.get(party)
        if current is not None and current[0] == deadline:
            return
        if current is not None:
            self.kernel.cancel(current[1])
            del self._timers[party]
        if deadline is not None:
            handle = self.kernel.schedule(deadline, Priority.TIMER, lambda: self._timer(party))
            self._timers[party] = (deadline, handle)

    def _timer(self, party: str) -> None:
        del self._timers[party]
        self._handle(party, self.endpoints[party].on_timer(self.kernel.now))
        self._pump(party)

    def _transmit(self, party: str, message: Outgoing) -> None:
        scenario, rng, tally, now = self.scenario, self.rng, self.tally, self.kernel.now
        link = scenario.network[message.channel]
        at = now - scenario.start
        envelope = message.envelope
        link_down = False
        for recipient in message.recipients:
            tally.sent += 1
            record = None
            if self.records is not None:
                record = MessageRecord(
                    at,
                    message.channel.value,
                    envelope.kind.value,
                    envelope.incident,
                    envelope.sender,
                    recipient,
                )
                self.records.append(record)
            fate = None
            if not link.up(at):
                fate, link_down = "dropped: line down", link.detect_outages
            elif link.loss > 0.0 and rng.random() < link.loss:
                fate = "dropped: lost"
            if fate is not None:
                tally.dropped += 1
                tally.drops[fate.removeprefix("dropped: ")] += 1
                if record is not None:
                    record.fate = fate
                continue
            tally.in_flight += 1
            delay = link.latency.sample(rng)
            self.kernel.schedule(
                now + delay, Priority.DELIVERY, self._arrival(recipient, message, record)
            )
        if link_down:
            self.kernel.schedule(now, Priority.DELIVERY, lambda: self._line_down(party, message))

    def _line_down(self, party: str, message: Outgoing) -> None:
        self._note(party, message.envelope.incident, f"{message.channel} line found down")
        self._handle(party, self.endpoints[party].link_down(message.channel, self.kernel.now))
        self._pump(party)

    def _arrival(
        self, station: str, message: Outgoing, record: MessageRecord | None
    ) -> Callable[[], None]:
        def arrive() -> None:
            tally, now = self.tally, self.kernel.now
            tally.in_flight -= 1
            tally.delivered += 1
            party = self._owner[station]
            endpoint = self.endpoints[party]
            if self.encoded:
                events = endpoint.receive(message.data, now, channel=message.channel)
            else:
                events = endpoint.receive_envelope(message.envelope, message.digest, now)
            if record is not None:
                record.arrived_at = now - self.scenario.start
                record.fate = "delivered"
            for event in events:
                if isinstance(event, Rejected):
                    tally.rejected[event.reason.value] += 1
                    if record is not None:
                        record.fate = f"rejected: {event.reason}"
            self._handle(party, events)
            self._pump(party)

        return arrive

    def _handle(self, party: str, events: list[Event]) -> None:
        # Every notice that arrives rings: the first call (which also opened the view)
        # and each retry, so an operator who missed one call may pick up the next.
        for event in events:
            if isinstance(event, Received) and event.envelope.kind in _NOTICES:
                envelope = event.envelope
                view = self.endpoints[party].answering(envelope.incident, envelope.channel)
                self.responders.ring(party, view)

    def _decided(self, party: str, view: Incident, what: str) -> None:
        self._note(party, view.id, what)
        self._pump(party)

    def _note(self, party: str, incident: str, text: str) -> None:
        if self.records is not None:
            self.notes.append(Note(self.kernel.now - self.scenario.start, party, incident, text))


def run_exercise(scenario: Scenario, seed: int | None = None, *, record: bool = True) -> Exercise:
    """Run ``scenario`` (with ``seed`` instead of its own, if given) and return the run."""
    return Exercise(scenario, seed, record=record).run()
