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

import contextlib
import gc
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from hotline.audit.journal import Journal, keep_earlier
from hotline.audit.recorder import Recorder
from hotline.core.endpoint import Outgoing, StationEndpoint
from hotline.core.errors import HotlineError
from hotline.core.events import Event, Received, Rejected
from hotline.core.incident import Incident, Notice, Role
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Kind
from hotline.core.signing import StationKey
from hotline.core.verifier import VerifierPolicy
from hotline.faults import Copy, FaultKind, FaultPlan, Tag
from hotline.geo.agreed import Judgement, Request, agreed_map
from hotline.lines import judge_copy
from hotline.sim.invariants import Watch
from hotline.sim.kernel import Kernel, Priority
from hotline.sim.model import NOTICE_ACTIONS, Scenario, ScriptEvent
from hotline.sim.responders import Responders
from hotline.sim.timeline import MessageRecord, Note


@dataclass(slots=True)
class Tally:
    """Message counts of a run."""

    sent: int = 0  # copies stations sent (one per recipient)
    injected: int = 0  # extra copies faults made (duplicates, replays, forgeries)
    delivered: int = 0
    dropped: int = 0
    in_flight: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    injections: Counter[str] = field(default_factory=Counter)
    flying: Counter[str] = field(default_factory=Counter)  # copies in flight, per incident
    rejected_by: dict[str, Counter[str]] = field(default_factory=dict)  # incident -> reasons
    #: incident -> each fault applied to its copies (`hotline.faults.fault_entry`); None
    #: when the run has no faults, loss or outages to log
    faults: dict[str, list[dict[str, Any]]] | None = None

    #: incident -> how many copies of each identity were sent (kind sender->recipient)
    copies: dict[str, Counter[str]] | None = None

    def applied(self, incident: str, entry: dict[str, Any]) -> None:
        """Log one fault applied to a copy of one of ``incident``'s messages."""
        if self.faults is not None:
            self.faults.setdefault(incident, []).append(entry)

    def sent_copy(self, incident: str, identity: str) -> None:
        """Count one copy of ``incident``'s of this identity (``notify A->B``)."""
        if self.copies is not None:
            self.copies.setdefault(incident, Counter())[identity] += 1

    def fly(self, incident: str) -> None:
        """A copy of one of ``incident``'s messages is on its way."""
        self.in_flight += 1
        flying = self.flying
        flying[incident] = flying.get(incident, 0) + 1

    def landed(self, incident: str) -> None:
        """A copy of one of ``incident``'s messages is no longer on its way (an incident
        with none in flight has no entry: a run of 100k incidents keeps no 100k zeros)."""
        self.in_flight -= 1
        flying = self.flying
        left = flying[incident] - 1
        if left:
            flying[incident] = left
        else:
            flying.pop(incident)  # (dict's own; Counter's del is written in Python)

    def refused(self, incident: str, reason: str) -> None:
        """Count a copy of one of ``incident``'s messages refused with ``reason``."""
        self.rejected[reason] += 1
        self.rejected_by.setdefault(incident, Counter())[reason] += 1

    def accounted(self) -> tuple[bool, str]:
        """Whether every copy is delivered, dropped or in flight, and the sum if not."""
        held = self.sent + self.injected == self.delivered + self.dropped + self.in_flight
        detail = (
            ""
            if held
            else (
                f"sent {self.sent} + injected {self.injected} != delivered {self.delivered}"
                f" + dropped {self.dropped} + in flight {self.in_flight}"
            )
        )
        return held, detail


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
        journals: write each party's journal (`hotline.audit.journal`) into this
            directory as ``PARTY.journal``, replacing any there; signed runs only.

    Raises:
        HotlineError: journals asked of a run without signatures.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        *,
        record: bool = True,
        journals: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.kernel = Kernel(scenario.start)
        self.tally = Tally()
        self.records: list[MessageRecord] | None = [] if record else None
        self.notes: list[Note] = []
        self._timers: dict[str, tuple[float, int]] = {}  # party -> (deadline, kernel handle)
        self.encoded = scenario.signing != "none"
        self.watch = Watch()
        stations = scenario.stations()
        keys = {s: StationKey(station_seed(self.seed, s), s) for s in stations}
        #: each station's private key (derived from the seed: anyone can make them)
        self.station_keys = keys
        self.plan = FaultPlan(
            scenario.faults,
            keys=keys,
            lines={s: c for s, (_, c) in stations.items()},
            attacker=StationKey(station_seed(self.seed, "ATTACKER"), "ATTACKER"),
            seed=self.seed,
        )
        self._faulty = not self.plan.empty
        if scenario.logs_faults():  # each incident lists the faults its copies met
            self.tally.faults, self.tally.copies = {}, {}
        # the stations a station-down fault names: any other is always up
        self._fallible = frozenset(
            f.station for f in self.plan.faults if f.kind is FaultKind.STATION_DOWN
        )
        # a post's clock runs ahead by the skew of its stations (clock-skew faults)
        self._offset = {
            party: self.plan.clock_offset(table.values())
            for party, table in scenario.parties.items()
        }
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
                track_changes=journals is not None,
            )
            for party, table in scenario.parties.items()
        }
        #: journals earlier runs left in the directory, and where they were moved
        self.kept_journals: list[tuple[Path, Path]] = []
        #: incident -> what the agreed map says of its notice
        self.judged: dict[str, Judgement] = {}
        self.notice_judge = NoticeJudge(scenario)
        #: journal heads or countersignatures refused as the run ended (clock skew...)
        self.head_refusals: list[str] = []
        self.recorders = {} if journals is None else self._recorders(journals)
        self._owner = {s: p for s, (p, _) in stations.items()}
        self.responders = Responders(
            scenario,
            rng=self.rng,
            kernel=self.kernel,
            endpoints=self.endpoints,
            after=self._decided,
            clock=self._local,
            back_at=self._back_at,
        )
        # the script is scheduled one act at a time, each when the one before it runs: the
        # agenda stays short (a heap of 100k scripted acts made every step of a long run
        # dearer), and acts at one instant still run in the scenario's order, before
        # anything else due then (no other entry has their priority)
        self._acts = sorted(scenario.events, key=_at)
        self._acted = 0
        self._schedule_act()

    # -- running ----------------------------------------------------------------------

    def run(self) -> Exercise:
        """Run to the scenario's duration, or until nothing is left to happen."""
        with _cyclic_collector_paused(), contextlib.ExitStack() as stack:
            for recorder in self.recorders.values():
                stack.callback(recorder.journal.close)
                stack.enter_context(recorder.journal.transaction())
            self.kernel.run(self.scenario.start + self.scenario.duration)
            if self.recorders:
                self._exchange_heads()
            for party, recorder in self.recorders.items():
                recorder.flush(self._local(party))  # rejections counted, not yet journaled
        return self

    def _exchange_heads(self) -> None:
        """When a journaled run ends, each post signs its journal head to the others,
        who countersign it (protocol/PROTOCOL.md, section 12.14). They go over a working
        line, after the run and off its books: the run's outcome, counts and random
        draws are those of the same run without journals."""
        for party, recorder in self.recorders.items():
            journal = recorder.journal
            self.endpoints[party].announce_head(len(journal), journal.head, self._local(party))
            self._hand_over(party)

    def _hand_over(self, party: str) -> None:
        """Deliver ``party``'s outbox at once, and what the receivers answer."""
        for message in self.endpoints[party].outbox():
            self.recorders[party].sent(message, self._local(party))
            for station in message.recipients:
                other = self._owner[station]
                now = self._local(other)
                events = self.endpoints[other].receive(message.data, now, channel=message.channel)
                self.recorders[other].received(message.data, message.channel, events, now)
                for event in events:
                    if isinstance(event, Rejected):
                        self.head_refusals.append(
                            f"{station} refused {message.envelope.sender}'s "
                            f"{message.envelope.kind} about journals: {event.reason}"
                        )
                self._hand_over(other)

    def _recorders(self, directory: Path) -> dict[str, Recorder]:
        if not self.encoded:
            raise HotlineError("journals keep signed messages: this scenario has signing = none")
        directory.mkdir(parents=True, exist_ok=True)
        recorders = {}
        for party, endpoint in self.endpoints.items():
            path = directory / f"{party}.journal"
            kept = keep_earlier(path)  # left by an earlier run
            if kept is not None:
                self.kept_journals.append((path, kept))
            recorders[party] = Recorder(Journal(path), endpoint, self._local(party))
        return recorders

    @property
    def elapsed(self) -> float:
        """Exercise seconds from the start to where the run stopped."""
        return self.kernel.now - self.scenario.start

    def local_ends(self) -> dict[str, float]:
        """Where the run stopped, on each post's own clock."""
        return {party: self._local(party) for party in self.endpoints}

    def incidents(self) -> list[Incident]:
        """Every incident, from its originator's view, in order of opening."""
        return originated(self.endpoints)

    def views(self) -> list[tuple[str, Incident]]:
        """Every responder view, with its party."""
        return responder_views(self.endpoints)

    def declared(self) -> dict[str, dict[Channel, str]]:
        """What each party last declared of each line it declared (suspended, working)."""
        return declarations(self.endpoints)

    # -- clocks and stations ----------------------------------------------------------

    def _local(self, party: str) -> float:
        """The time on ``party``'s post clock (true time plus any clock skew)."""
        return self.kernel.now + self._offset[party]

    def _down(self, station: str) -> bool:
        return self.plan.station_down(station, self.kernel.now - self.scenario.start)

    def _back_at(self, station: str) -> float | None:
        """When ``station``, down now, is back up (true time); None when it is up."""
        if station not in self._fallible or not self._down(station):
            return None
        start = self.scenario.start
        return start + self.plan.back_up(station, self.kernel.now - start)

    # -- the pumps --------------------------------------------------------------------

    def _schedule_act(self) -> None:
        if self._acted < len(self._acts):
            at = self.scenario.start + self._acts[self._acted].at
            self.kernel.schedule(at, Priority.SCRIPT, self._act)

    def _act(self) -> None:
        event = self._acts[self._acted]
        self._acted += 1
        self._schedule_act()
        endpoint, now = self.endpoints[event.party], self._local(event.party)
        self._note(event.party, event.incident, perform(endpoint, event, now))
        judged = self.notice_judge.judge(event, self.kernel.now)
        if judged is not None:
            self.judged[event.incident] = judged
            if self.records is not None:
                self._note(event.party, event.incident, judged.summary())
            recorder = self.recorders.get(event.party)
            if recorder is not None:
                recorder.judged(event.incident, judged.as_json(), now)
        self._pump(event.party)

    def _pump(self, party: str) -> None:
        endpoint = self.endpoints[party]
        recorder = self.recorders.get(party)
        if recorder is not None:
            recorder.transitions(endpoint.changed())
        for message in endpoint.outbox():
            if recorder is not None:
                recorder.sent(message, self._local(party))
            self._transmit(party, message)
        local = endpoint.next_deadline()
        deadline = None if local is None else local - self._offset[party]
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
        self._handle(party, self.endpoints[party].on_timer(self._local(party)))
        self._pump(party)

    def _transmit(self, party: str, message: Outgoing) -> None:
        scenario, tally, now = self.scenario, self.tally, self.kernel.now
        link = scenario.network[message.channel]
        at = now - scenario.start
        envelope = message.envelope
        self.watch.sent.add(envelope.id)
        plain = not self._faulty and not link.loss and link.up(at)
        link_down = False
        for recipient in message.recipients:
            tally.sent += 1
            record = self._record(at, message, recipient)
            if tally.copies is not None:
                tally.sent_copy(
                    envelope.incident, f"{envelope.kind.value} {envelope.sender}->{recipient}"
                )
            if plain:  # no fault, loss or outage to judge: straight onto the line
                tally.fly(envelope.incident)
                arrival = self._arrival(recipient, message, record, message.data, None)
                self.kernel.schedule(
                    now + link.latency.sample(self.rng), Priority.DELIVERY, arrival
                )
            elif self._send_copy(message, recipient, record):
                link_down = True
        if link_down:
            self.kernel.schedule(now, Priority.DELIVERY, lambda: self._line_down(party, message))

    def _send_copy(self, message: Outgoing, recipient: str, record: MessageRecord | None) -> bool:
        """One copy, judged by its line (`hotline.lines.judge_copy`: outages, loss,
        latency, faults), as the live fault proxy judges it; returns whether the sender
        found the line down.

        A copy sent while its line is down waits for the line to come back, and is
        judged again then; one that would wait longer than its precedence's answer
        deadline on that line is dropped as expired (by then a retry, or the next line,
        has taken over)."""
        scenario, tally, now = self.scenario, self.tally, self.kernel.now
        envelope = message.envelope
        copy = Copy(
            message.channel,
            envelope.sender,
            recipient,
            message.data,
            now - scenario.start,
            envelope.incident,
            envelope.kind.value,
        )
        judged = judge_copy(
            copy,
            scenario.network[message.channel],
            self.plan,
            rng=self.rng,
            deadline=scenario.doctrine[message.channel].deadline(envelope.precedence),
            faulty=self._faulty,
        )
        for entry in judged.entries:
            tally.applied(envelope.incident, entry)
        if judged.dropped is not None:
            self._dropped(judged.dropped, record)
        if judged.hold:
            tally.fly(envelope.incident)
            if record is not None:
                record.fate = "held in outage"

            def resend() -> None:
                tally.landed(envelope.incident)
                self._send_copy(message, recipient, record)

            self.kernel.schedule(now + judged.hold, Priority.DELIVERY, resend)
            return False
        at = copy.at
        for delivery in judged.deliveries:
            to = delivery.to or recipient
            if not delivery.genuine:
                tally.injected += 1
                tally.injections[str(delivery.tag)] += 1
                record = self._record(at, message, to, f" ({delivery.tag})", delivery.claims)
            tally.fly(envelope.incident)
            arrival = self._arrival(to, message, record, delivery.data, delivery.tag)
            when = now + judged.latency + delivery.delay
            self.kernel.schedule(when, Priority.DELIVERY, arrival)
        return judged.line_down

    def _record(
        self,
        at: float,
        message: Outgoing,
        recipient: str,
        suffix: str = "",
        claims: tuple[str, str] | None = None,
    ) -> MessageRecord | None:
        """A timeline line for one copy; a forgery shows the kind and sender it claims."""
        if self.records is None:
            return None
        envelope = message.envelope
        kind, sender = claims or (envelope.kind.value, envelope.sender)
        record = MessageRecord(
            at, message.channel.value, kind + suffix, envelope.incident, sender, recipient
        )
        self.records.append(record)
        return record

    def _dropped(self, why: str, record: MessageRecord | None) -> None:
        self.tally.dropped += 1
        self.tally.drops[why] += 1
        if record is not None:
            record.fate = f"dropped: {why}"

    def _line_down(self, party: str, message: Outgoing) -> None:
        self._note(party, message.envelope.incident, f"{message.channel} line found down")
        self._handle(party, self.endpoints[party].link_down(message.channel, self._local(party)))
        self._pump(party)

    def _arrival(
        self,
        station: str,
        message: Outgoing,
        record: MessageRecord | None,
        data: bytes,
        tag: Tag | None,
    ) -> Callable[[], None]:
        """The arrival of one copy (``data``, what a fault made of it: ``tag``)."""

        def arrive() -> None:
            tally = self.tally
            tally.landed(message.envelope.incident)
            if station in self._fallible and self._down(station):
                tally.dropped += 1  # it reached a station that went down while it travelled
                tally.drops[str(FaultKind.STATION_DOWN)] += 1
                if record is not None:
                    record.fate = f"dropped: {FaultKind.STATION_DOWN}"
                return
            tally.delivered += 1
            party = self._owner[station]
            endpoint, now = self.endpoints[party], self._local(party)
            if self.encoded:
                events = endpoint.receive(data, now, channel=message.channel)
                recorder = self.recorders.get(party)
                if recorder is not None:
                    recorder.received(data, message.channel, events, now)
            else:
                events = endpoint.receive_envelope(message.envelope, message.digest, now)
            if record is not None:
                record.arrived_at = self.kernel.now - self.scenario.start
                record.fate = "delivered"
            for event in events:
                if isinstance(event, Rejected):
                    tally.refused(message.envelope.incident, event.reason.value)
                    if record is not None:
                        record.fate = f"rejected: {event.reason}"
                elif isinstance(event, Received):
                    self.watch.observe(party, event, tag, self._owner)
            self._handle(party, events)
            self._pump(party)

        return arrive

    def _handle(self, party: str, events: list[Event]) -> None:
        for event in events:
            self.responders.heard(party, event)

    def _decided(self, party: str, view: Incident, what: str) -> None:
        self._note(party, view.id, what)
        self._pump(party)

    def _note(self, party: str, incident: str, text: str) -> None:
        if self.records is not None:
            self.notes.append(Note(self.kernel.now - self.scenario.start, party, incident, text))


def _at(event: ScriptEvent) -> float:
    return event.at


def originated(endpoints: Mapping[str, StationEndpoint]) -> list[Incident]:
    """Every incident the endpoints originated, in order of opening."""
    found = [i for ep in endpoints.values() for i in ep.incidents() if i.role is Role.ORIGINATOR]
    return sorted(found, key=lambda i: (i.opened_at, i.id))


def responder_views(endpoints: Mapping[str, StationEndpoint]) -> list[tuple[str, Incident]]:
    """Every responder view the endpoints hold, with its party."""
    return [
        (party, i)
        for party, ep in endpoints.items()
        for i in ep.incidents()
        if i.role is Role.RESPONDER
    ]


def declarations(endpoints: Mapping[str, StationEndpoint]) -> dict[str, dict[Channel, str]]:
    """What each party last declared of its lines (its own declarations only)."""
    return {
        party: {line: state for (who, line), state in ep.declared.items() if who == party}
        for party, ep in endpoints.items()
    }


def perform(endpoint: StationEndpoint, event: ScriptEvent, now: float) -> str:
    """Do a scripted act at ``endpoint`` (simulated or live); returns a line for the log."""
    try:
        if event.action in NOTICE_ACTIONS:
            starts = None if event.starts_in is None else now + event.starts_in
            ends = None if starts is None or event.lasts is None else starts + event.lasts
            endpoint.notify(
                channel=event.channel,
                precedence=event.precedence,
                notice=Notice(
                    activity=event.activity,
                    starts_at=starts,
                    ends_at=ends,
                    area=event.area,
                    where=event.where,
                    text=event.text,
                ),
                now=now,
                parties=event.to,
                incident_id=event.incident,
                kind=event.kind,
                relay_for=event.relay_for,
            )
        elif event.action == "correct":
            assert event.answer is not None  # the loader requires it
            endpoint.correct(
                event.incident,
                event.answer,
                now,
                reason=event.dispute,
                channel=event.channel,
                text=event.text,
            )
        elif event.action in ("suspend", "resume"):
            state = "suspended" if event.action == "suspend" else "working"
            endpoint.declare(event.channel, state, now, text=event.text)
            return f"declared the {event.channel} line {state}"
        elif event.action == "withdraw":
            endpoint.withdraw(event.incident, now, text=event.text)
        elif event.action == "escalate":
            endpoint.escalate(event.incident, now, reason=event.reason)
        else:
            endpoint.resolve(event.incident, event.actions, now, text=event.text)
    except (HotlineError, ValueError) as exc:  # the incident's state no longer allows it
        return f"scripted {event.action} not done: {exc}"
    return f"scripted {event.action}"


class NoticeJudge:
    """What the agreed map says of each notice the script opens (None: no map, no area,
    or not a notice), judged ahead in batches: the map measures many areas in a few
    vectorised calls far faster than one at a time (`hotline.geo.agreed`)."""

    BATCH: Final = 1000

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.map = None if scenario.geometry is None else agreed_map(scenario.geometry)
        self._places = {
            id(e): place
            for e in scenario.events
            if e.action in NOTICE_ACTIONS and (place := e.located()) is not None
        }
        notices = [e for e in scenario.events if id(e) in self._places]
        self._ahead = sorted(notices, key=_at)
        self._place = {id(event): n for n, event in enumerate(self._ahead)}
        self._judged_to = 0  # the script's notices before this one are judged
        self._ready: dict[int, tuple[float, Judgement]] = {}  # event -> (when, judgement)

    def judge(self, event: ScriptEvent, now: float) -> Judgement | None:
        """The judgement of the notice ``event`` opens, sent at ``now``."""
        if self.map is None or id(event) not in self._places:
            return None
        place = self._place.get(id(event))
        if place is not None and place >= self._judged_to:
            batch = self._ahead[place : place + self.BATCH]
            start = self.scenario.start
            judged = self.map.judge_all([self._request(e, start + e.at) for e in batch])
            for ahead, judgement in zip(batch, judged, strict=True):
                self._ready[id(ahead)] = (start + ahead.at, judgement)
            self._judged_to = place + len(batch)
        ready = self._ready.pop(id(event), None)
        if ready is not None and ready[0] == now:  # sent when the script says
            return ready[1]
        return self.map.judge_all([self._request(event, now)])[0]

    def _request(self, event: ScriptEvent, now: float) -> Request:
        scenario = self.scenario
        return Request(
            self._places[id(event)],
            event.party,
            now - scenario.start + (event.starts_in or 0.0),
            scenario.doctrine.geometry,
            event.channel,
            event.starts_in,
            event.actual,
            event.kind in (Kind.NOTIFY, Kind.RELAY),
        )


def run_exercise(
    scenario: Scenario,
    seed: int | None = None,
    *,
    record: bool = True,
    journals: Path | None = None,
) -> Exercise:
    """Run ``scenario`` (with ``seed`` instead of its own, if given) and return the run;
    with ``journals``, each party's journal is written into that directory."""
    return Exercise(scenario, seed, record=record, journals=journals).run()
