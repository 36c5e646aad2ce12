"""Closed incidents set aside out of memory are judged as if they had never left.

Two networks run the same script: in one every endpoint keeps all its incidents; in the
other each sets aside every closed incident after every step and brings it back
through ``recall`` from an archive of records (as a live post reads its store). Late
answers, repeated notices and reused incident ids must meet the same fate in both.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from typing import Any

import pytest

from hotline.core.channels import Doctrine
from hotline.core.endpoint import StationEndpoint
from hotline.core.events import Event, Rejected
from hotline.core.incident import Incident, Notice, Role
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.records import incident_from_record, incident_record
from hotline.core.wire import digest, encode_envelope
from tests.harness import T0, Net, keyring_for, make_doctrine, signed, station_key

NOTICE = Notice(activity="flight", starts_at=T0 + 3600)
BODIES: dict[Kind, dict[str, Any]] = {
    Kind.NOTIFY: NOTICE.to_body(),
    Kind.DISPUTE: {"reason": "not-our-forces"},
}


class Archive:
    """Incident records by view, as a post's store keeps them."""

    def __init__(self, doctrine: Doctrine) -> None:
        self.doctrine = doctrine
        self.records: dict[tuple[str, Role, Channel], dict[str, Any]] = {}
        self.recalls = 0

    def keep(self, incidents: Iterable[Incident]) -> None:
        for incident in incidents:
            key = (incident.id, incident.role, incident.legs[0].channel)
            self.records[key] = incident_record(incident)

    def recall(self, incident_id: str) -> list[Incident]:
        self.recalls += 1
        return [
            incident_from_record(record, self.doctrine)
            for (held, _, _), record in self.records.items()
            if held == incident_id
        ]


def network(aside: bool) -> tuple[Net, dict[str, Archive]]:
    doctrine = make_doctrine(["US", "RU"])
    keyring = keyring_for(doctrine)
    archives = {party: Archive(doctrine) for party in ("US", "RU")}
    endpoints = {}
    for party in ("US", "RU"):
        stations = {doctrine[c].stations[party] for c in Channel}
        counter = itertools.count(1)
        endpoints[party] = StationEndpoint(
            party=party,
            keys=[station_key(s) for s in sorted(stations)],
            keyring=keyring,
            doctrine=doctrine,
            message_ids=lambda p=party, c=counter: hashlib.sha256(
                f"{p}:{next(c)}".encode()
            ).digest()[:16],  # type: ignore[misc]
            track_changes=True,
            recall=archives[party].recall if aside else None,
        )
    return Net(endpoints), archives


def settle(net: Net, archives: dict[str, Archive], aside: bool) -> None:
    """Run the network to rest, keeping records and setting aside after every step."""
    for _ in range(1000):
        moved = net.step()
        for party, endpoint in net.endpoints.items():
            archives[party].keep(endpoint.changed())
            if aside:
                endpoint.set_aside(net.now + 1)
        if not moved:
            return
    raise AssertionError("the network did not settle")


def late(
    sender: str, recipient: str, incident: str, kind: Kind, ref: bytes | None, n: int
) -> bytes:
    """A validly signed message about ``incident`` that its sender never sent."""
    return signed(
        sender, recipient, incident, kind, at=T0 + 600, seq=1000 + n, ref=ref, body=BODIES.get(kind)
    )


def outline(events: list[Event]) -> list[tuple[str, str]]:
    return [(type(e).__name__, e.reason.value if isinstance(e, Rejected) else "") for e in events]


def script(aside: bool) -> list[Any]:
    """Open, answer and close an incident; then poke it every way; what each poke met."""
    net, archives = network(aside)
    net.on_notice["RU"] = lambda ep, event, n: ep.acknowledge(event.incident.id, n.now)
    us, ru = net.endpoints["US"], net.endpoints["RU"]
    incident = us.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=net.now
    ).id
    settle(net, archives, aside)
    seen: list[Any] = [len(list(us.incidents())), len(list(ru.incidents()))]
    net.now = T0 + 600
    notice = next(digest(encode_envelope(env)) for _, _, env in net.sent if env.kind is Kind.NOTIFY)
    pokes = [
        (us, late("RU-HMEIMIM", "US-CAOC", incident, Kind.ACK, notice, 1)),
        (us, late("RU-HMEIMIM", "US-CAOC", incident, Kind.DISPUTE, notice, 2)),
        (ru, late("US-CAOC", "RU-HMEIMIM", incident, Kind.NOTIFY, None, 3)),
        (ru, late("US-CAOC", "RU-HMEIMIM", incident, Kind.WITHDRAW, None, 4)),
    ]
    for endpoint, data in pokes:
        seen.append(outline(endpoint.receive(data, net.now, channel=Channel.AIR)))
        archives[endpoint.party].keep(endpoint.changed())
        if aside:
            endpoint.set_aside(net.now + 1)
    with pytest.raises(ValueError, match="already exists") as reused:
        us.notify(
            channel=Channel.AIR,
            precedence=Precedence.FLASH,
            notice=NOTICE,
            now=net.now,
            incident_id=incident,
        )
    seen.append(str(reused.value))
    seen.append((us.originated(incident).outcome, ru.answering(incident).state.value))
    return seen


def test_a_set_aside_incident_meets_every_late_message_as_one_kept_in_memory() -> None:
    kept, aside = script(aside=False), script(aside=True)
    assert kept[:2] == [1, 1]
    assert aside[:2] == [0, 0]  # both closed views left memory
    assert kept[2:] == aside[2:]
    # the signed withdrawal is the originator's word: the responder's view takes it
    assert aside[-1] == ("acknowledged", "withdrawn")


def test_setting_aside_needs_somewhere_to_recall_from() -> None:
    net, _ = network(aside=False)
    with pytest.raises(ValueError, match="recall"):
        net.endpoints["US"].set_aside(T0)


def test_only_closed_incidents_whose_changes_are_kept_leave_memory() -> None:
    net, archives = network(aside=True)
    us = net.endpoints["US"]
    open_one = us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=T0)
    closed = us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=T0)
    us.withdraw(closed.id, T0)
    archives["US"].keep(us.changed())
    assert us.set_aside(T0 + 10) == []  # its withdrawal is not confirmed yet
    net.run(until=T0 + 10)  # delivered, and confirmed
    assert us.set_aside(T0 + 10) == []  # the confirmation is not kept yet
    archives["US"].keep(us.changed())
    assert us.set_aside(T0 + 10) == [closed]
    assert list(us.incidents()) == [open_one]
    assert us.originated(closed.id).outcome == "withdrawn"  # read back
