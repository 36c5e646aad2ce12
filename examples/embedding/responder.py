"""A responder post that acknowledges every air notice it receives.

    python examples/embedding/responder.py --broker mqtt://127.0.0.1:1883 \\
        --party RU --key RU-HMEIMIM.key --keyring keyring.json [--count N] \
        [--store ru.db] [--delay SECONDS]

Keys come from `hotline keys generate`; the lines from examples/embedding/posts.toml.
It runs until it has answered --count notices (forever without it, until Ctrl-C),
taking --delay seconds to decide on each. With --store it survives being killed:
started again on the same file, it is handed the notices it had not yet answered.
"""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from pathlib import Path

from hotline import Channel, NoticeReceived, doctrine_with, load_keyring, load_private_key
from hotline.live.station import Station

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
    ) as post:
        print("ready", flush=True)
        answered = 0
        async for event in post.events():
            if isinstance(event, NoticeReceived) and event.incident.channel is Channel.AIR:
                notice = event.incident.notice
                print(f"received {event.incident.id}: {notice.activity}", flush=True)
                await asyncio.sleep(args.delay)  # the duty officer checks the plot
                await post.acknowledge(event.incident.id, channel=Channel.AIR)
                print(f"acknowledged {event.incident.id}: {notice.activity}", flush=True)
                answered += 1
                if answered == args.count:
                    return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--party", required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--keyring", type=Path, required=True)
    parser.add_argument("--store", default=":memory:", help="SQLite file to survive restarts")
    parser.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to decide on each")
    asyncio.run(respond(parser.parse_args()))


if __name__ == "__main__":
    main()
