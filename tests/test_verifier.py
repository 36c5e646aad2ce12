"""The verifier: step order, key rules, freshness window, and bounded replay memory."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.core.errors import (
    BadSignature,
    InvalidEnvelope,
    MalformedMessage,
    Reason,
    RejectedMessage,
    ReplayedMessage,
    UntimelyMessage,
    UntrustedKey,
)
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.signing import StationKey, check_signature, split_signed
from hotline.core.verifier import Verifier, VerifierPolicy
from hotline.core.wire import Envelope, encode_envelope

NOW = 2_000_000_000.0
SENDER = StationKey(bytes(range(32)), "US-CAOC")
OTHER = StationKey(bytes(range(1, 33)), "RU-HMEIMIM")


def trusted(key: StationKey, **changes: object) -> TrustedKey:
    fields: dict[str, object] = {
        "public_key": key.public_key,
        "party": key.station[:2],
        "station": key.station,
        "channels": frozenset({Channel.AIR}),
    }
    fields.update(changes)
    return TrustedKey(**fields)  # type: ignore[arg-type]


KEYRING = Keyring([trusted(SENDER), trusted(OTHER)])


def message(
    seq: int = 1, *, at: float = NOW, ident: int | None = None, **changes: object
) -> Envelope:
    fields: dict[str, object] = {
        "id": (ident if ident is not None else seq).to_bytes(16, "big"),
        "channel": Channel.AIR,
        "kind": Kind.NOTIFY,
        "sender": "US-CAOC",
        "recipients": ("RU-HMEIMIM",),
        "incident": "inc-1",
        "seq": seq,
        "sent_at_ms": int(at * 1000),
        "precedence": Precedence.IMMEDIATE,
    }
    fields.update(changes)
    return Envelope(**fields)  # type: ignore[arg-type]


def reason_of(verifier: Verifier, data: bytes, now: float = NOW) -> Reason:
    with pytest.raises(RejectedMessage) as caught:
        verifier.verify(data, now)
    return caught.value.reason


def test_valid_message_yields_envelope_key_and_digest() -> None:
    data = SENDER.sign(message())
    verified = Verifier(KEYRING).verify(data, NOW, channel=Channel.AIR)
    assert verified.envelope == message()
    assert verified.key.station == "US-CAOC"
    assert verified.data == data
    assert verified.envelope_bytes == encode_envelope(message())
    assert len(verified.digest) == 32


def test_signing_for_another_station_is_refused_before_it_leaves() -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        OTHER.sign(message())
    assert caught.value.reason is Reason.SENDER_MISMATCH


def test_order_key_trust_before_signature() -> None:
    """A message from an unknown key is reported as such even if its signature is bad."""
    stranger = StationKey(bytes(32), "US-CAOC")
    data = bytearray(stranger.sign(message()))
    data[-1] ^= 1
    with pytest.raises(UntrustedKey) as caught:
        Verifier(KEYRING).verify(bytes(data), NOW)
    assert caught.value.reason is Reason.UNKNOWN_KEY


def test_signature_checked_before_the_envelope_is_decoded() -> None:
    data = SENDER.sign_bytes(b"\xc1 not msgpack at all")
    data = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(BadSignature):
        Verifier(KEYRING).verify(data, NOW)


def test_size_limit_is_configurable_below_the_protocol_maximum() -> None:
    data = SENDER.sign(message(body={"text": "x" * 500}))
    small = Verifier(KEYRING, VerifierPolicy(max_message_bytes=400))
    assert reason_of(small, data) is Reason.TOO_LARGE
    with pytest.raises(ValueError, match="max_message_bytes"):
        VerifierPolicy(max_message_bytes=70_000)


@pytest.mark.parametrize(
    ("changes", "now", "reason"),
    [
        ({"revoked_at": NOW}, NOW, Reason.KEY_REVOKED),
        ({"revoked_at": NOW + 1}, NOW, None),
        ({"not_before": NOW + 1}, NOW, Reason.KEY_NOT_YET_VALID),
        ({"not_after": NOW}, NOW, Reason.KEY_EXPIRED),
        ({"not_before": NOW - 10, "not_after": NOW + 10}, NOW, None),
        ({"channels": frozenset({Channel.GROUND})}, NOW, Reason.KEY_NOT_FOR_CHANNEL),
    ],
)
def test_key_validity_rules(changes: dict[str, object], now: float, reason: Reason | None) -> None:
    verifier = Verifier(Keyring([trusted(SENDER, **changes)]))
    data = SENDER.sign(message())
    if reason is None:
        verifier.verify(data, now)
    else:
        assert reason_of(verifier, data, now) is reason


def test_swapping_the_keyring_applies_a_revocation_immediately() -> None:
    verifier = Verifier(KEYRING)
    verifier.verify(SENDER.sign(message(1)), NOW)
    verifier.keyring = KEYRING.revoke(SENDER.key_id, NOW)
    assert reason_of(verifier, SENDER.sign(message(2)), NOW) is Reason.KEY_REVOKED


def test_freshness_window_edges() -> None:
    policy = VerifierPolicy(max_age=60.0, max_skew=5.0)
    verifier = Verifier(KEYRING, policy)
    verifier.verify(SENDER.sign(message(1, at=NOW - 65.0)), NOW)
    verifier.verify(SENDER.sign(message(2, at=NOW + 5.0)), NOW)
    assert reason_of(verifier, SENDER.sign(message(3, at=NOW - 65.001)), NOW) is Reason.STALE
    assert reason_of(verifier, SENDER.sign(message(4, at=NOW + 5.001)), NOW) is Reason.FUTURE


def test_a_rejected_message_leaves_no_trace_in_replay_memory() -> None:
    verifier = Verifier(KEYRING)
    late = SENDER.sign(message(5, at=NOW + 1000))
    assert reason_of(verifier, late) is Reason.FUTURE
    assert verifier.remembered() == (0, 0)
    verifier.verify(late, NOW + 1000)  # the same bytes, once their time has come


def test_replay_of_the_same_message_is_refused() -> None:
    verifier = Verifier(KEYRING)
    data = SENDER.sign(message(1))
    verifier.verify(data, NOW)
    with pytest.raises(ReplayedMessage) as caught:
        verifier.verify(data, NOW + 1)
    assert caught.value.reason is Reason.REPLAY


def test_out_of_order_delivery_within_the_window_is_accepted_once() -> None:
    verifier = Verifier(KEYRING, VerifierPolicy(replay_window=8))
    for seq in (5, 3, 8, 4, 1):
        verifier.verify(SENDER.sign(message(seq)), NOW)
    assert reason_of(verifier, SENDER.sign(message(3, ident=99))) is Reason.SEQUENCE_REGRESSION
    verifier.verify(SENDER.sign(message(2)), NOW)  # never seen, still inside the window
    assert verifier.remembered() == (1, 6)


def test_sequence_at_or_below_the_window_floor_is_refused() -> None:
    verifier = Verifier(KEYRING, VerifierPolicy(replay_window=8))
    verifier.verify(SENDER.sign(message(20)), NOW)
    verifier.verify(SENDER.sign(message(13)), NOW)  # 20 - 7: the oldest slot
    assert reason_of(verifier, SENDER.sign(message(12))) is Reason.SEQUENCE_REGRESSION


def test_huge_sequence_jump_clears_the_window_without_blowing_up() -> None:
    verifier = Verifier(KEYRING, VerifierPolicy(replay_window=1024))
    verifier.verify(SENDER.sign(message(1)), NOW)
    verifier.verify(SENDER.sign(message(2**52)), NOW)
    assert reason_of(verifier, SENDER.sign(message(2))) is Reason.SEQUENCE_REGRESSION
    verifier.verify(SENDER.sign(message(2**52 - 5)), NOW)


def test_senders_have_independent_windows() -> None:
    verifier = Verifier(KEYRING)
    verifier.verify(SENDER.sign(message(10)), NOW)
    verifier.verify(
        OTHER.sign(message(10, ident=1000, sender="RU-HMEIMIM", recipients=("US-CAOC",))), NOW
    )
    assert verifier.remembered() == (2, 2)


def test_ids_are_forgotten_once_the_freshness_check_covers_them() -> None:
    policy = VerifierPolicy(max_age=60.0, max_skew=0.0)
    verifier = Verifier(KEYRING, policy)
    data = SENDER.sign(message(1))
    verifier.verify(data, NOW)
    verifier.verify(SENDER.sign(message(2, at=NOW + 61)), NOW + 61)
    assert verifier.remembered() == (1, 1)
    # The forgotten message is still refused: now as stale.
    assert reason_of(verifier, data, NOW + 61) is Reason.STALE


def test_id_memory_is_capped_and_replay_still_refused() -> None:
    verifier = Verifier(KEYRING, VerifierPolicy(max_remembered_ids=3))
    sent = [SENDER.sign(message(seq)) for seq in range(1, 7)]
    for data in sent:
        verifier.verify(data, NOW)
    assert verifier.remembered() == (1, 3)
    # The first message's id was forgotten, but its sequence number was not.
    assert reason_of(verifier, sent[0]) is Reason.SEQUENCE_REGRESSION
    assert reason_of(verifier, sent[-1]) is Reason.REPLAY


@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=60))
def test_no_sequence_number_is_ever_accepted_twice(seqs: list[int]) -> None:
    verifier = Verifier(KEYRING, VerifierPolicy(replay_window=64))
    accepted: set[int] = set()
    for index, seq in enumerate(seqs):
        try:
            verifier.verify(SENDER.sign(message(seq, ident=10_000 + index)), NOW)
        except ReplayedMessage:
            continue
        assert seq not in accepted
        accepted.add(seq)


def test_every_rejection_is_a_typed_error_with_a_known_reason() -> None:
    verifier = Verifier(KEYRING)
    bad_inputs = [
        b"",
        b"\x93",
        b"\x90",
        SENDER.sign(message())[:-3],
        b"\x93\xc4\x00\xc4\x00\xc4\x00",
    ]
    for data in bad_inputs:
        with pytest.raises(MalformedMessage) as caught:
            verifier.verify(data, NOW)
        assert caught.value.reason in set(Reason)


def test_split_signed_returns_the_exact_signed_bytes() -> None:
    envelope_bytes = encode_envelope(message())
    parts = split_signed(SENDER.sign_bytes(envelope_bytes))
    assert parts.envelope_bytes == envelope_bytes
    assert parts.key_id == SENDER.key_id
    assert len(parts.signature) == 64


def test_untimely_and_trust_errors_share_the_rejection_root() -> None:
    assert issubclass(UntimelyMessage, Exception)
    verifier = Verifier(KEYRING)
    data = SENDER.sign(replace(message(), sent_at_ms=0))
    with pytest.raises(UntimelyMessage):
        verifier.verify(data, NOW)


IDENTITY = bytes([1]) + bytes(31)
BASE_POINT = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")


def hand_signed(envelope_bytes: bytes, key_id: bytes, signature: bytes) -> bytes:
    header = b"\x93\xc4" + bytes([len(envelope_bytes)])
    return header + envelope_bytes + b"\xc4\x10" + key_id + b"\xc4\x40" + signature


def test_a_small_order_key_cannot_verify_a_made_up_signature() -> None:
    """With the identity as public key, R = B and S = 1 meet the cofactorless equation
    for any message; the key's small order is what refuses it (PROTOCOL.md 2.1)."""
    weak = TrustedKey(
        public_key=IDENTITY, party="US", station="US-CAOC", channels=frozenset({Channel.AIR})
    )
    data = hand_signed(
        encode_envelope(message()), weak.key_id, BASE_POINT + (1).to_bytes(32, "little")
    )
    with pytest.raises(BadSignature):
        Verifier(Keyring([weak])).verify(data, NOW)


def test_every_signature_check_refuses_the_small_order_forgery() -> None:
    # the journal and evidence checks call the same function as the verifier
    data = hand_signed(
        encode_envelope(message()), bytes(16), BASE_POINT + (1).to_bytes(32, "little")
    )
    with pytest.raises(BadSignature, match="small order"):
        check_signature(IDENTITY, split_signed(data))


def test_s_must_be_reduced_and_r_must_not_be_of_small_order() -> None:
    data = SENDER.sign(message())
    parts = split_signed(data)
    order = 2**252 + 27742317777372353535851937790883648493
    unreduced = int.from_bytes(parts.signature[32:], "little") + order
    for signature in (
        parts.signature[:32] + unreduced.to_bytes(32, "little"),
        IDENTITY + parts.signature[32:],
    ):
        forged = hand_signed(parts.envelope_bytes, parts.key_id, signature)
        assert reason_of(Verifier(KEYRING), forged) is Reason.BAD_SIGNATURE


def test_an_arrival_channel_that_is_no_channel_is_allowed_for_no_key() -> None:
    data = SENDER.sign(message())
    with pytest.raises(UntrustedKey) as caught:
        Verifier(KEYRING).verify(data, NOW, channel="sea")
    assert caught.value.reason is Reason.KEY_NOT_FOR_CHANNEL
    assert Verifier(KEYRING).verify(data, NOW, channel="air").envelope == message()
