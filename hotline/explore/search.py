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

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotline.core.incident import Role
from hotline.explore.world import Bounds, World, initial_world
from hotline.sim.invariants import bound_breaches, disagreements
from hotline.sim.model import Scenario
from hotline.sim.result import check_expectation, incident_record


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
        }


#: called now and then with the worlds found and the frontier's size
Progress = Callable[[int, int], None]


def explore(
    scenario: Scenario,
    bounds: Bounds,
    *,
    max_states: int = 1_000_000,
    depth_first: bool = False,
    sometimes: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
) -> Exploration:
    """Explore every world of ``scenario`` reachable within ``bounds``.

    Args:
        scenario: the exercise (its stations, doctrine, script, responders).
        bounds: faults allowed, and the depth.
        max_states: stop after this many distinct worlds (``complete`` is then False).
        depth_first: explore depth first instead of breadth first.
        sometimes: (incident, outcome) pairs some final world must show.
        progress: told the worlds found and the frontier's size, every 1,000 worlds.
    """
    started = time.perf_counter()
    found = Exploration()
    start = initial_world(scenario, bounds)
    seen = {start.key()}
    frontier: deque[World] = deque([start])
    violated: set[str] = set()
    found.states = 1
    while frontier:
        world = frontier.pop() if depth_first else frontier.popleft()
        found.depth = max(found.depth, world.depth)
        successors = list(world.successors())
        if not successors:
            _final(world, found, violated)
        for _, after in successors:
            found.transitions += 1
            key = after.key()
            if key in seen:
                continue
            seen.add(key)
            found.states += 1
            _always(after, found, violated)
            frontier.append(after)
            if progress is not None and found.states % 1000 == 0:
                progress(found.states, len(frontier))
        if found.states >= max_states and frontier:
            found.complete = False
            break
    for incident, outcome in sometimes:
        if outcome not in found.outcomes.get(incident, set()):
            found.never.append(f"{incident} {outcome}")
    found.seconds = time.perf_counter() - started
    return found


def _violate(found: Exploration, violated: set[str], name: str, detail: str, world: World) -> None:
    if name in violated:
        return  # the first found is kept: breadth first, one of the shortest
    violated.add(name)
    steps = [] if world.trail is None else world.trail.steps()
    found.violations.append(Violation(name, detail, steps))


def _always(world: World, found: Exploration, violated: set[str]) -> None:
    for breach in world.watch.breaches:
        _violate(found, violated, f"always {breach.invariant}", breach.detail, world)
    for breach in disagreements(world.incidents(), world.tally.flying):
        _violate(found, violated, f"always {breach.invariant}", breach.detail, world)


def _final(world: World, found: Exploration, violated: set[str]) -> None:
    """A world where nothing is left to happen (not one cut off by the depth bound)."""
    if world.bounds.depth is not None and world.depth >= world.bounds.depth:
        return
    found.final += 1
    scenario = world.scenario
    incidents = world.incidents()
    originated = [i for i in incidents if i.role is Role.ORIGINATOR]
    for incident in originated:
        found.outcomes.setdefault(incident.id, set()).add(incident.outcome)
        if incident.is_open and not world.ended:
            detail = f"{incident.id} is still {incident.state} with nothing left to happen"
            _violate(found, violated, "eventually every incident ends", detail, world)
    ends = dict.fromkeys(world.endpoints, world.now)
    for breach in bound_breaches(incidents, ends):
        _violate(found, violated, f"always {breach.invariant}", breach.detail, world)
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
            _violate(found, violated, f"expect {expectation.description}", detail, world)
