"""Key files on disk: the keyring (public halves, shareable) and private station keys.

A keyring file is JSON::

    {"hotline_keyring": 1,
     "keys": [{"key_id": "<32 hex>", "public_key": "<64 hex>", "party": "US",
               "station": "US-CAOC", "channels": ["air", "general-officer"],
               "not_before": "2026-01-01T00:00:00Z", "not_after": null, "revoked_at": null}]}

Times are RFC 3339 strings (or Unix seconds); ``key_id`` may be left out and is checked
against the public key when present. A keyring may also hold ``log``: the revocations
made and undone in it, oldest first (``{"act": "revoke" or "unrevoke", "key_id": ...,
"station": ..., "revoked_at": ..., "done_at": ..., "reason": ...}``); every command that
rewrites the file keeps it, so undoing a revocation is never silent.

A private key file is JSON too, holds the station's 32-byte seed, and is created with
mode 0600; loading one that others can read is refused, as ssh does.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hotline.audit.journal import keep_earlier
from hotline.core.errors import KeyringError
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel
from hotline.core.signing import StationKey, key_id_of
from hotline.outputs import write_output
from hotline.timestamps import format_instant, parse_instant

KEYRING_FORMAT = 1
PRIVATE_KEY_FORMAT = 1
_KEY_FIELDS = frozenset(
    {
        "key_id",
        "public_key",
        "party",
        "station",
        "channels",
        "not_before",
        "not_after",
        "revoked_at",
    }
)


def keyring_from_json(text: str | bytes, source: str = "keyring") -> Keyring:
    """Parse a keyring document.

    Raises:
        KeyringError: naming ``source``, the field path and what is wrong.
    """
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyringError(source, "", f"not JSON ({exc})") from None
    return keyring_from_document(document, source)


def keyring_from_document(document: object, source: str = "keyring") -> Keyring:
    """Build a keyring from an already-parsed JSON document (see `keyring_from_json`)."""
    if not isinstance(document, dict):
        raise KeyringError(source, "", "a keyring is a JSON object")
    if document.get("hotline_keyring") != KEYRING_FORMAT:
        raise KeyringError(source, "hotline_keyring", f"must be {KEYRING_FORMAT} (format version)")
    unknown = set(document) - {"hotline_keyring", "keys", "log"}
    if unknown:
        raise KeyringError(source, sorted(unknown)[0], "unknown field")
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise KeyringError(source, "keys", "must be a list")
    keys = [_trusted_key(entry, source, f"keys[{index}]") for index, entry in enumerate(entries)]
    seen: dict[bytes, int] = {}
    for index, key in enumerate(keys):
        if key.key_id in seen:
            raise KeyringError(source, f"keys[{index}]", f"same key as keys[{seen[key.key_id]}]")
        seen[key.key_id] = index
    return Keyring(keys)


def _trusted_key(entry: object, source: str, where: str) -> TrustedKey:
    if not isinstance(entry, dict):
        raise KeyringError(source, where, "a key entry is a JSON object")
    unknown = set(entry) - _KEY_FIELDS
    if unknown:
        raise KeyringError(source, f"{where}.{sorted(unknown)[0]}", "unknown field")
    for name in ("public_key", "party", "station", "channels"):
        if name not in entry:
            raise KeyringError(source, f"{where}.{name}", "required")
    public_key = _hex_field(entry, "public_key", 32, source, where)
    if "key_id" in entry:
        expected = key_id_of(public_key)
        if _hex_field(entry, "key_id", 16, source, where) != expected:
            raise KeyringError(
                source, f"{where}.key_id", f"does not match the public key ({expected.hex()})"
            )
    channels = entry["channels"]
    if not isinstance(channels, list) or not channels:
        raise KeyringError(source, f"{where}.channels", "must be a non-empty list")
    for index, channel in enumerate(channels):
        if channel not in Channel.__members__.values():
            raise KeyringError(
                source,
                f"{where}.channels[{index}]",
                f"{channel!r} is not one of {', '.join(Channel)}",
            )
    times = {name: _instant(entry, name, source, where) for name in _TIME_FIELDS}
    try:
        return TrustedKey(
            public_key=public_key,
            party=entry["party"],
            station=entry["station"],
            channels=frozenset(Channel(c) for c in channels),
            **times,
        )
    except ValueError as exc:
        field = getattr(exc, "field", "")
        raise KeyringError(source, f"{where}.{field}" if field else where, str(exc)) from None


_TIME_FIELDS = ("not_before", "not_after", "revoked_at")


def _hex_field(entry: Mapping[str, Any], name: str, size: int, source: str, where: str) -> bytes:
    value = entry[name]
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != size:
        raise KeyringError(source, f"{where}.{name}", f"must be {size} bytes as hex")
    return raw


def _instant(entry: Mapping[str, Any], name: str, source: str, where: str) -> float | None:
    value = entry.get(name)
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError("a time, not a boolean")
        return float(value) if isinstance(value, int | float) else parse_instant(str(value))
    except ValueError as exc:
        raise KeyringError(source, f"{where}.{name}", str(exc)) from None


def keyring_to_document(keyring: Keyring) -> dict[str, Any]:
    """The JSON-ready document of ``keyring``, keys sorted by station then key id."""
    ordered = sorted(keyring, key=lambda key: (key.station, key.key_id))
    return {"hotline_keyring": KEYRING_FORMAT, "keys": [_key_document(key) for key in ordered]}


def _key_document(key: TrustedKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id.hex(),
        "public_key": key.public_key.hex(),
        "party": key.party,
        "station": key.station,
        "channels": sorted(key.channels),
        **{
            name: None if (value := getattr(key, name)) is None else format_instant(value)
            for name in _TIME_FIELDS
        },
    }


def keyring_to_json(keyring: Keyring) -> str:
    """Serialise ``keyring`` as the keyring file format (stable, sorted)."""
    return json.dumps(keyring_to_document(keyring), indent=2) + "\n"


def load_keyring(path: Path) -> Keyring:
    """Read a keyring file. Raises `KeyringError` naming the file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise KeyringError(str(path), "", exc.strerror or str(exc)) from None
    return keyring_from_json(text, str(path))


def load_log(path: Path) -> list[dict[str, Any]]:
    """The revocation log of the keyring file at ``path`` (empty: none, or no file).

    Raises:
        KeyringError: the log is not a list of entries.
    """
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return []  # load_keyring reports what is wrong with the file
    log = document.get("log", []) if isinstance(document, dict) else []
    if not isinstance(log, list) or not all(isinstance(entry, dict) for entry in log):
        raise KeyringError(str(path), "log", "must be a list of entries")
    return log


def save_keyring(path: Path, keyring: Keyring, *, logged: Mapping[str, Any] | None = None) -> None:
    """Write a keyring file atomically (a reader never sees half a file), keeping the
    log the file held, with ``logged`` added at its end."""
    log = load_log(path)
    if logged is not None:
        log.append(dict(logged))
    document = keyring_to_document(keyring)
    if log:
        document["log"] = log
    write_output(path, (json.dumps(document, indent=2) + "\n").encode(), force=True)


def write_private_key(path: Path, key: StationKey, party: str, *, overwrite: bool = False) -> None:
    """Write ``key`` to ``path`` with mode 0600; refuse to replace a file unless told.

    Raises:
        FileExistsError: the file exists and ``overwrite`` is false.
    """
    document = {
        "hotline_private_key": PRIVATE_KEY_FORMAT,
        "station": key.station,
        "party": party,
        "key_id": key.key_id.hex(),
        "seed": key.seed().hex(),
    }
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")


def load_private_key(path: Path) -> StationKey:
    """Read a private key file.

    Raises:
        KeyringError: unreadable, readable by others than its owner, or malformed.
    """
    source = str(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise KeyringError(source, "", exc.strerror or str(exc)) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(
            source, "", f"permissions {stat.S_IMODE(mode):04o} are too open (chmod 600 it)"
        )
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KeyringError(source, "", f"not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("hotline_private_key") != PRIVATE_KEY_FORMAT:
        raise KeyringError(source, "hotline_private_key", "not a hotline private key file")
    seed_hex = document.get("seed")
    try:
        seed = bytes.fromhex(seed_hex) if isinstance(seed_hex, str) else b""
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise KeyringError(source, "seed", "must be 32 bytes as hex")
    try:
        key = StationKey(seed, document.get("station"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise KeyringError(source, "station", str(exc)) from None
    recorded = document.get("key_id")
    if recorded is not None and recorded != key.key_id.hex():
        raise KeyringError(source, "key_id", "does not match the seed")
    return key


#: the keyring a journaled exercise writes beside its journals
RUN_KEYRING = "published.keyring.json"


def save_run_keys(
    directory: Path,
    keys: Mapping[str, StationKey],
    stations: Mapping[str, tuple[str, frozenset[Channel]]],
) -> list[Path]:
    """Write an exercise's keys beside its journals: `RUN_KEYRING` (the public halves,
    what each party would publish) and ``STATION.key`` for each station (its private
    key, to sign the post's evidence bundles with). Files an earlier run left there are
    kept as ``NAME.1``, ``NAME.2``... as its journals are. Returns the files written.
    """
    keyring = Keyring(
        TrustedKey(public_key=keys[s].public_key, party=p, station=s, channels=c)
        for s, (p, c) in stations.items()
    )
    written = [directory / RUN_KEYRING]
    keep_earlier(written[0])
    save_keyring(written[0], keyring)
    for station, (party, _) in sorted(stations.items()):
        path = directory / f"{station}.key"
        keep_earlier(path)
        write_private_key(path, keys[station], party)
        written.append(path)
    return written
