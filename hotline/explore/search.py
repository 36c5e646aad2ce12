"""The search: every reachable world, each expanded once, every property checked.

Breadth first by default, so the first violation found of each property is one of its
shortest (the fewest steps from the start); depth first keeps the frontier small. A
world is known by its key (`World.key`); one reached again is not expanded again.

Properties, after TLC's and Stateright's kinds:

* **always**, in every world: the run invariants that concern the protocol (no message
  accepted twice, no acknowledgement without its notice, every accepted message was
  sent), and views agree at quiescence (`hotline.sim.invariants.disagreements`);
* **eventually**, in every final world (nothing left to happen, the run's duration not
  reached): every incident has ended; and in every final world, each incident within
  its doctrine bound;
* **expectations**: the scenario's ``[[expect]]`` tables, judged in every final world as
  a run judges them;
* **sometimes**: each outcome asked for (``INCIDENT=OUTCOME``) is reached in some final
  world; one never reached is reported, as a property that is never exercised.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

from hotline.core.incident import Role
from hotline.explore.world import Bounds, World, freeze, initial_world, thaw
from hotline.sim.cluster import Cluster, ClusterError, connect
from hotline.sim.invariants import bound_breaches, disagreements
from hotline.sim.model import Scenario
from hotline.sim.processes import fresh_signals, worker_context
from hotline.sim.result import check_expectation, incident_record
from hotline.sim.scenario import scenario_from_data


@dataclass(slots=True)
class Violation:
    """A property that does not hold, and the path to a world where it fails."""

    property: str
    detail: str
    steps: list[str]


@dataclass(slots=True)
class Exploration:
    """What an exploration found."""

    states: int = 0  # distinct worlds
    transitions: int = 0  # steps taken, to worlds new or known
    depth: int = 0  # the longest path expanded
    final: int = 0  # worlds where nothing is left to happen
    seconds: float = 0.0
    complete: bool = True  # False: stopped at max_states
    violations: list[Violation] = field(default_factory=list)
    #: incident -> outcomes it ends with, over every final world
    outcomes: dict[str, set[str]] = field(default_factory=dict)
    never: list[str] = field(default_factory=list)  # sometimes-properties never met
    levels: list[int] = field(default_factory=lambda: [1])  # new worlds at each depth
    cut: int = 0  # worlds at the depth bound with steps left (the verdicts stop there)

    def growth(self) -> str:
        """How the search grew, level by level, for one that stopped at max_states: the
        last levels' new worlds and the factor between them."""
        last = [n for n in self.levels if n][-4:]
        factors = [b / a for a, b in itertools.pairwise(last) if a]
        rate = f", about x{sum(factors) / len(factors):.1f} a level" if factors else ""
        return f"new states at the last depths: {', '.join(f'{n:,}' for n in last)}{rate}"

    @property
    def rate(self) -> float:
        """Worlds per second."""
        return self.states / self.seconds if self.seconds > 0 else 0.0

    def document(self) -> dict[str, Any]:
        """The exploration as JSON-ready data."""
        return {
            "states": self.states,
            "transitions": self.transitions,
            "depth": self.depth,
            "final_states": self.final,
            "seconds": round(self.seconds, 3),
            "states_per_second": round(self.rate, 1),
            "complete": self.complete,
            "outcomes": {i: sorted(o) for i, o in sorted(self.outcomes.items())},
            "violations": [
                {"property": v.property, "detail": v.detail, "steps": v.steps}
                for v in self.violations
            ],
            "never_reached": self.never,
            "states_per_depth": self.levels,
            "cut_at_depth_bound": self.cut,
        }


#: called now and then with the worlds found and the frontier's size
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Finding:
    """A property failing in one world, with the path there."""

    property: str
    detail: str
    steps: tuple[str, ...]


@dataclass(slots=True)
class Expanded:
    """What expanding one world gave: its successors (key, bytes, what fails in each),
    or, for a final world, its outcomes and what fails in it."""

    depth: int
    successors: list[tuple[bytes, bytes, list[Finding]]]
    outcomes: dict[str, str] | None = None  # a final world: incident -> outcome
    final: list[Finding] = field(default_factory=list)
    cut: bool = False  # at the depth bound with steps left: not expanded


class Expander:
    """Expands frozen worlds of one scenario (in the explorer's process, or a worker's)."""

    def __init__(self, scenario: Scenario, bounds: Bounds) -> None:
        self.start = initial_world(scenario, bounds)

    def expand(self, frozen: bytes) -> Expanded:
        """Every successor of the world ``frozen`` holds, or what its end shows."""
        kit = self.start.kit
        world = thaw(kit, frozen)
        steps = world.successors(lambda: thaw(kit, frozen))
        found = Expanded(world.depth, [])
        bound = world.bounds.depth
        if bound is not None and world.depth >= bound:  # at the depth bound: judged only
            if next(steps, None) is None:  # if nothing is left to happen
                found.outcomes, found.final = _final(world)
            else:
                found.cut = True
            return found
        successors = list(steps)
        if not successors:
            found.outcomes, found.final = _final(world)
            return found
        for _, after in successors:
            findings = _always(after)
            key, data = freeze(after)
            found.successors.append((key, data, findings))
        return found


_worker: Expander | None = None  # a worker process's own


def _start_worker(document: Mapping[str, Any], source: str, bounds: Bounds) -> None:
    global _worker  # noqa: PLW0603 - one per worker process, made once
    fresh_signals()
    _worker = Expander(scenario_from_data(document, source), bounds)


def _expand_chunk(chunk: list[bytes]) -> list[Expanded]:
    assert _worker is not None  # the pool's initializer made it
    return [_worker.expand(frozen) for frozen in chunk]


#: what makes a worker's Expander: the scenario's document and source, and the bounds
Setup = tuple[Mapping[str, Any], str, Bounds]

#: a cluster worker's expanders, by (exploration, thread): each made at its first chunk
_expanders: dict[tuple[str, int], Expander] = {}
_expanders_lock = threading.Lock()
_EXPANDERS_KEPT = 8  # the newest; older explorations are done (or one rebuilds, once)


def _expand_task(chunk: list[bytes], token: str, setup: Setup) -> list[Expanded]:
    """A chunk expanded as a task on a cluster's worker, by the Expander of exploration
    ``token``: made from ``setup`` at that exploration's first chunk in this thread, then
    kept (a thread's own, as each pool process has its own)."""
    key = (token, threading.get_ident())
    with _expanders_lock:
        expander = _expanders.get(key)
    if expander is None:
        document, source, bounds = setup
        expander = Expander(scenario_from_data(document, source), bounds)
        with _expanders_lock:
            _expanders[key] = expander
            while len(_expanders) > _EXPANDERS_KEPT:
                del _expanders[next(iter(_expanders))]
    return [expander.expand(frozen) for frozen in chunk]


def explore(
    scenario: Scenario,
    bounds: Bounds,
    *,
    max_states: int = 1_000_000,
    depth_first: bool = False,
    sometimes: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
) -> Exploration:
    """Explore every world of ``scenario`` reachable within ``bounds``.

    Breadth first, level by level: each level's worlds are expanded (over ``workers``
    processes, or the workers of a Dask distributed cluster, in chunks) and their
    successors taken in the order of the level, so the states, transitions and
    counterexamples found do not depend on ``workers`` or the cluster.

    Args:
        scenario: the exercise (its stations, doctrine, script, responders).
        bounds: faults allowed, and the depth.
        max_states: stop after this many distinct worlds (``complete`` is then False).
        depth_first: explore depth first instead (in this process only).
        sometimes: (incident, outcome) pairs some final world must show.
        progress: told the worlds found and the frontier's size, every 1,000 worlds.
        workers: processes expanding each level.
        scheduler: the address (``tcp://HOST:PORT``) of a Dask distributed scheduler
            whose workers expand each level instead (`hotline.sim.cluster.connect`);
            the time to connect is not counted in ``seconds``.
        connect_timeout: seconds for that scheduler to answer and a worker to join.

    Raises:
        ValueError: depth first over several workers or a cluster, or a cluster and
            several workers.
        ClusterError: no cluster to run on (`hotline.sim.cluster.connect`), or the
            scheduler was lost during the exploration.
    """
    if depth_first and (workers > 1 or scheduler is not None):
        raise ValueError("depth first explores in one process: give one worker")
    if scheduler is not None and workers > 1:
        raise ValueError("a cluster's workers expand each level: give one worker")
    with contextlib.ExitStack() as stack:
        cluster = None
        if scheduler is not None:
            cluster = stack.enter_context(connect(scheduler, connect_timeout))
        started = time.perf_counter()
        expander = Expander(scenario, bounds)
        key, data = freeze(expander.start)
        search = _Search(key, max_states, progress)
        frontier = [data]
        if depth_first:
            while frontier and search.take(expander.expand(frontier[-1]), _popped(frontier)):
                pass
        elif cluster is not None:
            _explore_on(cluster, search, frontier, (scenario.document, scenario.source, bounds))
        elif workers <= 1:
            while frontier:
                level: list[bytes] = []
                if not all(search.take(expander.expand(frozen), level) for frozen in frontier):
                    break
                frontier = level
        else:
            context = worker_context()  # forked only with no other thread running
            # the document, not the scenario: a worker reads it as this process did
            arguments = (scenario.document, scenario.source, bounds)
            with context.Pool(workers, _start_worker, arguments) as pool:
                while frontier:
                    level = []
                    chunks = _chunks(frontier, workers)
                    expansions = (e for chunk in pool.imap(_expand_chunk, chunks) for e in chunk)
                    if not all(search.take(expanded, level) for expanded in expansions):
                        break
                    frontier = level
        found = search.found
        for incident, outcome in sometimes:
            if outcome not in found.outcomes.get(incident, set()):
                found.never.append(f"{incident} {outcome}")
        found.seconds = time.perf_counter() - started
    return found


def _explore_on(cluster: Cluster, search: _Search, frontier: list[bytes], setup: Setup) -> None:
    """Breadth first from ``frontier``, each level's chunks run as tasks on ``cluster``
    (`_expanded_on`) and taken in the order of the level.

    Raises:
        ClusterError: the scheduler was lost.
    """
    token = uuid.uuid4().hex  # by which each worker keeps the Expander it makes
    # the client's notices of its connection closing, of fetches it retries and of its
    # giving up reconnecting: a lost scheduler is told here, in one line
    with _quiet("distributed.batched"), _quiet("distributed.client"):
        while frontier:
            level: list[bytes] = []
            chunks = _chunks(frontier, cluster.threads)
            with contextlib.closing(_expanded_on(cluster, chunks, token, setup)) as expansions:
                if not all(search.take(expanded, level) for expanded in expansions):
                    break  # max_states: closing cancels the rest of the level
            frontier = level


def _expanded_on(
    cluster: Cluster, chunks: list[list[bytes]], token: str, setup: Setup
) -> Generator[Expanded, None, None]:
    """What expanding each world of ``chunks`` gave, in their order, each chunk a task on
    ``cluster``, whichever finishes first.

    The chunks are scattered to the workers (a level may be megabytes: as data, not in
    the task graph); each task carries ``setup`` (the document, about 1.6 KB pickled for
    the tutorial: no more than a few worlds) and ``token``, by which a worker makes its
    Expander at its first chunk of the exploration and keeps it (`_expand_task`).

    Raises:
        ClusterError: the scheduler was lost (the tasks were cancelled, or a result could
            not be fetched).
    """
    from distributed import as_completed  # noqa: PLC0415 - optional; installed: connected

    def lost(exc: BaseException) -> ClusterError:
        reason = getattr(exc, "reason", None)
        if reason in (None, "unknown"):  # a fetch cut, or the client closed: not reconnected
            gone = isinstance(exc, OSError) or client.status != "running"
            reason = "scheduler-connection-lost" if gone else "unknown"
        return ClusterError(
            f"--scheduler {cluster.address}: the exploration's tasks were cancelled "
            f"({reason}); nothing was written"
        )

    client = cluster.client
    shared: list[Any] = []
    futures: list[Any] = []
    finished: dict[int, list[Expanded]] = {}  # by chunk, until the ones before it are in
    taken = 0
    try:
        try:
            shared = client.scatter(chunks, hash=False)  # type: ignore[no-untyped-call]
            futures = client.map(_expand_task, shared, token=token, setup=setup, pure=False)
        except (CancelledError, OSError) as exc:  # OSError: distributed's CommClosedError
            raise lost(exc) from None
        position = {future.key: n for n, future in enumerate(futures)}
        # each result fetched here, not by as_completed(with_results=True): a fetch cut by
        # the scheduler's loss then raises, rather than being logged and never given
        for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
            if future.status == "error":  # a task that raised: raised here, as in-process
                future.result()
            try:
                finished[position[future.key]] = future.result()
            except (CancelledError, OSError) as exc:
                raise lost(exc) from None
            while taken in finished:
                yield from finished.pop(taken)
                taken += 1
    finally:  # done, or given up: the cluster forgets the tasks and the chunks
        if client.status == "running":
            client.cancel([*futures, *shared])  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The logger ``name`` silent but for the critical, while inside."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class _Search:
    """The explorer's books: worlds seen, what they showed, when to stop."""

    def __init__(self, start: bytes, max_states: int, progress: Progress | None) -> None:
        self.found = Exploration(states=1)
        self.seen = {start}
        self.violated: set[str] = set()
        self.max_states = max_states
        self.progress = progress

    def take(self, expanded: Expanded, into: list[bytes]) -> bool:
        """Count what one expansion found, its new worlds going ``into`` the frontier;
        False once max_states is reached (the exploration is then incomplete)."""
        found = self.found
        found.depth = max(found.depth, expanded.depth)
        found.cut += expanded.cut
        if expanded.outcomes is not None:
            found.final += 1
            for incident, outcome in expanded.outcomes.items():
                found.outcomes.setdefault(incident, set()).add(outcome)
        for finding in expanded.final:
            self.violate(finding)
        for key, frozen, findings in expanded.successors:
            found.transitions += 1
            if key in self.seen:
                continue
            self.seen.add(key)
            found.states += 1
            depth = expanded.depth + 1
            while len(found.levels) <= depth:
                found.levels.append(0)
            found.levels[depth] += 1
            for finding in findings:
                self.violate(finding)
            into.append(frozen)
            if self.progress is not None and found.states % 1000 == 0:
                self.progress(found.states, len(into))
            if found.states >= self.max_states:
                found.complete = False
                return False
        return True

    def violate(self, finding: Finding) -> None:
        """Keep the first world found failing each property (breadth first: one of the
        shortest paths to it)."""
        if finding.property in self.violated:
            return
        self.violated.add(finding.property)
        violation = Violation(finding.property, finding.detail, list(finding.steps))
        self.found.violations.append(violation)


def _popped(stack: list[bytes]) -> list[bytes]:
    """The stack with its top taken off (depth first: the successors go on top)."""
    stack.pop()
    return stack


def _chunks(frontier: list[bytes], workers: int) -> list[list[bytes]]:
    """A level cut into pieces, several per worker (so one slow piece does not idle the
    others), in order."""
    size = max(1, min(256, len(frontier) // (workers * 4) or 1))
    return [frontier[i : i + size] for i in range(0, len(frontier), size)]


def judge(world: World) -> tuple[bool, list[Finding]]:
    """Whether ``world`` is final (nothing left to happen), and every property that
    fails in it, as the explorer judges them (a replayed counterexample's end)."""
    findings = _always(world)
    final = next(world.successors(), None) is None
    if final:
        findings += _final(world)[1]
    return final, findings


def _finding(name: str, detail: str, world: World) -> Finding:
    return Finding(name, detail, tuple([] if world.trail is None else world.trail.steps()))


def _always(world: World) -> list[Finding]:
    findings = [
        _finding(f"always {breach.invariant}", breach.detail, world)
        for breach in world.watch.breaches
    ]
    for breach in disagreements(world.incidents(), world.tally.flying):
        findings.append(_finding(f"always {breach.invariant}", breach.detail, world))
    return findings


def _final(world: World) -> tuple[dict[str, str], list[Finding]]:
    """A final world's outcomes, and what fails in it."""
    findings = []
    scenario = world.scenario
    incidents = world.incidents()
    originated = [i for i in incidents if i.role is Role.ORIGINATOR]
    outcomes = {}
    for incident in originated:
        outcomes[incident.id] = incident.outcome
        if incident.is_open and not world.ended:
            detail = f"{incident.id} is still {incident.state} with nothing left to happen"
            findings.append(_finding("eventually every incident ends", detail, world))
    ends = dict.fromkeys(world.endpoints, world.now)
    for breach in bound_breaches(incidents, ends):
        findings.append(_finding(f"always {breach.invariant}", breach.detail, world))
    views: dict[str, list[tuple[str, Any]]] = {}
    for party, endpoint in world.endpoints.items():
        for view in endpoint.incidents():
            if view.role is Role.RESPONDER:
                views.setdefault(view.id, []).append((party, view))
    records = [
        incident_record(i, scenario.start, views.get(i.id, ()), world.tally.rejected_by.get(i.id))
        for i in originated
    ]
    for expectation in scenario.expectations:
        passed, detail = check_expectation(expectation, records)
        if not passed:
            findings.append(_finding(f"expect {expectation.description}", detail, world))
    return outcomes, findings
