"""Codec cost against the physical limit: raw Ed25519 on the same bytes, same run.

    python benchmarks/codec.py [--messages N] [--rounds R]

sign+encode   = StationKey.sign(envelope): encode the envelope, sign, wrap [env, kid, sig]
raw sign      = libsodium's crypto_sign(envelope_bytes, secret)[:64], as hotline calls it
verify+decode = Verifier.verify(data, now): every verification step, replay memory included
raw verify    = libsodium's crypto_sign_open(signature + envelope_bytes, public_key)

The raw baselines are the library hotline signs and verifies with (PyNaCl's bindings to
libsodium, the faster on the same bytes: benchmarks/ed25519.py); OpenSSL's, through
`cryptography`, is measured beside them for reference and counts in no ratio.

Each round times all N messages once per variant, interleaving the variants so machine
noise hits them alike; the best round of each counts. Ratios are ours / raw throughput.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair

import hotline
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.signing import StationKey, split_signed
from hotline.core.verifier import Verifier
from hotline.core.wire import Envelope, encode_envelope

NOW = 1_800_000_000.0


def envelopes(count: int) -> list[Envelope]:
    """Notices of a realistic size (~250 bytes): a strike warning with area and window."""
    return [
        Envelope(
            id=seq.to_bytes(16, "big"),
            channel=Channel.AIR,
            kind=Kind.NOTIFY,
            sender="US-CAOC",
            recipients=("RU-HMEIMIM",),
            incident=f"US-CAOC:{seq}",
            seq=seq,
            sent_at_ms=int(NOW * 1000) - 1000,
            precedence=Precedence.FLASH,
            body={
                "activity": "strike",
                "area": {"lat": 35.243, "lon": 40.187, "radius_km": 5.0},
                "window": [int(NOW * 1000) + 600_000, int(NOW * 1000) + 3_600_000],
                "text": "Strikes east of the river in the window; keep clear.",
            },
        )
        for seq in range(1, count + 1)
    ]


def build() -> str:
    """Which build of hotline is being measured."""
    return "compiled with mypyc" if hotline.COMPILED else "pure Python"


def best(rounds: int, variants: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Best wall time of each variant over ``rounds`` interleaved rounds."""
    times = {name: float("inf") for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name] = min(times[name], time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    print(f"hotline {hotline.__version__}, {build()}")
    key = StationKey(bytes(range(32)), "US-CAOC")
    raw_public, raw_secret = crypto_sign_seed_keypair(bytes(range(32)))
    openssl_private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    keyring = Keyring(
        [
            TrustedKey(
                public_key=key.public_key,
                party="US",
                station="US-CAOC",
                channels=frozenset({Channel.AIR}),
            )
        ]
    )
    openssl_public = openssl_private.public_key()
    batch = envelopes(args.messages)
    encoded = [encode_envelope(envelope) for envelope in batch]
    signed = [key.sign(envelope) for envelope in batch]
    parts = [split_signed(data) for data in signed]
    size = sum(map(len, signed)) / len(signed)

    def sign_ours() -> None:
        for envelope in batch:
            key.sign(envelope)

    def sign_raw() -> None:
        for data in encoded:
            crypto_sign(data, raw_secret)[:64]

    def sign_openssl() -> None:
        for data in encoded:
            openssl_private.sign(data)

    def verify_ours() -> None:
        verifier = Verifier(keyring)  # fresh: each round must not count as a replay
        for data in signed:
            verifier.verify(data, NOW)

    def verify_raw() -> None:
        for part in parts:
            crypto_sign_open(part.signature + part.envelope_bytes, raw_public)

    def verify_openssl() -> None:
        for part in parts:
            openssl_public.verify(part.signature, part.envelope_bytes)

    times = best(
        args.rounds,
        {
            "sign+encode": sign_ours,
            "raw sign": sign_raw,
            "OpenSSL sign": sign_openssl,
            "verify+decode": verify_ours,
            "raw verify": verify_raw,
            "OpenSSL verify": verify_openssl,
        },
    )
    count = args.messages
    print(f"{count} messages of {size:.0f} bytes, best of {args.rounds} rounds")
    print("raw: libsodium (PyNaCl), as hotline calls it; OpenSSL (cryptography) for reference")
    print(f"{'variant':<15}{'msgs/s':>12}{'us/msg':>10}")
    for name, seconds in times.items():
        print(f"{name:<15}{count / seconds:>12,.0f}{seconds / count * 1e6:>10.2f}")
    sign_ratio = times["raw sign"] / times["sign+encode"]
    verify_ratio = times["raw verify"] / times["verify+decode"]
    print(
        f"overhead: sign {1e6 * (times['sign+encode'] - times['raw sign']) / count:.2f} us, "
        f"verify {1e6 * (times['verify+decode'] - times['raw verify']) / count:.2f} us per message"
    )
    print(f"RESULT codec_sign_ratio {sign_ratio:.3f} ratio")
    print(f"RESULT codec_verify_ratio {verify_ratio:.3f} ratio")


if __name__ == "__main__":
    main()
