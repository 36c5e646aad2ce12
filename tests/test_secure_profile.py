"""The secure broker profile (brokers/secure/): TLS with per-post certificates from
``hotline certs issue`` and an ACL that keeps each post to its own inboxes."""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from hotline import Notice, NoticeReceived, Precedence
from hotline.core.names import Channel
from hotline.keyfiles import save_keyring
from hotline.live.brokerauth import acl_text, issue, posts_from_keyring
from hotline.live.mqtt import BrokerAddress, ConnectionFailed, TlsFiles
from hotline.live.station import Station
from hotline.testing import free_port
from tests.harness import keyring_for, make_doctrine, station_key
from tests.posts import start_profile

pytestmark = pytest.mark.broker
DOCTRINE = make_doctrine()
KEYRING = keyring_for(DOCTRINE)
US_STATIONS = "US=US-CAOC,US-CJCS,US-GROUND"


class Broker:
    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.tls = directory / "tls"

    def files(self, post: str) -> TlsFiles:
        return TlsFiles.in_directory(self.tls, post)


def certs_issue(
    hotline_command: str, keyring: Path, directory: Path, post: str
) -> subprocess.CompletedProcess[str]:
    """Run ``hotline certs issue`` as a user would."""
    return subprocess.run(
        [
            hotline_command,
            "certs",
            "issue",
            "--keyring",
            str(keyring),
            "--dir",
            str(directory),
            "--post",
            post,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def secure(hotline_command: str, tmp_path: Path) -> Iterator[Broker]:
    """The profile as a user starts it: certs issued by the command, one script."""
    save_keyring(tmp_path / "keyring.json", KEYRING)
    state = tmp_path / "secure"
    issued = certs_issue(hotline_command, tmp_path / "keyring.json", state / "tls", US_STATIONS)
    assert issued.returncode == 0, issued.stderr
    port = free_port()
    (url,) = start_profile("secure", str(port), str(state))
    assert url == f"mqtts://127.0.0.1:{port}"
    try:
        yield Broker(url, state)
    finally:
        os.kill(int((state / "pid").read_text()), signal.SIGTERM)


def post(broker: Broker, party: str, stations: list[str], name: str) -> Station:
    return Station(
        party=party,
        keys=[station_key(s) for s in stations],
        keyring=KEYRING,
        doctrine=DOCTRINE,
        broker=broker.url,
        tls=broker.files(name),
    )


def raw(
    broker: Broker, files: TlsFiles | None, client_id: str, timeout: float = 5
) -> aiomqtt.Client:
    address = BrokerAddress.parse(broker.url)
    return aiomqtt.Client(
        address.host,
        address.port,
        identifier=client_id,
        tls_context=None if files is None else files.context(),
        timeout=timeout,
    )


async def collect(client: aiomqtt.Client, into: list[str]) -> None:
    async for message in client.messages:
        into.append(message.topic.value)


@pytest.mark.asyncio
async def test_posts_exchange_over_tls_and_cannot_read_other_inboxes(secure: Broker) -> None:
    us = post(secure, "US", ["US-CAOC", "US-CJCS", "US-GROUND"], "US")
    ru = post(secure, "RU", ["RU-HMEIMIM"], "RU-HMEIMIM")
    seen: list[str] = []
    async with us, ru, raw(secure, secure.files("RU-HMEIMIM"), "eavesdropper") as eavesdropper:
        await eavesdropper.subscribe("hotline/v2/air/US-CAOC", qos=1)  # US's inbox
        listening = asyncio.create_task(collect(eavesdropper, seen))
        incident = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
        )
        async for event in ru.events():
            if isinstance(event, NoticeReceived):
                await ru.acknowledge(event.incident.id)
                break
        # the ack went to hotline/v2/air/US-CAOC: US got it, the eavesdropper did not
        assert await incident.outcome(timeout=10) == "acknowledged"
        await asyncio.sleep(0.5)
        listening.cancel()
    assert seen == []


@pytest.mark.asyncio
async def test_a_post_writes_only_to_inboxes_on_its_own_channels(secure: Broker) -> None:
    arrived: list[str] = []
    async with raw(secure, secure.files("US"), "us-listener") as listener:
        await listener.subscribe("hotline/v2/air/US-CAOC", qos=1)
        await listener.subscribe("hotline/v2/general-officer/US-CJCS", qos=1)
        listening = asyncio.create_task(collect(listener, arrived))
        async with raw(secure, secure.files("RU-HMEIMIM"), "ru-writer") as writer:
            # RU-HMEIMIM is on the air line only: the general-officer write is dropped
            await writer.publish("hotline/v2/general-officer/US-CJCS", b"x", qos=1)
            await writer.publish("hotline/v2/air/US-CAOC", b"x", qos=1)
        async with asyncio.timeout(5):
            while not arrived:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        listening.cancel()
    assert arrived == ["hotline/v2/air/US-CAOC"]


@pytest.mark.asyncio
async def test_plain_and_foreign_certificate_connections_are_refused(
    secure: Broker, tmp_path: Path
) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with raw(secure, None, "plain", timeout=1):
            pass
    # a certificate with a good name from another authority
    foreign = tmp_path / "foreign"
    issue(foreign, posts_from_keyring(KEYRING), now=datetime.datetime.now(datetime.UTC))
    impostor = TlsFiles(
        secure.tls / "ca.crt", foreign / "RU-HMEIMIM.crt", foreign / "RU-HMEIMIM.key"
    )
    with pytest.raises(aiomqtt.MqttError):
        async with raw(secure, impostor, "impostor", timeout=1):
            pass


@pytest.mark.asyncio
async def test_a_post_with_the_wrong_tls_identity_is_told_so_at_once(
    secure: Broker, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    issue(foreign, posts_from_keyring(KEYRING), now=datetime.datetime.now(datetime.UTC))
    good = secure.files("RU-HMEIMIM")
    for files, what, hint in (
        # a CA that did not sign the broker's certificate
        (
            TlsFiles(foreign / "ca.crt", good.cert, good.key),
            "TLS: certificate verify failed: ",
            "check the CA file and that the broker's certificate names this host",
        ),
        # the right CA, and a certificate of another authority, which the broker refuses
        (
            TlsFiles(good.ca, foreign / "RU-HMEIMIM.crt", foreign / "RU-HMEIMIM.key"),
            "TLS: the broker refused this post's certificate (",
            "check that the post's certificate and key were issued by the broker's CA",
        ),
    ):
        station = Station(
            party="RU",
            keys=[station_key("RU-HMEIMIM")],
            keyring=KEYRING,
            doctrine=DOCTRINE,
            broker=secure.url,
            tls=files,
            connect_timeout=60,  # retrying cannot help: it must not wait this out
        )
        with pytest.raises(ConnectionFailed) as failed:
            await asyncio.wait_for(station.__aenter__(), 10)
        assert failed.value.reason == "tls"
        assert str(failed.value).startswith(f"cannot connect to {secure.url}: {what}")
        assert hint in str(failed.value)


def test_the_acl_gives_each_post_its_inboxes_and_its_channels() -> None:
    posts = posts_from_keyring(KEYRING, {"US": ["US-CAOC", "US-CJCS"]})
    by_name = {post.name: post for post in posts}
    assert "US-CAOC" not in by_name
    assert "US-GROUND" in by_name
    assert by_name["US"].reads() == ["hotline/v2/air/US-CAOC", "hotline/v2/general-officer/US-CJCS"]
    assert by_name["US"].writes() == ["hotline/v2/air/+", "hotline/v2/general-officer/+"]
    text = acl_text(posts)
    assert (
        "user RU-HMEIMIM\ntopic read hotline/v2/air/RU-HMEIMIM\ntopic write hotline/v2/air/+\n"
        in text
    )


def test_certs_issue_reports_bad_posts_clearly(hotline_command: str, tmp_path: Path) -> None:
    save_keyring(tmp_path / "keyring.json", KEYRING)
    for post, message in (
        ("US=US-CAOC,NOPE", "station NOPE is not in the keyring"),
        ("US", "expected NAME=STATION"),
    ):
        done = certs_issue(hotline_command, tmp_path / "keyring.json", tmp_path / "tls", post)
        assert done.returncode == 2
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "tls").exists()


def test_tls_files_for_a_plain_address_are_refused(tmp_path: Path) -> None:
    from hotline.live.mqtt import TransportError

    with pytest.raises(TransportError, match="use an mqtts:// address"):
        Station(
            party="RU",
            keys=[station_key("RU-HMEIMIM")],
            keyring=KEYRING,
            doctrine=DOCTRINE,
            broker="mqtt://127.0.0.1:1",
            tls=TlsFiles.in_directory(tmp_path, "RU-HMEIMIM"),
        )
