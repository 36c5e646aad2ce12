"""For broker tests: each party of the test doctrine as a live `Station`, and the
broker profiles (brokers/) started with their own scripts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import aiomqtt

from hotline.core.events import NoticeReceived
from hotline.core.names import Channel
from hotline.core.verifier import VerifierPolicy
from hotline.live.station import Station
from hotline.testing import Mosquitto
from tests.conftest import REPO
from tests.harness import keyring_for, make_doctrine, station_key

DOCTRINE = make_doctrine()
KEYRING = keyring_for(DOCTRINE)
#: a broker address no post reaches: for posts fed their batches by hand
NOWHERE = "mqtt://127.0.0.1:9"


def post(
    party: str,
    broker: Mosquitto | str | list[str],
    store: Path | str = ":memory:",
    keep_closed: float | None = 600.0,
    policy: VerifierPolicy | None = None,
    **options: Any,
) -> Station:
    """``party``'s post, hosting its stations on every line, on ``broker`` (or URLs);
    ``options`` go to the `Station` as they are."""
    stations = sorted(
        {DOCTRINE[c].stations[party] for c in Channel if party in DOCTRINE[c].stations}
    )
    return Station(
        party=party,
        keys=[station_key(s) for s in stations],
        keyring=KEYRING,
        doctrine=DOCTRINE,
        broker=broker.url if isinstance(broker, Mosquitto) else broker,
        store=store,
        keep_closed=keep_closed,
        policy=policy,
        **options,
    )


async def answer_every_notice(station: Station) -> None:
    """Acknowledge every notice ``station`` receives (runs until cancelled)."""
    async for event in station.events():
        if isinstance(event, NoticeReceived):
            await station.acknowledge(event.incident.id, channel=event.incident.channel)


async def session_present(broker: Mosquitto, client_id: str) -> bool:
    """Whether ``broker`` still holds a session for ``client_id``: the session-present
    flag of its CONNACK to a client connecting under that id with clean_session False."""
    client = aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=client_id, clean_session=False, timeout=5
    )
    present: list[bool] = []
    connection = client._client
    answered = connection.on_connect  # aiomqtt's, which does not pass the flags on

    def on_connect(*args: Any) -> None:
        present.append(args[2].session_present)
        if answered is not None:
            answered(*args)

    connection.on_connect = on_connect
    async with client:
        pass
    return present[0]


def start_profile(name: str, *args: str) -> list[str]:
    """Run brokers/NAME/start.sh as a user would; returns the URLs it prints."""
    started = subprocess.run(
        [str(REPO / "brokers" / name / "start.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    return started.stdout.split()
