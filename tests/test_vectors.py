"""The protocol vectors: each gives its verdict, they are stable, and every strict prefix
or single-bit flip of a valid one is rejected with a typed error."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hotline.core.errors import INCIDENT_REASONS, Reason, RejectedMessage
from hotline.core.verifier import Verifier
from hotline.vectors import KEYRING, NOW, POLICY, build_vectors, run_vector, vector_text
from tests.conftest import VECTORS

FILES = sorted(VECTORS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector_gives_its_expected_verdict(path: Path) -> None:
    outcome = run_vector(path.name, load(path))
    assert outcome.passed, f"expected {outcome.expected}, got {outcome.actual}"


def test_committed_vectors_match_the_generator_byte_for_byte() -> None:
    built = dict(build_vectors())
    assert sorted(built) == [p.name for p in FILES], "run `make vectors` and commit"
    for name, document in built.items():
        assert (VECTORS / name).read_text() == vector_text(document), name


def test_vectors_cover_every_reason_code() -> None:
    reasons = Counter(load(p)["expected"].get("reason") for p in FILES)
    assert len(FILES) >= 25
    assert reasons[None] >= 5, "several valid vectors"
    missing = {r.value for r in Reason if r not in INCIDENT_REASONS} - set(reasons)
    assert not missing, f"no vector for {sorted(missing)}"


VALID = [p for p in FILES if load(p)["expected"]["valid"]]


def _verify_fresh(data: bytes, channel: str | None) -> None:
    Verifier(KEYRING, POLICY).verify(data, NOW, channel=channel)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_every_strict_prefix_is_rejected(path: Path) -> None:
    document = load(path)
    message = bytes.fromhex(document["message"])
    for end in range(len(message)):
        with pytest.raises(RejectedMessage):
            _verify_fresh(message[:end], document["channel"])


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_every_single_bit_flip_is_rejected(path: Path) -> None:
    document = load(path)
    message = bytearray(bytes.fromhex(document["message"]))
    reasons: Counter[str] = Counter()
    for position in range(len(message)):
        for bit in range(8):
            message[position] ^= 1 << bit
            try:
                _verify_fresh(bytes(message), document["channel"])
            except RejectedMessage as exc:
                reasons[exc.reason] += 1
            else:
                pytest.fail(f"flip of bit {bit} at byte {position} was accepted")
            finally:
                message[position] ^= 1 << bit
    # Most flips land in the signed envelope or the signature itself.
    assert reasons[Reason.BAD_SIGNATURE] > 0.9 * sum(reasons.values())


def test_every_kind_has_a_valid_vector_and_v1_reads_as_v2() -> None:
    from hotline.core.names import Kind

    valid = [load(p)["expected"]["envelope"] for p in VALID]
    assert {envelope["k"] for envelope in valid} == {kind.value for kind in Kind}
    assert {envelope["v"] for envelope in valid} == {1, 2}
