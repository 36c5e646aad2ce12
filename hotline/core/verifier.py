"""Verification of incoming signed messages, sans-IO: bytes and ``now`` in, a verdict out.

Theory of operation: `Verifier.verify` runs the steps of protocol/PROTOCOL.md in their
normative order, cheapest and least trusting first, and raises a `RejectedMessage`
carrying the reason code of the first step that fails:

 1. size limit                          too-large
 2. outer structure                     truncated, trailing-bytes, malformed
 3. key id known, usable now            unknown-key, key-revoked, key-expired, key-not-yet-valid
    and allowed on the arrival channel  key-not-for-channel (when the caller knows it)
 4. Ed25519 signature (cofactorless;   bad-signature
    small-order and non-canonical key or R refused, S < L)
 5. hardened envelope decoding, schema  malformed, too-deep, ..., unsupported-version
 6. binding of envelope to key          key-not-for-channel, sender-mismatch, channel-mismatch
 7. freshness                           stale, future
 8. replay                              replay, sequence-regression

Only a message that passes every step changes the verifier's state (its replay memory).

Replay memory, and what it costs. Two mechanisms, each bounded:

* Per sender station, a sliding window over sequence numbers (as IPsec's anti-replay
  window): the highest sequence number accepted and a bitmap of the ``replay_window``
  numbers below it. A number at or below ``highest - replay_window``, or one already
  set in the bitmap, is a ``sequence-regression``. Cost: about ``replay_window / 8``
  bytes plus ~200 bytes per sender, and senders are bounded by the keyring (only a
  trusted key gets this far). This window alone guarantees that no replay is accepted.
* Message ids accepted within the freshness window, each forgotten once its sender time
  is old enough that the freshness check rejects it anyway. A replay of a remembered
  id is reported as ``replay``. Cost: about 200 bytes per remembered id, at most
  ``max_remembered_ids`` ids; past that cap the id expiring soonest is forgotten first
  (the sequence window still rejects the replay, as ``sequence-regression``).

The guarantee assumes ``now`` does not run backwards between calls.

The signature rule is libsodium's (PROTOCOL.md 2.1): the cofactorless equation, with S
below the group order and neither the public key nor R one of the small-order points.
`hotline.core.signing.check_signature` verifies with libsodium and makes the point and
S checks itself first, so the rule holds even under a libsodium built without them:
without them a small-order key left in a keyring would accept a forged signature over
any message.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import NamedTuple

from hotline.core.errors import Reason as R
from hotline.core.errors import ReplayedMessage, UntimelyMessage, UntrustedKey, check_time
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel
from hotline.core.signing import check_signature, split_signed
from hotline.core.wire import MAX_MESSAGE_BYTES, Envelope, decode_envelope, digest


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierPolicy:
    """Tunable limits of a `Verifier`.

    Args:
        max_age: seconds a message stays acceptable after its sender time.
        max_skew: seconds of clock difference tolerated between sender and receiver,
            in either direction.
        replay_window: how many sequence numbers below a sender's highest are tracked.
        max_remembered_ids: cap on message ids kept for replay detection.
        max_message_bytes: largest signed message accepted (at most the protocol's 64 KiB).
    """

    max_age: float = 3600.0
    max_skew: float = 120.0
    replay_window: int = 1024
    max_remembered_ids: int = 100_000
    max_message_bytes: int = MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        if self.max_age <= 0 or self.max_skew < 0:
            raise ValueError("max_age must be positive and max_skew not negative")
        if self.replay_window < 1 or self.max_remembered_ids < 1:
            raise ValueError("replay_window and max_remembered_ids must be at least 1")
        if not 0 < self.max_message_bytes <= MAX_MESSAGE_BYTES:
            raise ValueError(f"max_message_bytes must be in 1 .. {MAX_MESSAGE_BYTES}")


class VerifiedMessage(NamedTuple):
    """A message that passed every verification step.

    Attributes:
        envelope: the decoded envelope.
        envelope_bytes: the exact signed bytes (what ``digest`` covers).
        key: the trusted key that signed it.
        data: the whole signed message as received.
        digest: SHA-256 of the envelope bytes: what an answer puts in ``ref``.
    """

    envelope: Envelope
    envelope_bytes: bytes
    key: TrustedKey
    data: bytes
    digest: bytes


@dataclass(slots=True)
class _SequenceWindow:
    highest: int = 0
    seen: int = 0  # bit i set: sequence number highest - i was accepted


@dataclass(slots=True)
class _ReplayMemory:
    windows: dict[tuple[str, bytes], _SequenceWindow] = field(default_factory=dict)
    ids: dict[bytes, float] = field(default_factory=dict)
    expiries: list[tuple[float, bytes]] = field(default_factory=list)


class Verifier:
    """Verifies signed messages against a keyring; remembers what it accepted.

    Args:
        keyring: the trust store. Assign `keyring` to swap it (keys added or revoked);
            the replay memory is kept.
        policy: freshness, replay and size limits.
    """

    __slots__ = ("_memory", "keyring", "policy")

    def __init__(self, keyring: Keyring, policy: VerifierPolicy | None = None) -> None:
        self.keyring = keyring
        self.policy = policy or VerifierPolicy()
        self._memory = _ReplayMemory()

    def memory(self) -> tuple[object, ...]:
        """What the verifier remembers, canonically: each sequence window and each
        message id taken, with when it expires (an explorer tells states apart by it)."""
        memory = self._memory
        windows = sorted((k, w.highest, w.seen) for k, w in memory.windows.items())
        return tuple(windows), tuple(sorted(memory.ids.items()))

    def restore_memory(self, memory: tuple[object, ...]) -> None:
        """Take up what `memory` returned (of a verifier under the same policy), in
        place of what this one remembers.

        Raises:
            ValueError: not what `memory` returns.
        """
        try:
            windows, ids = memory
            restored = _ReplayMemory()
            for (sender, key_id), highest, seen in windows:  # type: ignore[attr-defined]
                restored.windows[(sender, key_id)] = _SequenceWindow(highest, seen)
            restored.ids = dict(ids)  # type: ignore[call-overload]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a verifier's memory: {exc}") from None
        restored.expiries = sorted((at, message_id) for message_id, at in restored.ids.items())
        self._memory = restored

    def verify(
        self, data: bytes, now: float, *, channel: Channel | str | None = None
    ) -> VerifiedMessage:
        """Verify ``data`` at time ``now`` (Unix seconds) and remember it.

        Args:
            data: the signed message bytes as received.
            now: the receiver's current time.
            channel: the channel the message arrived on, if the transport knows it
                (the MQTT topic does); the envelope must then name the same channel.
                A name that is no channel is allowed for no key: key-not-for-channel.

        Returns:
            The verified message.

        Raises:
            RejectedMessage: a subclass naming the first failed step in ``reason``.
            ValueError: ``now`` is NaN or infinite (a clock fault, not a message's).
        """
        check_time(now)
        policy = self.policy
        parts = split_signed(data, policy.max_message_bytes)
        key = self.keyring.lookup(parts.key_id)
        key.check_usable(now)
        if channel is not None and channel not in key.channels:
            raise UntrustedKey(
                R.KEY_NOT_FOR_CHANNEL, f"key of {key.station} not allowed on {channel}"
            )
        check_signature(key.public_key, parts)
        envelope = decode_envelope(parts.envelope_bytes)
        if envelope.channel not in key.channels:
            raise UntrustedKey(
                R.KEY_NOT_FOR_CHANNEL, f"key of {key.station} not allowed on {envelope.channel}"
            )
        if envelope.sender != key.station:
            raise UntrustedKey(
                R.SENDER_MISMATCH, f"key of {key.station} signed as {envelope.sender}"
            )
        if channel is not None and envelope.channel != channel:
            raise UntrustedKey(
                R.CHANNEL_MISMATCH, f"envelope for {envelope.channel} arrived on {channel}"
            )
        self.admit(envelope, now, key.key_id)
        return VerifiedMessage(
            envelope, parts.envelope_bytes, key, data, digest(parts.envelope_bytes)
        )

    def admit(self, envelope: Envelope, now: float, key_id: bytes = b"") -> None:
        """Steps 7 and 8 alone: freshness, then replay; remembers an admitted envelope.

        `verify` ends with this. Protocol-only simulations, which pass envelopes between
        endpoints in memory (no bytes, no signatures), call it directly. Sequence numbers
        are tracked per sender station and signing key (``key_id``; none in memory).

        Raises:
            ValueError: ``now`` is NaN or infinite.
            UntimelyMessage: stale or future.
            ReplayedMessage: the id or the sequence number was already accepted.
        """
        check_time(now)
        policy = self.policy
        sent_at = envelope.sent_at
        if sent_at < now - policy.max_age - policy.max_skew:
            raise UntimelyMessage(R.STALE, f"sent {now - sent_at:.3f} s ago (max {policy.max_age})")
        if sent_at > now + policy.max_skew:
            raise UntimelyMessage(
                R.FUTURE, f"sent {sent_at - now:.3f} s in the future (skew max {policy.max_skew})"
            )
        self._check_and_remember(envelope, now, key_id)

    def _check_and_remember(self, envelope: Envelope, now: float, key_id: bytes) -> None:
        memory = self._memory
        expiries = memory.expiries
        while expiries and expiries[0][0] < now:
            _, old = heapq.heappop(expiries)
            del memory.ids[old]
        if envelope.id in memory.ids:
            raise ReplayedMessage(R.REPLAY, f"message {envelope.id.hex()} already accepted")
        # one window per station and key: a key's traffic, even a stolen key's with a
        # sequence number near 2^53, cannot lock its station's next key out
        space = (envelope.sender, key_id)
        window = memory.windows.get(space)
        if window is None:
            window = memory.windows[space] = _SequenceWindow()
        seq, size = envelope.seq, self.policy.replay_window
        if seq > window.highest:
            jump = seq - window.highest
            # A jump past the window clears it; shifting by a huge jump would allocate.
            window.seen = 1 if jump >= size else ((window.seen << jump) | 1) & ((1 << size) - 1)
            window.highest = seq
        else:
            offset = window.highest - seq
            if offset >= size or window.seen >> offset & 1:
                raise ReplayedMessage(
                    R.SEQUENCE_REGRESSION,
                    f"sequence {seq} from {envelope.sender} already used or below its window"
                    f" (highest {window.highest})",
                )
            window.seen |= 1 << offset
        if len(memory.ids) >= self.policy.max_remembered_ids:
            _, oldest = heapq.heappop(expiries)
            del memory.ids[oldest]
        expiry = envelope.sent_at + self.policy.max_age + self.policy.max_skew
        memory.ids[envelope.id] = expiry
        heapq.heappush(expiries, (expiry, envelope.id))

    def remembered(self) -> tuple[int, int]:
        """How many senders and message ids the replay memory holds (for monitoring)."""
        return len(self._memory.windows), len(self._memory.ids)
