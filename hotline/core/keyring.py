"""The trust store: which public keys speak for which station, on which channels, when.

Trust material is exchanged between parties rather than issued by one of them (as each
side of the Moscow-Washington link supplied the other's one-time tapes), so a keyring is
simply a set of public keys, each bound to a party, a station, the channels it may sign
on and a validity window, and possibly revoked. The file format lives outside the core
(`hotline.keyfiles`); this module holds the in-memory value and its rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from hotline.core.errors import KeyringError, Reason, UntrustedKey
from hotline.core.names import Channel, check_station_id
from hotline.core.signing import PUBLIC_KEY_BYTES, key_id_of


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedKey:
    """A public key and what it is trusted for.

    Args:
        public_key: raw 32-byte Ed25519 public key.
        party: the party that owns the station (for example ``"US"``).
        station: the station id the key signs as.
        channels: the channels the key may sign on.
        not_before: first instant (Unix seconds) the key is valid, or None.
        not_after: instant from which the key is expired, or None.
        revoked_at: instant from which the key is revoked, or None.

    Raises:
        ValueError: a field is out of range.
    """

    public_key: bytes
    party: str
    station: str
    channels: frozenset[Channel]
    not_before: float | None = None
    not_after: float | None = None
    revoked_at: float | None = None
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, bytes) or len(self.public_key) != PUBLIC_KEY_BYTES:
            raise ValueError("public_key must be 32 raw bytes")
        check_station_id(self.party, "party")
        check_station_id(self.station, "station")
        channels = frozenset(Channel(channel) for channel in self.channels)
        if not channels:
            raise ValueError("a key must be allowed on at least one channel")
        object.__setattr__(self, "channels", channels)
        if (
            self.not_before is not None
            and self.not_after is not None
            and self.not_after <= self.not_before
        ):
            raise ValueError("not_after must come after not_before")
        object.__setattr__(self, "key_id", key_id_of(self.public_key))

    def check_usable(self, now: float) -> None:
        """Raise `UntrustedKey` unless the key is valid and unrevoked at ``now``."""
        if self.revoked_at is not None and now >= self.revoked_at:
            raise UntrustedKey(Reason.KEY_REVOKED, f"key {self.key_id.hex()} is revoked")
        if self.not_before is not None and now < self.not_before:
            raise UntrustedKey(Reason.KEY_NOT_YET_VALID, f"key {self.key_id.hex()} not yet valid")
        if self.not_after is not None and now >= self.not_after:
            raise UntrustedKey(Reason.KEY_EXPIRED, f"key {self.key_id.hex()} has expired")


class Keyring:
    """An immutable set of trusted keys, indexed by key id.

    Args:
        keys: the trusted keys; two entries with one key id are an error.

    Raises:
        KeyringError: a key id appears twice.
    """

    __slots__ = ("_entries",)

    def __init__(self, keys: Iterable[TrustedKey] = ()) -> None:
        self._entries: dict[bytes, TrustedKey] = {}
        for index, key in enumerate(keys):
            if key.key_id in self._entries:
                raise KeyringError("keyring", f"keys[{index}]", f"duplicate key {key.key_id.hex()}")
            self._entries[key.key_id] = key

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[TrustedKey]:
        return iter(self._entries.values())

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries

    def get(self, key_id: bytes) -> TrustedKey | None:
        """The trusted key with this id, or None."""
        return self._entries.get(key_id)

    def lookup(self, key_id: bytes) -> TrustedKey:
        """The trusted key with this id; `UntrustedKey` if unknown."""
        key = self._entries.get(key_id)
        if key is None:
            raise UntrustedKey(Reason.UNKNOWN_KEY, f"key {key_id.hex()} is not in the keyring")
        return key

    def with_key(self, key: TrustedKey) -> Keyring:
        """A keyring with ``key`` added (`KeyringError` if its id is present)."""
        return Keyring([*self, key])

    def unrevoke(self, key_id: bytes) -> Keyring:
        """A keyring in which ``key_id`` is no longer revoked (`KeyError` if unknown):
        the one way a revocation is undone (`revoke` never moves one later)."""
        if key_id not in self._entries:
            raise KeyError(key_id.hex())
        return Keyring(
            replace(key, revoked_at=None) if key.key_id == key_id else key for key in self
        )

    def revoke(self, key_id: bytes, at: float) -> Keyring:
        """A keyring in which ``key_id`` is revoked from ``at`` on (`KeyError` if unknown).

        A revocation only ever moves earlier: revoking an already revoked key at a
        later time keeps the earlier revocation (a key once revoked never turns valid
        again by being revoked again).
        """
        if key_id not in self._entries:
            raise KeyError(key_id.hex())
        current = self._entries[key_id].revoked_at
        when = at if current is None else min(current, at)
        return Keyring(
            replace(key, revoked_at=when) if key.key_id == key_id else key for key in self
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Keyring):
            return NotImplemented
        return sorted(self, key=_by_id) == sorted(other, key=_by_id)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Keyring({len(self)} keys)"


def _by_id(key: TrustedKey) -> bytes:
    return key.key_id
