"""The whole system of a scenario as one state an explorer can branch on.

A `World` holds every party's `StationEndpoint` (protocol-only: envelopes in memory,
as ``signing = "none"`` runs, so a step costs the protocol and not the cryptography),
the message copies in flight, the answers responders owe, the script's position and
the faults spent. `World.successors` lists every way the next step can go:

* ``deliver``: any copy in flight that can have arrived (its line's shortest latency
  has passed) arrives now, in any order (``max_reorder`` bounds how many arrivals
  overtake an earlier copy between the same two stations);
* ``lose`` and ``duplicate``: such a copy is lost, or arrives twice, within
  ``max_loss`` and ``max_duplicates`` for the whole run;
* ``time``: the clock moves to the next instant anything can happen at (a scripted
  act, a responder's answer, an endpoint's timer, a copy's earliest arrival), and one
  thing due then happens, each in a branch of its own (things due at one instant happen
  in every order); an answer the scenario lets a responder give in several ways
  (``answers``) branches into each.

Time is abstracted to the order of deadlines: a copy arrives at any moment from its
line's shortest latency to its longest (the clock cannot pass the longest while it is
in flight), so exploration depends on which deadline comes first, never on a latency
drawn. A responder answers after its rule's mean delay; desks, misrouting, outages and
a pick-up probability below one are not modelled (a probability below one adds
``silent`` to the answers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, NamedTuple

import msgpack

from hotline.core.endpoint import StationEndpoint
from hotline.core.errors import HotlineError, IllegalTransition, UnknownIncident
from hotline.core.events import Event, Received, Rejected
from hotline.core.incident import Incident, Role, State
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import NOTICE_KINDS, Channel
from hotline.core.signing import StationKey
from hotline.core.verifier import VerifierPolicy
from hotline.core.wire import Envelope, decode_envelope, encode_envelope
from hotline.geo.agreed import agreed_map
from hotline.sim.exercise import Tally, perform, station_seed
from hotline.sim.invariants import Watch
from hotline.sim.model import ResponderRule, Scenario, ScriptEvent
from hotline.sim.responders import give, on_the_map
from hotline.sim.timeline import MessageRecord

#: the answers a responder may give that make it answer at all
_ANSWERING: Final = ("ack", "standby", "standby-then-ack", "dispute", "disavow", "resolve")


@dataclass(frozen=True, slots=True)
class Bounds:
    """How many faults the explorer may inject into one run, and how deep it goes."""

    max_loss: int = 0
    max_duplicates: int = 0
    max_reorder: int | None = None  # None: every order
    depth: int | None = None  # None: until nothing is left to happen


class Copy(NamedTuple):
    """A message copy in flight."""

    to: str  # the recipient station
    envelope: Envelope
    digest: bytes
    sent: float  # true time it left
    duplicate: bool = False  # a second copy the explorer made


class Due(NamedTuple):
    """An answer a responder owes, and when."""

    at: float
    party: str
    incident: str
    channel: Channel
    answers: tuple[str, ...]
    rule: int  # its place in the scenario's responders (a world's bytes hold plain values)


class MessageIds:
    """Message ids from a count per party: the same messages, signed in the same order
    on two paths, have the same ids (so the two states are one). An id is its party's
    8-byte prefix and the count, so swapping two parties' names swaps their ids too."""

    def __init__(self, party: str, count: int = 0) -> None:
        self.party = party
        self.count = count
        self.prefix = id_prefix(party)

    def __call__(self) -> bytes:
        self.count += 1
        return self.prefix + self.count.to_bytes(8, "big")


def id_prefix(party: str) -> bytes:
    """The first 8 bytes of every message id ``party`` signs in an exploration."""
    return hashlib.blake2b(party.encode(), digest_size=8).digest()


@dataclass(frozen=True, slots=True)
class Trail:
    """One step of a path, and the path before it (shared between the worlds after it)."""

    step: str
    before: Trail | None

    def steps(self) -> list[str]:
        """Every step from the start, in order."""
        found: list[str] = []
        trail: Trail | None = self
        while trail is not None:
            found.append(trail.step)
            trail = trail.before
        return found[::-1]


@dataclass(slots=True)
class World:
    """The state of every post, and of the network between them."""

    scenario: Scenario
    bounds: Bounds
    acts: tuple[ScriptEvent, ...]  # the script, in the order it runs
    kit: Kit  # what every post is made of
    now: float
    endpoints: dict[str, StationEndpoint]
    ids: dict[str, MessageIds]  # each post's message id source
    flight: list[Copy] = field(default_factory=list)
    due: list[Due] = field(default_factory=list)
    script: int = 0  # scripted acts done
    losses: int = 0
    duplicates: int = 0
    reorders: int = 0
    watch: Watch = field(default_factory=Watch)
    tally: Tally = field(default_factory=Tally)  # copies sent, delivered, lost, refused
    #: the last step on the way here, linked to the ones before (a counterexample)
    trail: Trail | None = None
    depth: int = 0  # steps taken
    #: the run is over: its duration is reached (what is open stays open)
    ended: bool = False
    _fresh: Callable[[], World] | None = None  # how `successors` copies this world
    #: a replay's timeline: each copy's record, by (message id, recipient, duplicate);
    #: None while exploring (not part of a world's bytes)
    timeline: dict[tuple[bytes, str, bool], MessageRecord] | None = None

    # -- the next steps ---------------------------------------------------------------

    def successors(self, fresh: Callable[[], World] | None = None) -> Iterator[tuple[str, World]]:
        """Every next step from here: (what happened, the world after it). Each step is
        taken in a copy of this world: ``fresh()`` when given, else `copy`."""
        self._fresh = fresh or self.copy
        for index, copy in enumerate(self.flight):
            if self.now < copy.sent + self._latency(copy)[0]:
                continue  # not there yet: no line is faster than its shortest latency
            overtakes = self._overtakes(index)
            if self.bounds.max_reorder is None or self.reorders + overtakes <= (
                self.bounds.max_reorder
            ):
                yield self._branch(partial(World._deliver, index=index, overtakes=overtakes))
            if self.losses < self.bounds.max_loss:
                yield self._branch(partial(World._lose, index=index))
            if self.duplicates < self.bounds.max_duplicates and not copy.duplicate:
                yield self._branch(partial(World._duplicate, index=index))
        yield from self._time_steps()

    def _branch(self, step: Callable[[World], str]) -> tuple[str, World]:
        twin = (self._fresh or self.copy)()
        label = step(twin)
        twin.trail, twin.depth = Trail(label, self.trail), self.depth + 1
        return label, twin

    def _overtakes(self, index: int) -> int:
        """1 when delivering ``flight[index]`` overtakes an earlier copy between the
        same two stations, else 0."""
        copy = self.flight[index]
        sender = copy.envelope.sender
        return int(
            any(c.to == copy.to and c.envelope.sender == sender for c in self.flight[:index])
        )

    def _time_steps(self) -> Iterator[tuple[str, World]]:
        """The clock moves to the next instant anything can happen at, and one thing due
        then happens, each in its own branch (things due at one instant happen in every
        order): a scripted act, an answer (each it may give), a post's timers. When the
        next instant is only a copy's earliest arrival, the clock moves to it and no more.
        No copy in flight is left past its line's longest latency."""
        at, due = self.next_due()
        if at is None:
            self.ended = due == ["end"]
            return
        if any(c.sent + self._latency(c)[1] < at for c in self.flight):
            return  # a copy must arrive (or be lost) before then
        if not due:
            yield self._branch(partial(World._wait, at=at))
        for what in due:
            if isinstance(what, Due):
                for answer in what.answers:
                    yield self._branch(partial(World._answer, at=at, due=what, answer=answer))
            elif what == "script":
                yield self._branch(partial(World._act, at=at))
            else:
                yield self._branch(partial(World._timer, at=at, party=what))

    def next_due(self) -> tuple[float | None, list[Due | str]]:
        """The next instant anything can happen at, and what is due then: ``"script"``,
        answers owed, and the parties whose timers fall due (none: a copy's earliest
        arrival comes first). None and ``["end"]``: the exercise is over."""
        scenario, candidates = self.scenario, []
        if self.script < len(self.acts):
            candidates.append(scenario.start + self.acts[self.script].at)
        candidates += [d.at for d in self.due]
        deadlines = {
            p: d for p, e in self.endpoints.items() if (d := e.next_deadline()) is not None
        }
        candidates += deadlines.values()
        if not candidates and not self.flight:
            return None, []
        arrivals = [c.sent + self._latency(c)[0] for c in self.flight]
        soonest = [t for t in arrivals if t > self.now]
        at = min([*candidates, *soonest]) if candidates or soonest else None
        if at is None:
            return None, []  # only copies that may arrive now: deliver or lose them
        if at > scenario.start + scenario.duration:
            return None, ["end"]  # the exercise is over
        at = max(at, self.now)
        due: list[Due | str] = []
        if self.script < len(self.acts) and scenario.start + self.acts[self.script].at <= at:
            due.append("script")
        owed: list[Due] = sorted(
            (d for d in self.due if d.at <= at), key=lambda d: (d.party, d.incident)
        )
        due += owed
        due += sorted(p for p, d in deadlines.items() if d <= at)
        return at, due

    def _latency(self, copy: Copy) -> tuple[float, float]:
        """The shortest and the longest time a copy takes on its line."""
        latency = self.scenario.network[copy.envelope.channel].latency
        return latency.lower, latency.upper

    # -- steps ------------------------------------------------------------------------

    def _deliver(self, index: int, overtakes: int) -> str:
        copy = self.flight.pop(index)
        self.reorders += overtakes
        party = self._party_of(copy.to)
        endpoint = self.endpoints[party]
        events = endpoint.receive_envelope(copy.envelope, copy.digest, self.now)
        self.tally.landed(copy.envelope.incident)
        self.tally.delivered += 1
        what = "arrives" + (" again" if copy.duplicate else "")
        record = self._record(copy)
        if record is not None:
            record.arrived_at, record.fate = self.now - self.scenario.start, "delivered"
        for event in events:
            if isinstance(event, Rejected):
                self.tally.refused(copy.envelope.incident, event.reason.value)
                what = f"refused ({event.reason.value})"
                if record is not None:
                    record.fate = f"rejected: {event.reason}"
            elif isinstance(event, Received):
                self.watch.observe(party, event, None, self._owners())
        self._heard(party, events)
        self._pump(party)
        return f"{self._at()} {self._describe(copy)} {what}"

    def _lose(self, index: int) -> str:
        copy = self.flight.pop(index)
        self.losses += 1
        self.tally.landed(copy.envelope.incident)
        self.tally.dropped += 1
        self.tally.drops["lost"] += 1
        record = self._record(copy)
        if record is not None:
            record.fate = "dropped: lost"
        return f"{self._at()} {self._describe(copy)} is lost"

    def _duplicate(self, index: int) -> str:
        copy = self.flight[index]
        self.flight.insert(index + 1, copy._replace(duplicate=True))
        self.duplicates += 1
        self.tally.injected += 1
        self.tally.injections["duplicate"] += 1
        self.tally.fly(copy.envelope.incident)
        if self.timeline is not None:
            self._track(copy._replace(duplicate=True), " (duplicate)")
        return f"{self._at()} {self._describe(copy)} is duplicated"

    def _act(self, at: float) -> str:
        self.now = at
        event = self.acts[self.script]
        self.script += 1
        what = perform(self.endpoints[event.party], event, at)
        self._pump(event.party)
        return f"{self._at()} {event.party}: {what} ({event.incident})"

    def _wait(self, at: float) -> str:
        self.now = at
        return f"{self._at()} time passes"

    def _timer(self, at: float, party: str) -> str:
        self.now = at
        endpoint = self.endpoints[party]
        before = {(i.id, i.role): i.state for i in endpoint.incidents()}
        self._heard(party, endpoint.on_timer(at))
        sent = self._pump(party)
        changed = [
            f"{i.id} {before.get((i.id, i.role), State.NEW)} -> {i.state}"
            for i in endpoint.incidents()
            if before.get((i.id, i.role)) != i.state
        ]
        done = ", ".join(changed + [f"sends {m}" for m in sent]) or "nothing to do"
        return f"{self._at()} {party}'s timer: {done}"

    def _answer(self, at: float, due: Due, answer: str) -> str:
        self.now = at
        self.due.remove(due)
        endpoint = self.endpoints[due.party]
        rule, channel = self.scenario.responders[due.rule], due.channel
        try:
            if answer in _ANSWERING:  # the map may make it a dispute, as in simulation
                rule = self._on_the_map(due, rule)
                answer = rule.action if rule.action == "dispute" else answer
            give(endpoint, due.incident, channel, answer, rule=rule, now=at)
        except (IllegalTransition, UnknownIncident, HotlineError, ValueError) as exc:
            return f"{self._at()} {due.party} {answer} on {due.incident}: moot ({exc})"
        if answer == "standby-then-ack":  # the same desk acknowledges later
            self.due.append(Due(at + rule.final_delay.mean, *_who(due), ("ack",), due.rule))
        self._pump(due.party)
        return f"{self._at()} {due.party} answers {due.incident} on {channel}: {answer}"

    # -- around the steps -------------------------------------------------------------

    def _on_the_map(self, due: Due, rule: ResponderRule) -> ResponderRule:
        """The rule, or the dispute the agreed map gives instead (`on_the_map`)."""
        geometry = self.scenario.geometry
        if geometry is None or not rule.judges_geometry:
            return rule
        view = self.endpoints[due.party].answering(due.incident, due.channel)
        actual = self.scenario.actual_places().get(due.incident)
        at = self.now - self.scenario.start
        return on_the_map(agreed_map(geometry), rule, view, party=due.party, at=at, actual=actual)

    def _heard(self, party: str, events: list[Event]) -> None:
        """A notice that rang at ``party``: what its responder rule says it owes."""
        for event in events:
            if not (isinstance(event, Received) and event.envelope.kind in NOTICE_KINDS):
                continue
            envelope = event.envelope
            view = self.endpoints[party].answering(envelope.incident, envelope.channel)
            if view.state not in (State.NOTIFIED, State.STANDBY):
                continue
            if view.station in view.leg.answers or any(
                (d.party, d.incident, d.channel) == (party, view.id, view.channel) for d in self.due
            ):
                continue
            number = _rule(self.scenario, view.station, self.now - self.scenario.start, view)
            if number is None:
                continue
            rule = self.scenario.responders[number]
            answers = rule.answers or (rule.action,)
            if rule.probability < 1.0 and "silent" not in answers:
                answers = (*answers, "silent")
            if not any(a in _ANSWERING for a in answers):
                continue
            at = self.now + rule.delay.mean
            self.due.append(Due(at, party, view.id, view.channel, answers, number))

    def _pump(self, party: str) -> list[str]:
        """Put what ``party`` signed in flight; returns what it was, for the trail."""
        sent = []
        for message in self.endpoints[party].outbox():
            envelope = message.envelope
            self.watch.sent.add(envelope.id)
            for recipient in message.recipients:
                copy = Copy(recipient, envelope, message.digest, self.now)
                self.flight.append(copy)
                self.tally.sent += 1
                self.tally.fly(envelope.incident)
                if self.timeline is not None:
                    self._track(copy)
            sent.append(f"{envelope.kind} {envelope.incident} to {','.join(message.recipients)}")
        return sent

    def _track(self, copy: Copy, suffix: str = "") -> None:
        """Start a replay's timeline record of ``copy``."""
        assert self.timeline is not None
        envelope = copy.envelope
        self.timeline[(envelope.id, copy.to, copy.duplicate)] = MessageRecord(
            copy.sent - self.scenario.start,
            envelope.channel.value,
            envelope.kind.value + suffix,
            envelope.incident,
            envelope.sender,
            copy.to,
        )

    def _record(self, copy: Copy) -> MessageRecord | None:
        if self.timeline is None:
            return None
        return self.timeline.get((copy.envelope.id, copy.to, copy.duplicate))

    def _party_of(self, station: str) -> str:
        return self._owners()[station]

    def _owners(self) -> dict[str, str]:
        return {s: p for s, (p, _) in self.scenario.stations().items()}

    def _at(self) -> str:
        return f"+{self.now - self.scenario.start:g}s"

    def _describe(self, copy: Copy) -> str:
        envelope = copy.envelope
        return (
            f"{envelope.kind} {envelope.incident} {envelope.sender}->{copy.to} "
            f"(sent +{copy.sent - self.scenario.start:g}s)"
        )

    # -- identity ---------------------------------------------------------------------

    def copy(self) -> World:
        """An independent copy, to take one step in (through the records a restarted
        post reads back: the same in the pure and the compiled build). A replay's
        timeline goes with it."""
        twin = thaw(self.kit, freeze(self)[1])
        if self.timeline is not None:
            twin.timeline = {k: dataclasses.replace(r) for k, r in self.timeline.items()}
        return twin

    def key(self) -> bytes:
        """A digest of everything that decides what can happen next (not of how the
        world got here): two worlds with one key have the same futures."""
        return freeze(self)[0]

    @property
    def quiet(self) -> bool:
        """Nothing in flight and nothing owed: only timers (or nothing) remain."""
        return not self.flight and not self.due

    def incidents(self) -> list[Incident]:
        """Every view of every incident (originators' first)."""
        views = [i for e in self.endpoints.values() for i in e.incidents()]
        return sorted(views, key=lambda i: (i.role is not Role.ORIGINATOR, i.opened_at, i.id))


@dataclass(frozen=True, slots=True)
class Kit:
    """What every world of one exploration shares: the scenario, the bounds, the script
    and the keys, keyring and policy the posts are made with (never changed by a step,
    never in a world's bytes)."""

    scenario: Scenario
    bounds: Bounds
    acts: tuple[ScriptEvent, ...]  # the script, in the order it runs
    keys: dict[str, list[StationKey]]  # party -> its stations' keys
    keyring: Keyring
    policy: VerifierPolicy
    symmetry: Symmetry

    def endpoint(self, ids: MessageIds) -> StationEndpoint:
        """A post of ``ids``'s party, holding nothing yet (protocol-only)."""
        return StationEndpoint(
            party=ids.party,
            keys=self.keys[ids.party],
            keyring=self.keyring,
            doctrine=self.scenario.doctrine,
            message_ids=ids,
            policy=self.policy,
            encode=False,
        )


def freeze(world: World) -> tuple[bytes, bytes]:
    """A world's key (the digest of what decides its future) and its bytes: plain
    values only (incident records, envelopes encoded), which any process that made the
    same first world can `thaw`."""
    flight = [
        (c.to, encode_envelope(c.envelope), c.digest, c.sent, c.duplicate) for c in world.flight
    ]
    state = (
        world.now,
        world.script,
        world.losses,
        world.duplicates,
        world.reorders,
        [(c.to, *_fields(c.envelope), c.digest, c.sent, c.duplicate) for c in world.flight],
        sorted((d.at, d.party, d.incident, d.channel.value, d.answers) for d in world.due),
        [(party, endpoint.state()) for party, endpoint in sorted(world.endpoints.items())],
    )
    unordered = world.bounds.max_reorder is None  # every order is explored: none says more
    key = min(
        _digest(rename_state(state, renaming, unordered))
        for renaming in world.kit.symmetry.renamings
    )
    tally = world.tally
    extras = (
        flight,
        world.due,
        {party: ids.count for party, ids in world.ids.items()},
        (tally.sent, tally.injected, tally.delivered, tally.dropped, tally.in_flight,
         tally.rejected, tally.drops, tally.injections, tally.flying, tally.rejected_by),
        world.watch,
        world.trail,
        world.depth,
        world.ended,
    )  # fmt: skip
    return key, pickle.dumps((state, extras), protocol=5)


def thaw(
    kit: Kit, data: bytes, scenario: Scenario | None = None, bounds: Bounds | None = None
) -> World:
    """The world whose bytes `freeze` made."""
    state, extras = pickle.loads(data)
    now, script, losses, duplicates, reorders, _, _, posts = state
    flight, due, counts, tally, watch, trail, depth, ended = extras
    ids = {party: MessageIds(party, count) for party, count in counts.items()}
    endpoints = {}
    for party, posted in posts:
        endpoint = endpoints[party] = kit.endpoint(ids[party])
        endpoint.resume(posted)
    sent, injected, delivered, dropped, in_flight, rejected, drops, injections, flying, by = tally
    return World(
        scenario=kit.scenario,
        bounds=kit.bounds,
        acts=kit.acts,
        kit=kit,
        now=now,
        endpoints=endpoints,
        ids=ids,
        flight=[Copy(t, decode_envelope(e), d, at, dup) for t, e, d, at, dup in flight],
        due=list(due),
        script=script,
        losses=losses,
        duplicates=duplicates,
        reorders=reorders,
        watch=watch,
        tally=Tally(
            sent, injected, delivered, dropped, in_flight, rejected, drops, injections, flying, by
        ),
        trail=trail,
        depth=depth,
        ended=ended,
    )


def initial_world(scenario: Scenario, bounds: Bounds) -> World:
    """The world at the scenario's start: every post up, nothing sent."""
    stations = scenario.stations()
    keys = {s: StationKey(station_seed(scenario.seed, s), s) for s in stations}
    keyring = Keyring(
        TrustedKey(public_key=keys[s].public_key, party=p, station=s, channels=c)
        for s, (p, c) in stations.items()
    )
    acts = tuple(sorted(scenario.events, key=lambda e: e.at))  # as the simulator runs them
    kit = Kit(
        scenario=scenario,
        bounds=bounds,
        acts=acts,
        keys={p: [keys[s] for s in sorted(set(t.values()))] for p, t in scenario.parties.items()},
        keyring=keyring,
        policy=VerifierPolicy(max_age=scenario.max_age, max_skew=scenario.max_skew),
        symmetry=Symmetry(scenario, keyring),
    )
    ids = {party: MessageIds(party) for party in scenario.parties}
    endpoints = {party: kit.endpoint(ids[party]) for party in scenario.parties}
    return World(
        scenario=scenario,
        bounds=bounds,
        acts=acts,
        kit=kit,
        now=scenario.start,
        endpoints=endpoints,
        ids=ids,
    )


class Symmetry:
    """The renamings under which a scenario's worlds are one (``[explore] symmetric``):
    each swaps the names of interchangeable parties, their stations, their keys' ids and
    their message ids. The identity comes first; without symmetric parties it is alone."""

    def __init__(self, scenario: Scenario, keyring: Keyring) -> None:
        groups = scenario.symmetric
        stations = frozenset(scenario.stations()) if groups else frozenset()
        self.renamings: list[Renaming] = [Renaming({}, stations)]
        for combination in itertools.product(*(itertools.permutations(g) for g in groups)):
            parties: dict[str, str] = {}
            for group, order in zip(groups, combination, strict=True):
                parties.update((a, b) for a, b in zip(group, order, strict=True) if a != b)
            if not parties:
                continue  # the identity
            names: dict[object, object] = {}
            names.update(parties)
            key_ids = {key.station: key.key_id for key in keyring}
            for a, b in parties.items():
                for line, station in scenario.parties[a].items():
                    other = scenario.parties[b][line]
                    names[station] = other
                    names[key_ids[station]] = key_ids[other]
                names[id_prefix(a)] = id_prefix(b)
            self.renamings.append(Renaming(names, stations))


class Renaming:
    """One renaming of names, key ids and message ids (and their stand-in digests).

    Under symmetry (``stations`` given) it also puts what a renaming would reorder into
    one order: maps by key, and lists of stations (addressees: a set on the wire)."""

    def __init__(self, names: dict[object, object], stations: frozenset[str]) -> None:
        self.names = names
        self.stations = stations

    def __call__(self, value: Any) -> Any:
        if not self.stations:
            return value  # no symmetry: the one renaming is the identity
        names = self.names
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, bytes):
            if value in names:
                return names[value]
            if len(value) == 16 and value[:8] in names:  # a message id
                return names[value[:8]] + value[8:]  # type: ignore[operator]
            if len(value) == 32 and value[:16] == value[16:]:  # a protocol-only digest
                half = self(value[:16])
                return half + half
            return value
        if isinstance(value, tuple | list):
            items = [self(item) for item in value]
            if items and all(isinstance(i, str) and i in self.stations for i in items):
                items.sort()
            return items
        if isinstance(value, dict):
            return dict(sorted((self(k), self(v)) for k, v in value.items()))
        return value


def rename_state(state: tuple[Any, ...], rename: Renaming, unordered: bool) -> tuple[Any, ...]:
    """A world's state under ``rename``, its sorted parts sorted again."""
    now, script, losses, duplicates, reorders, flight, due, posts = state
    flight = [rename(copy) for copy in flight]
    if unordered:
        flight.sort(key=lambda copy: (copy[0], copy[1]))  # recipient, then message id
    return (
        now,
        script,
        losses,
        duplicates,
        reorders,
        flight,
        sorted(rename(d) for d in due),
        sorted(
            ((rename(party), _rename_post(post, rename)) for party, post in posts),
            key=lambda item: item[0],
        ),
    )


def _rename_post(post: tuple[Any, ...], rename: Renaming) -> list[Any]:
    records, (windows, ids), seq, declared = post
    return [
        rename(records),
        [sorted(rename(w) for w in windows), sorted(rename(i) for i in ids)],
        sorted(rename(item) for item in seq),
        sorted(rename(item) for item in declared),
    ]


def _fields(envelope: Envelope) -> tuple[Any, ...]:
    """An envelope's fields as plain values (the key's view of a copy in flight)."""
    return (
        envelope.id,
        envelope.channel.value,
        envelope.kind.value,
        envelope.sender,
        list(envelope.recipients),
        envelope.incident,
        envelope.ref,
        envelope.seq,
        envelope.sent_at_ms,
        envelope.precedence.value,
        envelope.body,
    )


def _digest(state: tuple[Any, ...]) -> bytes:
    # msgpack, not pickle: pickle writes an object met twice as a reference, so two
    # equal states of different histories would pickle differently
    return hashlib.blake2b(msgpack.packb(state, use_bin_type=True), digest_size=16).digest()


def _rule(scenario: Scenario, station: str, at: float, view: Incident) -> int | None:
    """The place of the first responder rule that governs a call at ``station``."""
    for number, rule in enumerate(scenario.responders):
        if rule.station == station and rule.matches(at, view.notice.activity):
            return number
    return None


def _who(due: Due) -> tuple[str, str, Channel]:
    return due.party, due.incident, due.channel
