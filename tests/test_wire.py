"""The envelope: validation on construction, encoding, and the hardened decoder."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hotline
from hotline.core.body import MAX_BODY_DEPTH
from hotline.core.errors import InvalidEnvelope, MalformedMessage, Reason
from hotline.core.jsonform import envelope_from_json, envelope_to_json
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.wire import (
    ENVELOPE_KEYS,
    Envelope,
    decode_envelope,
    encode_envelope,
    envelope_from_fields,
    unpack_strict,
)
from tests.strategies import envelopes


def notice(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "id": bytes(16),
        "channel": Channel.AIR,
        "kind": Kind.NOTIFY,
        "sender": "US-CAOC",
        "recipients": ("RU-HMEIMIM",),
        "incident": "inc-1",
        "seq": 1,
        "sent_at_ms": 1_500_000_000_000,
        "precedence": Precedence.FLASH,
        "body": {"activity": "strike"},
    }
    fields.update(changes)
    return Envelope(**fields)


@pytest.mark.parametrize("kind", list(Kind))
@given(data=st.data())
def test_every_kind_round_trips_through_bytes_and_json(kind: Kind, data: st.DataObject) -> None:
    envelope = data.draw(envelopes(kind))
    encoded = encode_envelope(envelope)
    assert decode_envelope(encoded) == envelope
    assert encode_envelope(decode_envelope(encoded)) == encoded
    assert envelope_from_json(envelope_to_json(envelope)) == envelope


def test_encoding_uses_the_fixed_key_order() -> None:
    decoded = msgpack.unpackb(encode_envelope(notice()), raw=False)
    assert tuple(decoded) == ENVELOPE_KEYS


def fields_of(**changes: Any) -> dict[str, Any]:
    """The wire-named fields of the standard notice, with changes (untyped data)."""
    fields = dict(msgpack.unpackb(encode_envelope(notice()), raw=False))
    fields.update(changes)
    return fields


def test_untyped_data_is_converted_strings_to_enums() -> None:
    envelope = envelope_from_fields(
        fields_of(ch="ground", k="withdraw", pr="routine", to=["A", "B"])
    )
    assert envelope.channel is Channel.GROUND
    assert envelope.kind is Kind.WITHDRAW
    assert envelope.precedence is Precedence.ROUTINE
    assert envelope.recipients == ("A", "B")


@pytest.mark.parametrize(
    "changes",
    [
        {"channel": "air"},
        {"kind": "ack"},
        {"recipients": ["RU"]},
        {"seq": 1.0},
        {"ref": "00" * 32},
        {"body": [1]},
    ],
)
def test_the_constructor_takes_typed_values(changes: dict[str, Any]) -> None:
    # The message differs between pure Python (names the field) and the compiled build
    # (the annotation check); the type of error does not. Untyped data goes through
    # envelope_from_fields, tested below, which also refuses booleans as integers.
    with pytest.raises(TypeError):
        notice(**changes)


@pytest.mark.skipif(hotline.COMPILED, reason="the compiled build reports the annotation")
def test_pure_python_names_the_field_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"Envelope\.recipients must be tuple, not list"):
        notice(recipients=["RU"])


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"ch": "sea"}, Reason.UNKNOWN_CHANNEL, "ch"),
        ({"ch": 1}, Reason.INVALID_FIELD, "ch"),
        ({"k": "warn"}, Reason.UNKNOWN_KIND, "k"),
        ({"k": b"notify"}, Reason.INVALID_FIELD, "k"),
        ({"pr": "urgent"}, Reason.INVALID_FIELD, "pr"),
        ({"id": "0" * 16}, Reason.INVALID_FIELD, "id"),
        ({"from": 7}, Reason.INVALID_FIELD, "from"),
        ({"to": "RU-HMEIMIM"}, Reason.INVALID_FIELD, "to"),
        ({"to": ["ok", 3]}, Reason.INVALID_FIELD, "to[1]"),
        ({"inc": None}, Reason.INVALID_FIELD, "inc"),
        ({"seq": True}, Reason.INVALID_FIELD, "seq"),
        ({"ts": 1.5}, Reason.INVALID_FIELD, "ts"),
        ({"ref": "digest"}, Reason.INVALID_FIELD, "ref"),
        ({"body": []}, Reason.INVALID_FIELD, "body"),
    ],
)
def test_untyped_data_of_the_wrong_type_gets_a_reason_code(
    changes: dict[str, Any], reason: Reason, field: str
) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        envelope_from_fields(fields_of(**changes))
    assert caught.value.reason is reason
    assert caught.value.field == field


def nested(depth: int) -> dict[str, object]:
    body: dict[str, object] = {"leaf": 1}
    for _ in range(depth - 1):
        body = {"n": body}
    return body


def test_body_depth_limit_is_exact() -> None:
    notice(body=nested(MAX_BODY_DEPTH))
    with pytest.raises(InvalidEnvelope) as caught:
        notice(body=nested(MAX_BODY_DEPTH + 1))
    assert caught.value.reason is Reason.TOO_DEEP


def test_envelopes_are_frozen_values() -> None:
    envelope = notice()
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.seq = 2  # type: ignore[misc]
    assert envelope == notice()
    assert envelope.sent_at == 1_500_000_000.0


def _decode_reason(data: bytes) -> Reason:
    with pytest.raises(MalformedMessage) as caught:
        decode_envelope(data)
    return caught.value.reason


def _fields() -> dict[str, Any]:
    return dict(msgpack.unpackb(encode_envelope(notice()), raw=False))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.pop("seq"), Reason.MISSING_FIELD),
        (lambda f: f.pop("v"), Reason.MISSING_FIELD),
        (lambda f: f.update(extra=1), Reason.UNKNOWN_FIELD),
        (lambda f: f.update(v=3, extra=1), Reason.UNSUPPORTED_VERSION),
        (lambda f: f.update(v="1"), Reason.INVALID_FIELD),
        (lambda f: f.update(to="RU"), Reason.INVALID_FIELD),
        (lambda f: f.update(k="warn"), Reason.UNKNOWN_KIND),
        (lambda f: f.update(ch=1), Reason.INVALID_FIELD),
        (lambda f: f.update(ch="sea"), Reason.UNKNOWN_CHANNEL),
        (lambda f: f.update(body={"t": msgpack.ExtType(3, b"")}), Reason.FORBIDDEN_TYPE),
        (lambda f: f.update(body={"t": msgpack.Timestamp(1)}), Reason.FORBIDDEN_TYPE),
        # an extension is refused before any field check, wherever it sits
        (lambda f: f.update(ts=msgpack.Timestamp(1)), Reason.FORBIDDEN_TYPE),
        (lambda f: f.update(to=[msgpack.ExtType(3, b"")]), Reason.FORBIDDEN_TYPE),
        (lambda f: f.update(v=msgpack.Timestamp(1)), Reason.FORBIDDEN_TYPE),
        (lambda f: f.update(to=[f"S{i}" for i in range(17)]), Reason.FIELD_TOO_LARGE),
        (lambda f: f.update(to=[]), Reason.INVALID_FIELD),
        (lambda f: f.update(to=["X" * 65]), Reason.FIELD_TOO_LARGE),
        # identifier limits count UTF-8 bytes, before the characters are judged
        (lambda f: f.update(inc="é" * 33), Reason.FIELD_TOO_LARGE),
        (lambda f: f.update(inc="é" * 32), Reason.INVALID_FIELD),
        (lambda f: f.update(body={"é" * 33: 1}), Reason.FIELD_TOO_LARGE),
        (lambda f: f.update(body={"x": float("nan")}), Reason.INVALID_FIELD),
        # a key both missing and unknown: missing wins
        (lambda f: f.update(extra=f.pop("seq")), Reason.MISSING_FIELD),
    ],
)
def test_decoder_reports_schema_defects(mutate: Any, reason: Reason) -> None:
    fields = _fields()
    mutate(fields)
    assert _decode_reason(msgpack.packb(fields, use_bin_type=True, datetime=False)) is reason


def test_body_keys_count_utf8_bytes() -> None:
    notice(body={"é" * 32: 1})
    with pytest.raises(InvalidEnvelope) as caught:
        notice(body={"é" * 32 + "x": 1})
    assert caught.value.reason is Reason.FIELD_TOO_LARGE


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (Kind.DISPUTE, {"reason": [1]}),
        (Kind.CORRECT, {"answer": {"a": 1}}),
        (Kind.CORRECT, {"answer": "dispute", "reason": [1]}),
        (Kind.CLOSE, {"outcome": [1]}),
        (Kind.CONFIRM, {"outcome": {}}),
        (Kind.RELAY, {"for": [1]}),
    ],
)
def test_body_rules_refuse_unhashable_values_with_a_reason(
    kind: Kind, body: dict[str, object]
) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        notice(kind=kind, ref=bytes(32), body=body)
    assert caught.value.reason is Reason.INVALID_FIELD


def test_a_relay_for_a_station_over_64_bytes_is_too_large() -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        notice(kind=Kind.RELAY, body={"for": "é" * 33})
    assert caught.value.reason is Reason.FIELD_TOO_LARGE


def test_decoding_defects_win_over_an_extension() -> None:
    ext = b"\xd4\x01\x00"
    timestamp = b"\xd6\xff\x00\x00\x00\x01"
    for value in (ext, timestamp):
        assert _decode_reason(value) is Reason.FORBIDDEN_TYPE
        assert _decode_reason(b"\x92" + value + b"\xc1") is Reason.MALFORMED
        assert _decode_reason(b"\x92" + value) is Reason.TRUNCATED
        assert _decode_reason(b"\x91" + value + b"\xc0") is Reason.TRAILING_BYTES
        assert _decode_reason(b"\x83\xa1a" + value + b"\xa1a\x01\xa1b") is Reason.TRUNCATED
        assert _decode_reason(b"\x82\xa1a" + value + b"\xa1a\x01") is Reason.DUPLICATE_KEY
        # as a map key an extension is a key that is not a string: malformed
        assert _decode_reason(b"\x81" + value + b"\x01") is Reason.MALFORMED
    # a timestamp whose data is no timestamp is not valid msgpack
    assert _decode_reason(b"\xd5\xff\x00\x00") is Reason.MALFORMED


def test_decoder_refuses_structural_tricks() -> None:
    good = encode_envelope(notice())
    assert _decode_reason(good[:-1]) is Reason.TRUNCATED
    assert _decode_reason(good + b"\xc0") is Reason.TRAILING_BYTES
    assert _decode_reason(b"\xc1") is Reason.MALFORMED
    assert _decode_reason(b"\x91" * 3000 + b"\xc0") is Reason.TOO_DEEP
    # at most 1,024 nested containers; a scalar inside the last one is no level
    assert _decode_reason(b"\x91" * 1024 + b"\xc1") is Reason.MALFORMED
    assert _decode_reason(b"\x91" * 1025 + b"\xc0") is Reason.TOO_DEEP
    # a header that asks for more items than the input has bytes: truncated at once
    assert _decode_reason(b"\x93\xc1") is Reason.TRUNCATED
    assert _decode_reason(b"\xdc\x00\x04\xc1") is Reason.MALFORMED
    assert _decode_reason(b"\xdd\xff\xff\xff\xff") is Reason.TRUNCATED
    assert _decode_reason(b"\xa2\xff\xfe") is Reason.MALFORMED
    assert _decode_reason(b"\x81\x01\x01") is Reason.MALFORMED
    assert _decode_reason(b"\x82\xa1a\x01\xa1a\x02") is Reason.DUPLICATE_KEY
    assert _decode_reason(msgpack.packb([1])) is Reason.MALFORMED


def test_duplicate_keys_inside_the_body_are_refused() -> None:
    inner = b"\x82\xa1a\x01\xa1a\x02"
    fields = _fields()
    fields["body"] = {}
    data = msgpack.packb(fields)[:-1] + inner
    assert _decode_reason(data) is Reason.DUPLICATE_KEY


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_untyped_errors(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        decode_envelope(data)
    with contextlib.suppress(MalformedMessage):
        unpack_strict(data, "input")
