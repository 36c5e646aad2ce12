"""Invariants: what must hold after every run, whatever faults were injected.

The exercise records, as it runs, what each station accepted (`Watch`); after the run
`check_invariants` turns that, the message tally and the incidents into verdicts:

* no-forged-message-accepted      a forged copy was never taken by its receiver
* no-tampered-message-accepted    a corrupted copy was never taken
* no-message-accepted-twice       no station took one message id twice (duplicates,
                                  replays and retries crossing are all refused)
* no-ack-without-its-notice       every acknowledgement taken names a notice its sender
                                  had itself taken
* every-accepted-message-was-sent every message taken was sent by a station
* messages-accounted              sent + injected = delivered + dropped + in flight
* incidents-end-within-bound      every incident (and responder view) closed within
                                  its doctrine bound, or is open because the run ended
                                  before that bound
* views-agree-at-quiescence       every party holding a view of an incident holds the
                                  originator's outcome, once none of the incident's
                                  messages is in flight and none of its views waits on
                                  a timer (an incident still settling is not judged),
                                  unless the originator's record names that view's
                                  station as told the outcome and never confirming it
                                  (over a line that loses messages no number of sends
                                  makes agreement certain; an unconfirmed closing
                                  message is the disagreement on record, not hidden)

A broken invariant names the incidents concerned, so a trace can be printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hotline.core.events import Received
from hotline.core.incident import Incident, Role
from hotline.core.names import NOTICE_KINDS, Channel, Kind
from hotline.faults import Tag

_LINE_NAMES: Final = {channel: channel.value for channel in Channel}


@dataclass(slots=True)
class Breach:
    """One observed violation: which invariant, which incident, what happened."""

    invariant: str
    incident: str
    detail: str


@dataclass(slots=True)
class Watch:
    """What the run observed, for the invariants (kept small: ids and digests only)."""

    sent: set[bytes] = field(default_factory=set)  # ids of messages stations sent
    accepted: dict[str, set[bytes]] = field(default_factory=dict)  # party -> ids taken
    notices: dict[str, set[bytes]] = field(default_factory=dict)  # party -> notice digests taken
    carried: Counter[str] = field(default_factory=Counter)  # line -> messages taken on it
    breaches: list[Breach] = field(default_factory=list)

    def observe(
        self, party: str, event: Received, tag: Tag | None, owner: Mapping[str, str]
    ) -> None:
        """Note what ``party`` accepted, and any breach of the message invariants.

        Args:
            party: the receiving party.
            event: what it accepted.
            tag: what a fault made of the delivery (None: untouched).
            owner: the party of each station.
        """
        # (run for every message taken, and not compiled: each lookup counts)
        envelope, breaches = event.envelope, self.breaches
        incident, message_id, kind = envelope.incident, envelope.id, envelope.kind
        if tag is not None:  # a fault made something of this copy
            if tag is Tag.FORGED:
                breaches.append(
                    Breach("no-forged-message-accepted", incident, f"{party} took a forgery")
                )
            elif tag is Tag.CORRUPTED:
                detail = f"{party} took it"
                breaches.append(Breach("no-tampered-message-accepted", incident, detail))
        accepted = self.accepted.get(party)
        if accepted is None:
            accepted = self.accepted[party] = set()
        if message_id in accepted:
            detail = f"{party} took {message_id.hex()} again"
            breaches.append(Breach("no-message-accepted-twice", incident, detail))
        accepted.add(message_id)
        line = _LINE_NAMES[envelope.channel]  # (an enum's value is a slow property)
        self.carried[line] = self.carried.get(line, 0) + 1
        if message_id not in self.sent:
            detail = f"{party} took an unsent message"
            breaches.append(Breach("every-accepted-message-was-sent", incident, detail))
        if kind in NOTICE_KINDS:
            notices = self.notices.get(party)
            if notices is None:
                notices = self.notices[party] = set()
            notices.add(event.digest)
        elif kind is Kind.ACK and envelope.ref not in self.notices.get(
            owner.get(envelope.sender, ""), ()
        ):
            detail = f"{envelope.sender} acked unseen"
            breaches.append(Breach("no-ack-without-its-notice", incident, detail))


INVARIANTS = (
    "no-forged-message-accepted",
    "no-tampered-message-accepted",
    "no-message-accepted-twice",
    "no-ack-without-its-notice",
    "every-accepted-message-was-sent",
    "messages-accounted",
    "incidents-end-within-bound",
    "views-agree-at-quiescence",
)


def bound_breaches(
    incidents: list[Incident], ended_at: Mapping[str, float], slack: float = 0.0
) -> list[Breach]:
    """Incidents (either view) that outlived their doctrine bound.

    ``ended_at`` is where the run stopped on each party's clock (views keep their
    party's time, clock skew included). ``slack`` is how late a timer may fire: none
    in simulation; in a live run, real scheduling delay times the time scale.
    """
    found = []
    for incident in incidents:
        first = incident.legs[0].channel
        if incident.role is Role.ORIGINATOR:
            bound = incident.doctrine.bound(first, incident.precedence)
        else:
            bound = incident.doctrine.leg_bound(first, incident.precedence)
        limit = incident.opened_at + bound + slack + 1e-6
        if incident.closed_at is not None:
            if incident.closed_at > limit:
                took = incident.closed_at - incident.opened_at
                found.append(
                    Breach(
                        "incidents-end-within-bound",
                        incident.id,
                        f"{incident.role} view closed after {took:.1f} s (bound {bound:.1f} s)",
                    )
                )
        elif ended_at[incident.party] > limit:
            found.append(
                Breach(
                    "incidents-end-within-bound",
                    incident.id,
                    f"{incident.role} view still {incident.state} past its bound of {bound:.1f} s",
                )
            )
    return found


def disagreements(incidents: list[Incident], flying: Mapping[str, int]) -> list[Breach]:
    """Incidents at rest whose views hold different outcomes.

    An incident is at rest when no copy of its messages is in flight (``flying``, per
    incident id, counted by the transport) and none of its views waits on a timer.
    """
    # no list of views per incident: at 100k incidents that is 100k lists, to find none
    origins: dict[str, Incident] = {}  # the first originator view of each id
    settling: set[str] = set()  # ids with a view waiting on a timer
    for incident in incidents:
        if incident.deadline is not None:
            settling.add(incident.id)
        if incident.role is Role.ORIGINATOR:
            origins.setdefault(incident.id, incident)
    held: dict[str, list[str]] = {}  # id -> the responder views that disagree
    for view in incidents:
        if view.role is not Role.RESPONDER:
            continue
        origin = origins.get(view.id)
        if origin is None or view.outcome == origin.outcome:
            continue  # agrees, or a view of an incident originated outside the run
        if view.id in settling or flying.get(view.id, 0):
            continue  # still settling
        if (view.station, view.channel) in origin.unconfirmed:
            continue  # told, and never confirming: on record
        held.setdefault(view.id, []).append(f"{view.station} ({view.channel}) holds {view.outcome}")
    found = []
    for incident in incidents:  # in the order the incidents first appear
        others = held.pop(incident.id, None)
        if others is not None:
            origin = origins[incident.id]
            detail = f"{origin.station} holds {origin.outcome}; " + ", ".join(others)
            found.append(Breach("views-agree-at-quiescence", incident.id, detail))
    return found


def check_invariants(
    watch: Watch,
    incidents: list[Incident],
    ended_at: Mapping[str, float],
    accounted: tuple[bool, str],
    *,
    slack: float = 0.0,
    flying: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The verdict of every invariant, in the result document's shape.

    Args:
        watch: what the run observed.
        incidents: every view of every incident (originators' and responders').
        ended_at: where the run stopped, on each party's clock.
        accounted: the message tally's verdict.
        slack: how late a timer may fire (see `bound_breaches`).
        flying: copies still in flight, per incident id.
    """
    breaches = [
        *watch.breaches,
        *bound_breaches(incidents, ended_at, slack),
        *disagreements(incidents, flying or {}),
    ]
    verdicts = []
    for name in INVARIANTS:
        if name == "messages-accounted":
            held, detail = accounted
            verdicts.append({"name": name, "held": held, "detail": detail, "incidents": []})
            continue
        mine = [b for b in breaches if b.invariant == name]
        ids = sorted({b.incident for b in mine})
        detail = "; ".join(f"{b.incident}: {b.detail}" for b in mine[:3])
        if len(mine) > 3:
            detail += f" (and {len(mine) - 3} more)"
        verdicts.append({"name": name, "held": not mine, "detail": detail, "incidents": ids})
    return verdicts
