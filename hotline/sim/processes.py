"""How a sweep's or an exploration's worker processes start.

A forked worker starts at once with everything its parent loaded, which is what a
sweep of a few hundred runs notices (a worker started afresh imports hotline again,
most of a second). But a fork copies only the thread that forks: a lock another thread
holds at that instant (a Dask client's event loop, a post's checkpointer, a logging
handler) stays held in the child for ever, and a worker that reaches for it hangs. So
workers are forked only from a process running no other Python thread, and started
afresh otherwise. (Native threads a library starts, such as OpenBLAS's for numpy, are
not counted: OpenBLAS makes its pool anew in a forked child.)

A forked worker also inherits its parent's signal handlers, and with an asyncio loop's
handlers the loop's wake-up socket: a SIGTERM sent to the worker would run the parent's
handler. `fresh_signals`, run first in every worker, gives it a new process's.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from multiprocessing.context import BaseContext


def worker_context() -> BaseContext:
    """Fork when this process runs one Python thread only (and the platform forks);
    spawn otherwise."""
    forks = "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context(
        "fork" if forks and threading.active_count() == 1 else "spawn"
    )


def fresh_signals() -> None:
    """In a worker: no wake-up socket, and SIGINT and SIGTERM as a new process has them,
    unless the parent ignores them (a background job's SIGINT): then so does the worker."""
    signal.set_wakeup_fd(-1)
    for number, default in ((signal.SIGINT, signal.default_int_handler),
                            (signal.SIGTERM, signal.SIG_DFL)):  # fmt: skip
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, default)
