"""What a line does to one copy: its outages, its loss, its latency, then the fault plan.

One judgement, used by the simulator (`hotline.sim.exercise`) and by the live fault
proxy (`hotline.live.proxy.decisions`), so that a copy both runs send is judged alike:

1. the line is down when the copy is sent: the sender finds it so (``detect_outages``:
   dropped as ``line down``, and the sender falls back), or the copy waits at the
   sender's desk until the line returns (``hold``: judged again then), unless it would
   outwait its answer deadline (dropped as ``expired in outage``);
2. the line may lose it (``loss``, drawn from the copy's own numbers: ``lost``);
3. it travels for the line's latency (timing: drawn from the caller's generator);
4. the fault plan decides the rest, from the same numbers (`FaultPlan.apply`).

Each fault applied is an entry of the result's ``faults`` for the copy's incident
(`hotline.faults.fault_entry`). No IO here, and nothing drawn but from the generators
passed in.
"""

from __future__ import annotations

import random
from typing import Any, NamedTuple

from hotline.faults import (
    ACTIONS,
    MADE_BY,
    Copy,
    Delivery,
    FaultPlan,
    copy_label,
    fault_entry,
)
from hotline.sim.model import Link


class Judged(NamedTuple):
    """What the line does to one copy (see the module doc). ``marks`` pairs each fault
    entry with the delivery it made or changed (None: a drop or a hold)."""

    deliveries: list[Delivery]  # what arrives: each ``latency + delay`` after sending
    latency: float = 0.0
    dropped: str | None = None  # why the copy itself did not survive (drops count it)
    hold: float = 0.0  # seconds it waits for its line, then is judged again
    line_down: bool = False  # dropped because its sender found the line down
    marks: tuple[tuple[dict[str, Any], Delivery | None], ...] = ()

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The faults applied, as the result lists them."""
        return [entry for entry, _ in self.marks]


def judge_copy(
    copy: Copy,
    link: Link | None,
    plan: FaultPlan,
    *,
    rng: random.Random,
    deadline: float | None = None,
    faulty: bool = True,
) -> Judged:
    """Judge one copy sent at ``copy.at`` (exercise seconds).

    Args:
        copy: the copy.
        link: its line's network (None: a perfect line, as for a topic that is no inbox).
        plan: the fault plan.
        rng: timing draws (latency).
        deadline: the copy's answer deadline on its line (None: it never expires).
        faulty: whether the plan has copy faults to apply (``not plan.empty``; cached by
            callers that judge many copies).
    """
    at = copy.at
    if link is not None and not link.up(at):
        if link.detect_outages:
            return _dropped(copy, "line down", line_down=True)
        wait = link.resumes(at) - at
        if deadline is not None and wait > deadline:
            return _dropped(copy, "expired in outage")
        why = f"until the line returns in {wait:.1f} s"
        held = fault_entry(at, copy_label(copy), "outage", "held", why)
        return Judged([], hold=wait, marks=((held, None),))
    loss = link.loss if link is not None else 0.0
    if not faulty and not loss:
        latency = link.latency.sample(rng) if link is not None else 0.0
        return Judged([Delivery(copy.data, 0.0)], latency)
    draws = plan.draws(copy)
    label = copy_label(copy, draws.ordinal)
    if loss and draws.random() < loss:
        return _dropped(copy, "lost", label=label)
    latency = link.latency.sample(rng) if link is not None else 0.0
    if not faulty:
        return Judged([Delivery(copy.data, 0.0)], latency)
    outcome = plan.apply(copy, draws)
    marks: list[tuple[dict[str, Any], Delivery | None]] = []
    dropped = None
    if outcome.dropped_by is not None:
        dropped = str(outcome.dropped_by)
        marks.append((fault_entry(at, label, dropped, "dropped"), None))
    for delivery in outcome.deliveries:
        if delivery.tag is not None or delivery.delay > 0:
            detail = f"+{delivery.delay:.3f} s" if delivery.delay else ""
            if delivery.to is not None:
                detail = f"to {delivery.to}" + (f", {detail}" if detail else "")
            fault = MADE_BY[delivery.tag].value
            marks.append((fault_entry(at, label, fault, ACTIONS[delivery.tag], detail), delivery))
    return Judged(outcome.deliveries, latency, dropped, marks=tuple(marks))


def _dropped(copy: Copy, why: str, *, line_down: bool = False, label: str = "") -> Judged:
    entry = fault_entry(copy.at, label or copy_label(copy), why, "dropped")
    return Judged([], dropped=why, line_down=line_down, marks=((entry, None),))
