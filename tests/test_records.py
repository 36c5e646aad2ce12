"""Incident records (hotline/core/records.py): exact round trips, and a post restored
from them carries on as if it had never stopped."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.core.channels import Doctrine
from hotline.core.endpoint import StationEndpoint
from hotline.core.incident import Incident, Notice
from hotline.core.names import Channel, Precedence
from hotline.core.records import RecordError, incident_from_record, incident_record
from hotline.sim.exercise import run_exercise
from hotline.sim.scenario import load_scenario
from tests.conftest import REPO
from tests.harness import T0, Net, keyring_for, make_doctrine, station_key

EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def through_store(incident: Incident, doctrine: Doctrine) -> Incident:
    """What a post reads back: the record packed as the store packs it."""
    data = msgpack.packb(incident_record(incident), use_bin_type=True)
    return incident_from_record(msgpack.unpackb(data, raw=False), doctrine)


def every_view(path: Any, seed: int | None = None) -> list[Incident]:
    exercise = run_exercise(load_scenario(path), seed)
    return exercise.incidents() + [view for _, view in exercise.views()]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_incident_of_every_example_comes_back_exactly(path: Any) -> None:
    views = every_view(path)
    assert views
    for incident in views:
        restored = through_store(incident, incident.doctrine)
        assert restored == incident
        assert incident_record(restored) == incident_record(incident)


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_incidents_under_faults_come_back_exactly(seed: int) -> None:
    for incident in every_view(REPO / "examples" / "warnings-unheard-2015.toml", seed):
        assert through_store(incident, incident.doctrine) == incident


def test_a_record_of_another_version_or_shape_is_refused() -> None:
    (incident, *_) = every_view(REPO / "examples" / "tutorial.toml")
    record = incident_record(incident)
    with pytest.raises(RecordError, match="version 99 is not one"):
        incident_from_record({**record, "v": 99}, incident.doctrine)
    broken_fields: list[dict[str, Any]] = [
        {"state": "sleeping"},
        {"legs": []},
        {"deadline": "soon"},
    ]
    for broken in broken_fields:
        with pytest.raises(RecordError, match="malformed"):
            incident_from_record({**record, **broken}, incident.doctrine)
    del record["history"]
    with pytest.raises(RecordError, match="malformed"):
        incident_from_record(record, incident.doctrine)


def restarted(old: StationEndpoint, party: str, doctrine: Doctrine) -> StationEndpoint:
    """A new endpoint for ``party`` holding ``old``'s incidents, as a restarted post."""
    counter = itertools.count(1)
    fresh = StationEndpoint(
        party=party,
        keys=[station_key(s) for s in sorted(set(old.stations.values()))],
        keyring=keyring_for(doctrine),
        doctrine=doctrine,
        message_ids=lambda: hashlib.sha256(f"after:{next(counter)}".encode()).digest()[:16],
        first_seq=1000,  # a post's store keeps its sequence numbers going
    )
    for incident in old.incidents():
        fresh.restore(through_store(incident, doctrine))
    return fresh


@pytest.mark.parametrize("restart", ["originator", "responder"])
def test_a_post_restored_mid_incident_ends_it_as_if_it_never_stopped(restart: str) -> None:
    doctrine = make_doctrine()
    deadline = doctrine[Channel.AIR].deadline(Precedence.FLASH)

    def run(restarting: bool) -> tuple[list[Any], list[Any]]:
        net = Net.of(["US", "RU"], doctrine)
        incident = net.endpoints["US"].notify(
            channel=Channel.AIR,
            precedence=Precedence.FLASH,
            notice=Notice(activity="strike"),
            now=net.now,
        )
        # RU leaves the first call unanswered: the restart falls before the retry, so
        # the restored timer must fire it
        net.run(until=T0 + deadline / 2)
        if restarting:
            party = "US" if restart == "originator" else "RU"
            net.endpoints[party] = restarted(net.endpoints[party], party, doctrine)
        net.run(until=T0 + deadline + 5)
        net.endpoints["RU"].acknowledge(incident.id, net.now)
        net.run()
        us = net.endpoints["US"].originated(incident.id)
        ru = net.endpoints["RU"].answering(incident.id)
        return us.history, ru.history

    straight, interrupted = run(False), run(True)
    assert interrupted == straight
    us_history, _ = straight
    assert [s.input for s in us_history] == ["notify", "retry", "ack"]


def test_restore_refuses_a_second_copy_and_another_partys_incident() -> None:
    doctrine = make_doctrine()
    net = Net.of(["US", "RU"], doctrine)
    us = net.endpoints["US"]
    incident = us.notify(
        channel=Channel.AIR,
        precedence=Precedence.FLASH,
        notice=Notice(activity="strike"),
        now=T0,
    )
    with pytest.raises(ValueError, match="already held"):
        us.restore(through_store(incident, doctrine))
    with pytest.raises(ValueError, match="belongs to US"):
        net.endpoints["RU"].restore(through_store(incident, doctrine))
