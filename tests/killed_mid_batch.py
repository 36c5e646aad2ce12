"""RU's post, killed (SIGKILL) in the middle of a batch: run by tests/test_group_commit.py.

    python -m tests.killed_mid_batch BROKER_URL STORE

It prints ``ready`` and connects on STORE; then, for each batch of messages the broker
hands it, ``batch N`` before taking it. In the first batch of three or more, it kills
itself inside the batch's transaction, after writing what the first message did and
before the commit, having printed ``killing``. It exits 3 if no such batch comes within
twenty seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from hotline.live.station import Arrival
from tests.posts import post

BIG_ENOUGH = 3


async def main(broker: str, store: str) -> int:
    ru = post("RU", broker, store)
    taking, writing = ru.link.handler, ru._took

    def handler(batch: Sequence[tuple[str, bytes]]) -> None:
        print("batch", len(batch), flush=True)
        written = 0

        def took(arrival: Arrival) -> None:
            nonlocal written
            if len(batch) >= BIG_ENOUGH and written == 1:
                print("killing", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            written += 1
            writing(arrival)

        ru._took = took  # type: ignore[method-assign]
        taking(batch)

    ru.link.handler = handler  # before connecting: the broker's queue comes at once
    print("ready", flush=True)
    async with ru:
        await asyncio.sleep(20)
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
