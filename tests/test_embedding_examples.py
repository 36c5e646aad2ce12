"""The embedding examples (examples/embedding/) run as written against a real broker,
and survive kill -9 mid-incident: started again on the same store file, each loses
nothing and does nothing twice (the other side is a `Station` in the test). An answer
given while the broker is down is said to be queued, and is never lost silently."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline import (
    Channel,
    Notice,
    NoticeReceived,
    Precedence,
    doctrine_with,
    load_keyring,
    load_private_key,
)
from hotline.core.records import incident_from_record
from hotline.live.station import Station
from hotline.live.store import PostStore
from hotline.testing import Mosquitto
from tests.conftest import REPO

pytestmark = pytest.mark.broker
EXAMPLES = REPO / "examples" / "embedding"
POSTS = EXAMPLES / "posts.toml"
DOCTRINE = doctrine_with(tomllib.loads(POSTS.read_text()), str(POSTS))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def example(
    processes: list[subprocess.Popen[str]], name: str, stations: Path, broker: Mosquitto, *args: str
) -> subprocess.Popen[str]:
    party, station = ("US", "US-CAOC") if name == "originator" else ("RU", "RU-HMEIMIM")
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / f"{name}.py"),
            "--broker",
            broker.url,
            "--keyring",
            str(stations / "keyring.json"),
            "--party",
            party,
            "--key",
            str(stations / f"{station}.key"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    return process


async def line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    text = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
    assert text, f"the process ended: {process.stderr.read() if process.stderr else ''}"
    return text.strip()


def kill9(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


@pytest.mark.asyncio
async def test_originator_and_responder_examples_talk_over_a_broker(
    stations: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    responder = example(processes, "responder", stations, mosquitto, "--count", "1")
    assert await line(responder) == "ready"
    originator = example(
        processes, "originator", stations, mosquitto, "--activity", "flight", "--wait", "20"
    )
    assert await line(originator) == "notified US-CAOC:1"
    assert await line(originator) == "outcome acknowledged"
    assert originator.wait(timeout=30) == 0
    assert await line(responder) == "received US-CAOC:1: flight"
    assert await line(responder) == "acknowledged US-CAOC:1: flight (with the broker)"
    assert responder.wait(timeout=30) == 0


def post(party: str, station: str, stations: Path, broker: Mosquitto) -> Station:
    return Station(
        party=party,
        keys=[load_private_key(stations / f"{station}.key")],
        keyring=load_keyring(stations / "keyring.json"),
        doctrine=DOCTRINE,
        broker=broker.url,
        store=stations / f"{party}-in-test.db",
        backoff=(0.05, 0.5),  # back soon after a broker restart
    )


def stored_views(path: Path) -> list[Any]:
    store = PostStore(path)
    try:
        return [incident_from_record(r, DOCTRINE) for r in store.incident_records()]
    finally:
        store.close()


@pytest.mark.asyncio
async def test_a_killed_originator_gets_its_outcome_after_a_restart(
    stations: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    store = str(stations / "us.db")
    notices: list[str] = []
    async with post("RU", "RU-HMEIMIM", stations, mosquitto) as ru:
        originator = example(processes, "originator", stations, mosquitto, "--store", store)
        notified = await line(originator)
        assert notified.startswith("notified ")
        incident_id = notified.split()[1]
        async for event in ru.events():
            if isinstance(event, NoticeReceived):
                notices.append(event.incident.id)
                kill9(originator)  # the ack will find the originator gone
                await ru.acknowledge(event.incident.id)
                break
        resumed = example(
            processes, "originator", stations, mosquitto, "--store", store, "--resume", incident_id
        )
        assert await line(resumed) == f"resumed {incident_id}"
        assert await line(resumed) == "outcome acknowledged"
        assert resumed.wait(timeout=10) == 0
        (view,) = ru.endpoint.incidents()
    assert notices == [incident_id]
    assert view.leg.calls == 1  # no retry was needed: the ack waited at the broker
    (incident,) = stored_views(stations / "us.db")
    assert incident.outcome == "acknowledged"
    assert [step.input for step in incident.history] == ["notify", "ack"]


@pytest.mark.asyncio
async def test_a_killed_responder_is_handed_its_unanswered_notice_after_a_restart(
    stations: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    store = str(stations / "ru.db")
    args = ("--store", store, "--count", "1")
    responder = example(processes, "responder", stations, mosquitto, *args, "--delay", "600")
    assert await line(responder) == "ready"
    async with post("US", "US-CAOC", stations, mosquitto) as us:
        incident = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
        )
        assert await line(responder) == f"received {incident.id}: flight"
        kill9(responder)  # took the notice, had not answered yet
        (before,) = stored_views(stations / "ru.db")
        assert before.state == "notified"
        again = example(processes, "responder", stations, mosquitto, *args)
        assert await line(again) == "ready"
        assert await line(again) == f"received {incident.id}: flight"
        assert await line(again) == f"acknowledged {incident.id}: flight (with the broker)"
        assert await incident.outcome(timeout=20) == "acknowledged"
        assert again.wait(timeout=10) == 0
    assert incident.incident.attempts == 1
    (after,) = stored_views(stations / "ru.db")
    assert [step.input for step in after.history] == ["notify", "ack"]


QUEUED = "(queued: the broker has not confirmed it yet)"


async def acknowledged_while_the_broker_is_down(
    responder: subprocess.Popen[str], us: Station, broker: Mosquitto
) -> str:
    """US notifies; the broker dies once the responder has the notice, before it answers
    (it takes --delay to decide). Returns the incident id."""
    incident = await us.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
    )
    assert await line(responder) == f"received {incident.id}: flight"
    broker.kill()
    assert await line(responder) == f"acknowledged {incident.id}: flight {QUEUED}"
    return incident.id


@pytest.mark.asyncio
async def test_an_answer_queued_while_the_broker_is_down_leaves_from_the_store_later(
    stations: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    store = str(stations / "ru.db")
    args = ("--store", store, "--count", "1", "--confirm", "0.3")
    responder = example(processes, "responder", stations, mosquitto, *args, "--delay", "0.5")
    assert await line(responder) == "ready"
    async with post("US", "US-CAOC", stations, mosquitto) as us:
        # US's session is on disk: the restarted broker keeps the ack for it
        await asyncio.to_thread(mosquitto.wait_for_save)
        incident = await acknowledged_while_the_broker_is_down(responder, us, mosquitto)
        assert (await line(responder)).endswith(
            f" in {store} for the broker: they leave when the responder runs on that file again"
        )
        assert responder.wait(timeout=10) == 0
        mosquitto.start()
        again = example(processes, "responder", stations, mosquitto, *args)
        assert await line(again) == "ready"
        assert await us.handle(incident).outcome(timeout=10) == "acknowledged"


@pytest.mark.asyncio
async def test_an_answer_that_never_left_an_in_memory_post_is_reported_lost(
    stations: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    args = ("--count", "1", "--confirm", "0.3", "--delay", "0.5")
    responder = example(processes, "responder", stations, mosquitto, *args)
    assert await line(responder) == "ready"
    async with post("US", "US-CAOC", stations, mosquitto) as us:
        incident = await acknowledged_while_the_broker_is_down(responder, us, mosquitto)
        assert responder.wait(timeout=10) == 1
    assert responder.stderr is not None
    error = responder.stderr.read()
    # (paho may log the broker's reset connection on a line of its own first)
    assert error.splitlines()[-1].startswith("responder: ")
    assert f" never confirmed by {mosquitto.url} within 0.3 s, lost" in error
    assert f"1 ack to US-CAOC on air (incident {incident})" in error
    assert "Traceback" not in error


@pytest.mark.asyncio
async def test_an_originator_without_an_outcome_says_the_incident_is_still_open(
    stations: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    store = str(stations / "us.db")
    originator = example(
        processes, "originator", stations, mosquitto, "--store", store, "--wait", "0.5"
    )
    assert await line(originator) == "notified US-CAOC:1"
    assert await line(originator) == (
        "no outcome within 0.5 s: incident US-CAOC:1 is still open; "
        f"run again with --store {store} --resume US-CAOC:1"
    )
    assert originator.wait(timeout=10) == 1
    assert originator.stderr is not None
    assert "Traceback" not in originator.stderr.read()
