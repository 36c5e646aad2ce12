"""The station endpoint: what it refuses, and how it reports it."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hotline.core.endpoint import StationEndpoint
from hotline.core.errors import IllegalTransition, Reason, UnknownIncident
from hotline.core.events import Closed, NoticeReceived, Received, Rejected
from hotline.core.incident import Notice
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.wire import Envelope, digest, encode_envelope
from tests.harness import T0, Net, endpoint, make_doctrine, station_key

NOTICE = Notice(activity="flight", starts_at=T0 + 3600)


def three() -> Net:
    return Net.of(["US", "RU", "TR"])


def forged_answer(
    net: Net, station: str, inc: str, ref: bytes, kind: Kind = Kind.ACK, **kw: Any
) -> bytes:
    fields: dict[str, Any] = {
        "id": hashlib.sha256(repr(sorted(kw.items())).encode() + station.encode() + ref).digest()[
            :16
        ],
        "channel": Channel.AIR,
        "kind": kind,
        "sender": station,
        "recipients": ("US-CAOC",),
        "incident": inc,
        "ref": ref,
        "seq": 99,
        "sent_at_ms": int(net.now * 1000),
        "precedence": Precedence.FLASH,
    }
    fields.update(kw)
    return station_key(station).sign(Envelope(**fields))


def notice_digest(net: Net, inc: str) -> bytes:
    return next(
        digest(encode_envelope(env))
        for _, _, env in net.sent
        if env.incident == inc and env.kind is Kind.NOTIFY
    )


def opened(net: Net) -> str:
    incident = net.endpoints["US"].notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=net.now, parties=["RU"]
    )
    net.pump()
    return incident.id


def refusal(events: list[Any]) -> Reason:
    assert len(events) == 1, events
    assert isinstance(events[0], Rejected), events
    return events[0].reason


def test_an_answer_from_a_station_that_was_not_addressed_is_refused() -> None:
    net = three()
    inc = opened(net)
    data = forged_answer(net, "TR-AIR", inc, notice_digest(net, inc))
    assert (
        refusal(net.endpoints["US"].receive(data, net.now, channel=Channel.AIR))
        is Reason.NOT_AN_ADDRESSEE
    )
    assert net.endpoints["US"].originated(inc).is_open


def test_an_ack_binds_to_the_exact_notice() -> None:
    net = three()
    inc = opened(net)
    other = digest(b"a notice that was never sent")
    data = forged_answer(net, "RU-HMEIMIM", inc, other)
    assert refusal(net.endpoints["US"].receive(data, net.now)) is Reason.UNKNOWN_REFERENCE
    good = forged_answer(net, "RU-HMEIMIM", inc, notice_digest(net, inc), seq=100, id=bytes(16))
    events = net.endpoints["US"].receive(good, net.now)
    assert [type(e) for e in events] == [Received, Closed]
    assert net.endpoints["US"].originated(inc).outcome == "acknowledged"


def test_answers_for_unknown_incidents_and_strangers_messages_are_refused() -> None:
    net = three()
    inc = opened(net)
    unknown = forged_answer(net, "RU-HMEIMIM", "US-CAOC:404", notice_digest(net, inc))
    assert refusal(net.endpoints["US"].receive(unknown, net.now)) is Reason.UNKNOWN_INCIDENT
    elsewhere = forged_answer(
        net, "RU-HMEIMIM", inc, notice_digest(net, inc), recipients=("TR-AIR",), seq=5
    )
    assert refusal(net.endpoints["US"].receive(elsewhere, net.now)) is Reason.NOT_ADDRESSED


def test_an_answer_must_come_on_the_line_of_its_notice() -> None:
    net = three()
    inc = opened(net)
    data = forged_answer(
        net,
        "RU-GENSTAFF",
        inc,
        notice_digest(net, inc),
        channel=Channel.GENERAL_OFFICER,
        recipients=("US-CJCS",),
    )
    assert refusal(net.endpoints["US"].receive(data, net.now)) is Reason.NOT_AN_ADDRESSEE


def test_only_the_originator_may_withdraw() -> None:
    net = three()
    inc = opened(net)
    net.run(until=T0 + 5)
    impostor = station_key("TR-AIR").sign(
        Envelope(
            id=bytes(16),
            channel=Channel.AIR,
            kind=Kind.WITHDRAW,
            sender="TR-AIR",
            recipients=("RU-HMEIMIM",),
            incident=inc,
            seq=1,
            sent_at_ms=int(net.now * 1000),
            precedence=Precedence.FLASH,
        )
    )
    assert refusal(net.endpoints["RU"].receive(impostor, net.now)) is Reason.NOT_AN_ADDRESSEE
    assert net.endpoints["RU"].answering(inc).is_open


def test_verification_failures_become_rejected_events() -> None:
    net = three()
    opened(net)
    message = net.sent[0][2]
    data = station_key("US-CAOC").sign(message)
    ru = net.endpoints["RU"]
    events = ru.receive(data, net.now)
    assert isinstance(events[0], Received)
    assert isinstance(events[1], NoticeReceived)
    assert refusal(ru.receive(data, net.now)) is Reason.REPLAY
    assert refusal(ru.receive(data[:-1], net.now)) is Reason.TRUNCATED
    assert refusal(ru.receive(data, net.now, channel=Channel.GROUND)) is Reason.KEY_NOT_FOR_CHANNEL


def test_local_calls_name_incidents_that_exist() -> None:
    net = three()
    inc = opened(net)
    with pytest.raises(UnknownIncident):
        net.endpoints["US"].acknowledge(inc, net.now)  # the originator holds no responder view
    with pytest.raises(UnknownIncident):
        net.endpoints["RU"].withdraw(inc, net.now)
    net.run(until=T0 + 5)
    net.endpoints["RU"].acknowledge(inc, net.now)
    with pytest.raises(IllegalTransition):
        net.endpoints["RU"].acknowledge(inc, net.now)


def test_outgoing_messages_name_their_inbox_topics() -> None:
    net = Net.of(["TR", "US", "RU"])
    net.endpoints["TR"].notify(
        channel=Channel.GROUND, precedence=Precedence.ROUTINE, notice=NOTICE, now=T0
    )
    (message,) = net.endpoints["TR"].outbox()
    assert message.topics == ("hotline/v2/ground/US-GROUND", "hotline/v2/ground/RU-GROUND")
    assert message.envelope.seq == 1
    assert message.digest == digest(encode_envelope(message.envelope))


def test_configuration_errors_are_explained() -> None:
    doctrine = make_doctrine()
    with pytest.raises(ValueError, match="not RU's station"):
        StationEndpoint(
            party="RU",
            keys=[station_key("US-CAOC")],
            keyring=endpoint("US", doctrine).verifier.keyring,
            doctrine=doctrine,
            message_ids=lambda: bytes(16),
        )
    air_only = StationEndpoint(
        party="US",
        keys=[station_key("US-CAOC")],
        keyring=endpoint("US", doctrine).verifier.keyring,
        doctrine=doctrine,
        message_ids=lambda: bytes(16),
    )
    with pytest.raises(ValueError, match="falls back to general-officer"):
        air_only.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=T0)
    with pytest.raises(ValueError, match="no station on the ground line"):
        air_only.notify(channel=Channel.GROUND, precedence=Precedence.FLASH, notice=NOTICE, now=T0)
    us = endpoint("US", doctrine)
    with pytest.raises(ValueError, match="cannot address"):
        us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=T0, parties=["XX"]
        )
    us.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=T0, incident_id="I-1"
    )
    with pytest.raises(ValueError, match="already exists"):
        us.notify(
            channel=Channel.AIR,
            precedence=Precedence.FLASH,
            notice=NOTICE,
            now=T0,
            incident_id="I-1",
        )


def test_timers_are_data() -> None:
    net = Net.of(["US", "RU"])
    us = net.endpoints["US"]
    assert us.next_deadline() is None
    inc = opened(net)
    assert us.next_deadline() == T0 + 600
    assert us.originated(inc).next_deadline() == T0 + 600
    assert us.on_timer(T0 + 599) == []
    assert us.outbox() == []
    us.on_timer(T0 + 600)
    (retry,) = us.outbox()
    assert retry.envelope.body["attempt"] == 2
    assert us.next_deadline() == T0 + 1200
    us.withdraw(inc, T0 + 700)
    (withdrawal,) = us.outbox()
    assert withdrawal.envelope.kind is Kind.WITHDRAW
    assert us.next_deadline() == T0 + 1300  # sent again until the responder confirms


def test_a_durable_memory_of_taken_ids_refuses_a_redelivery_after_verification() -> None:
    doctrine = make_doctrine()
    remembered: set[bytes] = set()
    us = endpoint("US", doctrine)
    ru = StationEndpoint(
        party="RU",
        keys=[station_key("RU-HMEIMIM"), station_key("RU-GENSTAFF")],
        keyring=us.verifier.keyring,
        doctrine=doctrine,
        message_ids=lambda: bytes(16),
        taken=remembered.__contains__,
    )
    us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, now=T0)
    (message,) = us.outbox()
    remembered.add(message.envelope.id)  # as a restarted post's store would know it
    (event,) = ru.receive(message.data, T0 + 1, channel=Channel.AIR)
    assert isinstance(event, Rejected)
    assert event.reason is Reason.REPLAY
    assert "before this post restarted" in event.detail
    assert list(ru.incidents()) == []
    forged = bytearray(message.data)
    forged[-1] ^= 1  # a bad signature is still refused as such: verification comes first
    assert refusal(ru.receive(bytes(forged), T0 + 1)) is Reason.BAD_SIGNATURE
