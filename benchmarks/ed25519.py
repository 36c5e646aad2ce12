"""Ed25519 from `cryptography` (OpenSSL) against PyNaCl (libsodium), same run, same bytes.

    python benchmarks/ed25519.py [--messages N] [--size BYTES] [--rounds R]

cryptography   Ed25519PrivateKey.sign(message), Ed25519PublicKey.verify(signature, message)
nacl.bindings  crypto_sign(message, secret)[:64], crypto_sign_open(signature + message, pk)
nacl.signing   SigningKey.sign(message), VerifyKey.verify(message, signature)

nacl.bindings is what hotline calls; nacl.signing wraps the same two calls in objects
and is measured to show what the wrapping costs. Messages are as long as a signed
envelope (a notice's envelope bytes are about 280). Each round times every message once
per variant, interleaving the variants so machine noise hits them alike; the best round
of each counts. A speedup above 1 means PyNaCl (nacl.bindings) is the faster.
"""

from __future__ import annotations

import argparse
import hashlib

import nacl.signing
from codec import best  # benchmarks/codec.py: interleaved rounds, the best of each
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair

SEED = bytes(range(32))


def messages(count: int, size: int) -> list[bytes]:
    """``count`` distinct messages of ``size`` bytes, the same in every run."""
    result = []
    for index in range(count):
        stream = b""
        block = 0
        while len(stream) < size:
            stream += hashlib.sha512(b"%d:%d" % (index, block)).digest()
            block += 1
        result.append(stream[:size])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=280)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    batch = messages(args.messages, args.size)
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key()
    public_key, secret = crypto_sign_seed_keypair(SEED)
    signing_key = nacl.signing.SigningKey(SEED)
    verify_key = signing_key.verify_key
    signed = [(message, private.sign(message)) for message in batch]
    # Ed25519 is deterministic: both libraries must write the same bytes, or one is wrong
    for message, signature in signed:
        if crypto_sign(message, secret)[:64] != signature:
            raise SystemExit("cryptography and PyNaCl disagree on a signature")
        crypto_sign_open(signature + message, public_key)
        public.verify(signature, message)

    def sign_cryptography() -> None:
        for message in batch:
            private.sign(message)

    def sign_bindings() -> None:
        for message in batch:
            crypto_sign(message, secret)[:64]

    def sign_objects() -> None:
        for message in batch:
            signing_key.sign(message)

    def verify_cryptography() -> None:
        for message, signature in signed:
            public.verify(signature, message)

    def verify_bindings() -> None:
        for message, signature in signed:
            crypto_sign_open(signature + message, public_key)

    def verify_objects() -> None:
        for message, signature in signed:
            verify_key.verify(message, signature)

    times = best(
        args.rounds,
        {
            "sign cryptography": sign_cryptography,
            "sign nacl.bindings": sign_bindings,
            "sign nacl.signing": sign_objects,
            "verify cryptography": verify_cryptography,
            "verify nacl.bindings": verify_bindings,
            "verify nacl.signing": verify_objects,
        },
    )
    count = args.messages
    print(
        f"{count} messages of {args.size} bytes, best of {args.rounds} rounds "
        f"(cryptography: OpenSSL; nacl: libsodium)"
    )
    print(f"{'variant':<24}{'ops/s':>10}{'us/op':>10}{'vs cryptography':>18}")
    for name, seconds in times.items():
        operation = name.split()[0]
        speedup = times[f"{operation} cryptography"] / seconds
        print(f"{name:<24}{count / seconds:>10,.0f}{seconds / count * 1e6:>10.2f}{speedup:>17.2f}x")
    sign_speedup = times["sign cryptography"] / times["sign nacl.bindings"]
    verify_speedup = times["verify cryptography"] / times["verify nacl.bindings"]
    print(f"RESULT ed25519_sign_speedup {sign_speedup:.3f} ratio")
    print(f"RESULT ed25519_verify_speedup {verify_speedup:.3f} ratio")


if __name__ == "__main__":
    main()
