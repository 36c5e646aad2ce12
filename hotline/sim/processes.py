"""How a sweep's or an exploration's worker processes start.

A forked worker starts at once with everything its parent loaded, which is what a
sweep of a few hundred runs notices (a worker started afresh imports hotline again,
most of a second). But a fork copies only the thread that forks: a lock another thread
holds at that instant (a Dask client's event loop, a post's checkpointer, a logging
handler) stays held in the child for ever, and a worker that reaches for it hangs. So
workers are forked only from a process running no other thread, and started afresh
otherwise.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.context import BaseContext


def worker_context() -> BaseContext:
    """Fork when this process runs one thread only (and the platform forks); spawn
    otherwise."""
    forks = "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context(
        "fork" if forks and threading.active_count() == 1 else "spawn"
    )
