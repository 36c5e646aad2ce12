"""Keyring and private key files: round trips, permissions, and errors that name fields."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from hotline.core.errors import KeyringError
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel
from hotline.core.signing import StationKey
from hotline.keyfiles import (
    keyring_from_json,
    keyring_to_json,
    load_keyring,
    load_private_key,
    save_keyring,
    write_private_key,
)

KEY = StationKey(bytes(range(32)), "US-CAOC")


def entry(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "key_id": KEY.key_id.hex(),
        "public_key": KEY.public_key.hex(),
        "party": "US",
        "station": "US-CAOC",
        "channels": ["air", "general-officer"],
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": None,
        "revoked_at": None,
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not ...}


def keyring_text(*entries: dict[str, Any], **top: Any) -> str:
    return json.dumps({"hotline_keyring": 1, "keys": list(entries), **top})


def test_keyring_round_trips_through_its_file_format(tmp_path: Path) -> None:
    keyring = keyring_from_json(keyring_text(entry()))
    key = next(iter(keyring))
    assert key.channels == {Channel.AIR, Channel.GENERAL_OFFICER}
    assert key.not_before == 1_767_225_600.0
    path = tmp_path / "keyring.json"
    save_keyring(path, keyring)
    assert load_keyring(path) == keyring
    assert keyring_to_json(load_keyring(path)) == keyring_to_json(keyring)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{", ""),
        ("[]", ""),
        (json.dumps({"hotline_keyring": 2, "keys": []}), "hotline_keyring"),
        (json.dumps({"hotline_keyring": 1}), "keys"),
        (keyring_text(entry(), extra=1), "extra"),
        (keyring_text(entry(public_key="zz")), "keys[0].public_key"),
        (keyring_text(entry(public_key="00" * 31)), "keys[0].public_key"),
        (keyring_text(entry(key_id="00" * 16)), "keys[0].key_id"),
        (keyring_text(entry(channels=["air", "sea"])), "keys[0].channels[1]"),
        (keyring_text(entry(channels=[])), "keys[0].channels"),
        (keyring_text(entry(station="US/CAOC")), "keys[0].station"),
        (keyring_text(entry(party=...)), "keys[0].party"),
        (keyring_text(entry(not_after="yesterday")), "keys[0].not_after"),
        (keyring_text(entry(not_before="2026-01-01T00:00:00")), "keys[0].not_before"),
        (keyring_text(entry(colour="red")), "keys[0].colour"),
        (keyring_text(entry(), entry()), "keys[1]"),
    ],
)
def test_bad_keyrings_name_the_field(text: str, field: str) -> None:
    with pytest.raises(KeyringError) as caught:
        keyring_from_json(text, "ring.json")
    assert caught.value.source == "ring.json"
    assert caught.value.field == field
    assert str(caught.value).startswith("ring.json")


def test_private_key_file_is_created_0600_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "US-CAOC.key"
    write_private_key(path, KEY, "US")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path)
    assert loaded.key_id == KEY.key_id
    assert loaded.station == "US-CAOC"


def test_private_key_is_not_overwritten_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_private_key(path, KEY, "US")
    other = StationKey(bytes(32), "US-CAOC")
    with pytest.raises(FileExistsError):
        write_private_key(path, other, "US")
    os.chmod(path, 0o644)
    write_private_key(path, other, "US", overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path).key_id == other.key_id


def test_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_private_key(path, KEY, "US")
    os.chmod(path, 0o640)
    with pytest.raises(KeyringError, match="too open"):
        load_private_key(path)


def test_private_key_errors(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    with pytest.raises(KeyringError, match="No such file"):
        load_private_key(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(
        descriptor, json.dumps({"hotline_private_key": 1, "seed": "00", "station": "A"}).encode()
    )
    os.close(descriptor)
    with pytest.raises(KeyringError) as caught:
        load_private_key(path)
    assert caught.value.field == "seed"


def test_keyring_value_rules() -> None:
    trusted = TrustedKey(
        public_key=KEY.public_key, party="US", station="US-CAOC", channels=frozenset({Channel.AIR})
    )
    with pytest.raises(KeyringError):
        Keyring([trusted, trusted])
    keyring = Keyring([trusted])
    assert KEY.key_id in keyring
    assert keyring.get(KEY.key_id) == trusted
    with pytest.raises(KeyError):
        keyring.revoke(bytes(16), 0.0)
    revoked = keyring.revoke(KEY.key_id, 1000.0)
    for again, kept in ((9e9, 1000.0), (10.0, 10.0)):  # never later; earlier, yes
        key = revoked.revoke(KEY.key_id, again).get(KEY.key_id)
        assert key is not None
        assert key.revoked_at == kept
    with pytest.raises(ValueError, match="after"):
        TrustedKey(
            public_key=KEY.public_key,
            party="US",
            station="US-CAOC",
            channels=frozenset({Channel.AIR}),
            not_before=10.0,
            not_after=5.0,
        )
