"""The NATS profile (brokers/nats/): a three-node cluster with its MQTT gateway carries
hotline, and a post whose node is killed fails over without losing or repeating."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.core.events import NoticeReceived, Rejected
from hotline.core.incident import Notice
from hotline.core.names import Channel, Precedence
from hotline.live.exercise import run_live
from hotline.sim.exercise import run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario
from tests.conftest import REPO
from tests.posts import post, start_profile

pytestmark = [
    pytest.mark.broker,
    pytest.mark.slow,  # a three-node cluster started for each case
    pytest.mark.skipif(
        not (shutil.which("nats-server") or Path("/usr/sbin/nats-server").exists()),
        reason="nats-server is not installed (apt-get install nats-server)",
    ),
]


def free_block() -> int:
    """A base port whose nine profile ports (base+1..3, +11..13, +21..23) are free."""
    for _ in range(100):
        base = random.randrange(20_000, 60_000, 100)
        try:
            for offset in (1, 2, 3, 11, 12, 13, 21, 22, 23):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of ports")


class Cluster:
    def __init__(self, directory: Path, urls: list[str]) -> None:
        self.directory = directory
        self.urls = urls

    def pid(self, node: int) -> int:
        return int((self.directory / f"n{node}" / "pid").read_text())

    def kill(self, node: int) -> None:
        os.kill(self.pid(node), signal.SIGKILL)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    directory = tmp_path / "nats"
    (urls,) = start_profile("nats", str(directory), str(free_block()))
    nodes = Cluster(directory, urls.split(","))
    assert len(nodes.urls) == 3
    try:
        yield nodes
    finally:
        for node in (1, 2, 3):
            with contextlib.suppress(ProcessLookupError):
                os.kill(nodes.pid(node), signal.SIGTERM)


def test_the_cluster_carries_an_exercise_as_simulated(cluster: Cluster) -> None:
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    live = asyncio.run(run_live(scenario, ",".join(cluster.urls), time_scale=1200.0))
    simulated = build_result(run_exercise(scenario), 0.0)
    assert [i["outcome"] for i in live["incidents"]] == [
        i["outcome"] for i in simulated["incidents"]
    ]
    assert live["transport"] == "live"


@pytest.mark.asyncio
async def test_a_post_whose_node_is_killed_fails_over_and_nothing_is_lost_or_repeated(
    cluster: Cluster,
) -> None:
    us_nodes = cluster.urls  # US starts on node 1
    ru_nodes = cluster.urls[1:] + cluster.urls[:1]  # RU on node 2
    async with post("US", us_nodes) as us, post("RU", ru_nodes) as ru:
        # node 1 as a rule; the next one if node 1 was still joining the cluster
        first = us.link.broker.url
        assert first in cluster.urls
        incident = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
        )
        notices = []
        async for event in ru.events():
            if isinstance(event, NoticeReceived):
                notices.append(event.incident.id)
                cluster.kill(cluster.urls.index(first) + 1)  # US's node dies under it
                await ru.acknowledge(event.incident.id)
                break
        # the ack waits in the cluster for US, which reconnects to another node
        assert await incident.outcome(timeout=30) == "acknowledged"
        # the session's queue can arrive before the new connection is set up
        await asyncio.wait_for(us.link.connected.wait(), 10)
        assert us.link.broker.url != first
        assert us.link.connections >= 2
        # and a notice sent after the failover goes through as well
        second = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
        )
        async for event in ru.events():
            if isinstance(event, NoticeReceived):
                notices.append(event.incident.id)
                await ru.acknowledge(event.incident.id)
                break
        assert await second.outcome(timeout=30) == "acknowledged"
        await asyncio.sleep(0.5)
        leftovers = ru.events_waiting()
    assert notices == [incident.id, second.id]
    for handle in (incident, second):
        assert [step.input for step in handle.incident.history] == ["notify", "ack"]
    # a copy the cluster delivers again is refused, never taken twice
    assert all(isinstance(e, Rejected) and e.reason == "replay" for e in leftovers)
