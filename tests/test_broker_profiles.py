"""Broker profiles (brokers/): each starts on loopback with one script and carries hotline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import aiomqtt
import pytest

from hotline.core.incident import Notice
from hotline.core.names import Channel, Precedence
from hotline.live.exercise import run_live
from hotline.live.mqtt import BrokerAddress
from hotline.sim.scenario import load_scenario
from hotline.testing import free_port
from tests.conftest import REPO
from tests.posts import answer_every_notice, post, start_profile

pytestmark = pytest.mark.broker


@pytest.mark.slow
def test_dev_profile_starts_with_one_script_and_carries_an_exercise(tmp_path: Path) -> None:
    port = free_port()
    (url,) = start_profile("dev", str(port), str(tmp_path / "dev"))
    assert url == f"mqtt://127.0.0.1:{port}"
    pid = int((tmp_path / "dev" / "pid").read_text())
    try:
        config = (tmp_path / "dev" / "mosquitto.conf").read_text()
        assert "max_queued_messages 100000" in config
        assert "persistence true" in config
        scenario = load_scenario(REPO / "examples" / "tutorial.toml")
        result = asyncio.run(run_live(scenario, url, time_scale=1200.0))
        assert {i["outcome"] for i in result["incidents"]} == {"acknowledged"}
        assert asyncio.run(oversize_is_cut_off(port)) == [b"a message-sized publish"]
    finally:
        os.kill(pid, signal.SIGTERM)


async def bridged(here: str, there: str) -> None:
    """Wait until the bridge carries a probe from ``here`` to ``there``."""
    near, far = BrokerAddress.parse(here), BrokerAddress.parse(there)
    arrived = asyncio.Event()

    async def listen(client: aiomqtt.Client) -> None:
        async for _ in client.messages:
            arrived.set()

    async with aiomqtt.Client(far.host, far.port) as listener:
        await listener.subscribe("hotline/v2/probe/#", qos=1)
        listening = asyncio.create_task(listen(listener))
        async with aiomqtt.Client(near.host, near.port) as speaker, asyncio.timeout(15):
            while not arrived.is_set():
                await speaker.publish("hotline/v2/probe/bridge", b"?", qos=1)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await arrived.wait()
        listening.cancel()


@pytest.mark.asyncio
async def test_a_notice_crosses_the_bridge_between_national_brokers(tmp_path: Path) -> None:
    state = tmp_path / "bridged"
    us_broker, ru_broker = start_profile("bridged", str(free_port()), str(free_port()), str(state))
    try:
        async with post("US", us_broker) as us, post("RU", ru_broker) as ru:
            responder = asyncio.create_task(answer_every_notice(ru))
            await bridged(us_broker, ru_broker)
            incident = await us.notify(
                channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
            )
            # the notice went US broker -> bridge -> RU broker, the ack the other way
            assert await incident.outcome(timeout=10) == "acknowledged"
            await asyncio.sleep(0.3)
            responder.cancel()
            # one copy each way: the bridge sends nothing back where it came from
            assert (us.copies_sent, ru.copies_received) == (1, 1)
            assert (ru.copies_sent, us.copies_received) == (1, 1)
    finally:
        for broker in ("a", "b"):
            os.kill(int((state / broker / "pid").read_text()), signal.SIGTERM)


async def oversize_is_cut_off(port: int) -> list[bytes]:
    """Publish 5 MB of junk, then a small message; return what a subscriber got."""
    got: list[bytes] = []
    async with aiomqtt.Client("127.0.0.1", port) as listener:
        await listener.subscribe("hotline/v2/air/RU-HMEIMIM", qos=1)
        with contextlib.suppress(aiomqtt.MqttError):  # the broker cuts the sender off
            async with aiomqtt.Client("127.0.0.1", port) as junk:
                await junk.publish("hotline/v2/air/RU-HMEIMIM", b"\0" * 5_000_000, qos=1)
        async with aiomqtt.Client("127.0.0.1", port) as sender:
            await sender.publish("hotline/v2/air/RU-HMEIMIM", b"a message-sized publish", qos=1)
        async with asyncio.timeout(5):
            async for message in listener.messages:
                got.append(bytes(message.payload))
                break
    return got
