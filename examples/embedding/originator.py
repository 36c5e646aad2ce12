"""An originator post: send one notice on the air line and wait for its outcome.

    python examples/embedding/originator.py --broker mqtt://127.0.0.1:1883 \\
        --party US --key US-CAOC.key --keyring keyring.json --activity strike

Prints the outcome; exits 0 if the notice was acknowledged, 1 otherwise: another
outcome, none within --wait seconds (the incident is still open), or no broker. With
--store FILE the post survives being killed or giving up: run it again with --resume
INCIDENT to wait for the outcome of the notice it had sent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tomllib
from pathlib import Path

from hotline import Channel, Notice, Precedence, doctrine_with, load_keyring, load_private_key
from hotline.core.errors import UnknownIncident
from hotline.live import ConnectionFailed, Station, UnsentMessages

POSTS = Path(__file__).with_name("posts.toml")


async def notify(args: argparse.Namespace) -> str | None:
    """The notice's outcome, or None if it has none within --wait seconds."""
    doctrine = doctrine_with(tomllib.loads(POSTS.read_text()), str(POSTS))
    async with Station(
        party=args.party,
        keys=[load_private_key(args.key)],
        keyring=load_keyring(args.keyring),
        doctrine=doctrine,
        broker=args.broker,
        store=args.store,
    ) as post:
        if args.resume:
            try:
                incident = post.handle(args.resume)
            except UnknownIncident as exc:
                sys.exit(f"originator: {exc}")
            print(f"resumed {incident.id}", flush=True)
        else:
            incident = await post.notify(
                channel=Channel.AIR,
                precedence=Precedence.FLASH,
                notice=Notice(activity=args.activity, starts_at=time.time() + 3 * 3600),
            )
            print(f"notified {incident.id}", flush=True)
        try:
            return await incident.outcome(timeout=args.wait)
        except TimeoutError:
            if args.store == ":memory:":
                then = "it was kept in memory only: give --store FILE to be able to --resume"
            else:
                then = f"run again with --store {args.store} --resume {incident.id}"
            print(
                f"no outcome within {args.wait:g} s: incident {incident.id} is still open; {then}",
                flush=True,
            )
            return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--party", required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--keyring", type=Path, required=True)
    parser.add_argument("--activity", default="strike")
    parser.add_argument("--store", default=":memory:", help="SQLite file to survive restarts")
    parser.add_argument("--resume", metavar="INCIDENT", help="wait for a notice sent before")
    parser.add_argument("--wait", type=float, default=1800.0, help="give up after this long")
    try:
        outcome = asyncio.run(notify(parser.parse_args()))
    except (ConnectionFailed, UnsentMessages) as exc:
        sys.exit(f"originator: {exc}")
    if outcome is None:
        sys.exit(1)
    print(f"outcome {outcome}", flush=True)
    sys.exit(0 if outcome == "acknowledged" else 1)


if __name__ == "__main__":
    main()
