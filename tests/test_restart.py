"""Killing a post (kill -9) mid-incident and starting it again loses nothing and does
nothing twice: the examples in examples/embedding/ run as separate processes on their
own store files, and the other side is a `Station` in the test."""

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
from hotline.client import Station
from hotline.core.records import incident_from_record
from hotline.testing import Mosquitto
from hotline.transport.store import PostStore
from tests.conftest import REPO

pytestmark = pytest.mark.broker
EXAMPLES = REPO / "examples" / "embedding"
POSTS = EXAMPLES / "posts.toml"
DOCTRINE = doctrine_with(tomllib.loads(POSTS.read_text()), str(POSTS))


@pytest.fixture
def keys(hotline_command: str, tmp_path: Path) -> Path:
    """Keys for US-CAOC and RU-HMEIMIM in tmp_path, with keyring.json."""
    for station, party in (("US-CAOC", "US"), ("RU-HMEIMIM", "RU")):
        subprocess.run(
            [
                hotline_command,
                "keys",
                "generate",
                "--station",
                station,
                "--party",
                party,
                "--channels",
                "air",
                "--keyring",
                "keyring.json",
            ],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=60,
        )
    return tmp_path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def example(
    processes: list[subprocess.Popen[str]], name: str, keys: Path, broker: Mosquitto, *args: str
) -> subprocess.Popen[str]:
    party, station = ("US", "US-CAOC") if name == "originator" else ("RU", "RU-HMEIMIM")
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / f"{name}.py"),
            "--broker",
            broker.url,
            "--keyring",
            str(keys / "keyring.json"),
            "--party",
            party,
            "--key",
            str(keys / f"{station}.key"),
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


def post(party: str, station: str, keys: Path, broker: Mosquitto) -> Station:
    return Station(
        party=party,
        keys=[load_private_key(keys / f"{station}.key")],
        keyring=load_keyring(keys / "keyring.json"),
        doctrine=DOCTRINE,
        broker=broker.url,
        store=keys / f"{party}-in-test.db",
    )


def stored_views(path: Path) -> list[Any]:
    store = PostStore(path)
    try:
        return [incident_from_record(r, DOCTRINE) for r in store.incident_records()]
    finally:
        store.close()


@pytest.mark.asyncio
async def test_a_killed_originator_gets_its_outcome_after_a_restart(
    keys: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    store = str(keys / "us.db")
    notices: list[str] = []
    async with post("RU", "RU-HMEIMIM", keys, mosquitto) as ru:
        originator = example(processes, "originator", keys, mosquitto, "--store", store)
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
            processes, "originator", keys, mosquitto, "--store", store, "--resume", incident_id
        )
        assert await line(resumed) == f"resumed {incident_id}"
        assert await line(resumed) == "outcome acknowledged"
        assert resumed.wait(timeout=10) == 0
        (view,) = ru.endpoint.incidents()
    assert notices == [incident_id]
    assert view.leg.calls == 1  # no retry was needed: the ack waited at the broker
    (incident,) = stored_views(keys / "us.db")
    assert incident.outcome == "acknowledged"
    assert [step.input for step in incident.history] == ["notify", "ack"]


@pytest.mark.asyncio
async def test_a_killed_responder_is_handed_its_unanswered_notice_after_a_restart(
    keys: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[str]]
) -> None:
    store = str(keys / "ru.db")
    args = ("--store", store, "--count", "1")
    responder = example(processes, "responder", keys, mosquitto, *args, "--delay", "600")
    assert await line(responder) == "ready"
    async with post("US", "US-CAOC", keys, mosquitto) as us:
        incident = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
        )
        assert await line(responder) == f"received {incident.id}: flight"
        kill9(responder)  # took the notice, had not answered yet
        (before,) = stored_views(keys / "ru.db")
        assert before.state == "notified"
        again = example(processes, "responder", keys, mosquitto, *args)
        assert await line(again) == "ready"
        assert await line(again) == f"received {incident.id}: flight"
        assert await line(again) == f"acknowledged {incident.id}: flight"
        assert await incident.outcome(timeout=20) == "acknowledged"
        assert again.wait(timeout=10) == 0
    assert incident.incident.attempts == 1
    (after,) = stored_views(keys / "ru.db")
    assert [step.input for step in after.history] == ["notify", "ack"]
