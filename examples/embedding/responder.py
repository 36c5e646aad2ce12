"""A responder post that acknowledges every air notice it receives.

    python examples/embedding/responder.py --broker mqtt://127.0.0.1:1883 \\
        --party RU --key RU-HMEIMIM.key --keyring keyring.json [--count N] \\
        [--store ru.db] [--delay SECONDS]

Keys come from `hotline keys generate`; the lines from examples/embedding/posts.toml.
It runs until it has answered --count notices (forever without it, until Ctrl-C),
taking --delay seconds to decide on each. With --store it survives being killed:
started again on the same file, it is handed the notices it had not yet answered.

Each answer is reported "(with the broker)" once the broker has confirmed it, or
"(queued: the broker has not confirmed it yet)" if it has not within --confirm seconds.
A queued answer is published as soon as the broker is back: while the responder runs,
and with --store also when it runs again on that file. Without --store, an answer
still queued when the responder stops is lost: it says which, and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tomllib
from pathlib import Path

from hotline import Channel, NoticeReceived, doctrine_with, load_keyring, load_private_key
from hotline.live import ConnectionFailed, Station, UnsentMessages

POSTS = Path(__file__).with_name("posts.toml")


async def respond(args: argparse.Namespace) -> None:
    doctrine = doctrine_with(tomllib.loads(POSTS.read_text()), str(POSTS))
    async with Station(
        party=args.party,
        keys=[load_private_key(args.key)],
        keyring=load_keyring(args.keyring),
        doctrine=doctrine,
        broker=args.broker,
        store=args.store,
        linger=args.confirm,
    ) as post:
        print("ready", flush=True)
        answered = 0
        async for event in post.events():
            if isinstance(event, NoticeReceived) and event.incident.channel is Channel.AIR:
                notice = event.incident.notice
                print(f"received {event.incident.id}: {notice.activity}", flush=True)
                await asyncio.sleep(args.delay)  # the duty officer checks the plot
                posted = await post.acknowledge(event.incident.id, channel=Channel.AIR)
                if await posted.sent(timeout=args.confirm):
                    where = "with the broker"
                else:
                    where = "queued: the broker has not confirmed it yet"
                print(f"acknowledged {event.incident.id}: {notice.activity} ({where})", flush=True)
                answered += 1
                if answered == args.count:
                    break
    if post.unsent and args.store != ":memory:":
        waiting = "1 message waits" if post.unsent == 1 else f"{post.unsent} messages wait"
        print(
            f"{waiting} in {args.store} for the broker: "
            "they leave when the responder runs on that file again",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--party", required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--keyring", type=Path, required=True)
    parser.add_argument("--store", default=":memory:", help="SQLite file to survive restarts")
    parser.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to decide on each")
    parser.add_argument(
        "--confirm",
        type=float,
        default=5.0,
        help="seconds to wait for the broker to confirm each answer (and, when stopping, "
        "what is still queued)",
    )
    try:
        asyncio.run(respond(parser.parse_args()))
    except (ConnectionFailed, UnsentMessages) as exc:
        sys.exit(f"responder: {exc}")


if __name__ == "__main__":
    main()
