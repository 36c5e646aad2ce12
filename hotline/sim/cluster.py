"""Sweeps on a Dask distributed cluster: the chunks of the local process pool, run as
tasks by the cluster's workers.

``distributed`` is an optional dependency (the ``cluster`` extra), imported only when a
scheduler is named. A task names its function by reference (`hotline.sim.sweep.run_chunk`),
so each worker imports hotline itself: every worker machine needs hotline installed at
the version of the machine that starts the sweep, which `connect` checks before any run.
What the tasks return is combined by `hotline.sim.sweep.sweep` in a fixed order, so the
result is the one the sweep gives in-process.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from hotline import __version__
from hotline.core.errors import HotlineError

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
INSTALL_HINT = "--scheduler needs distributed: pip install 'hotline[cluster]'"


class ClusterError(HotlineError):
    """No cluster to run on: ``distributed`` missing, a scheduler that cannot be reached,
    no worker, or a worker without this version of hotline. One line, for the user."""


def require_distributed() -> ModuleType:
    """The ``distributed`` module: called before a sweep starts, so a missing package is
    told at once rather than after the grid is checked and the outputs made.

    Raises:
        ClusterError: distributed is missing (install hotline[cluster]).
    """
    try:  # an optional dependency: imported only when a scheduler is named
        import distributed  # noqa: PLC0415
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return distributed


def hotline_version() -> str:
    """The version of hotline where this runs (on each worker, by `connect`)."""
    return __version__


def _reason(exc: BaseException) -> str:
    """What a failed connection came to: the operating system's word (``Connection
    refused``) where the chain of causes has one, else that nothing answered."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return "no answer"


def _close(client: Client) -> None:
    """Close ``client`` without the traceback distributed logs when the close cancels
    its reconnecting to a lost scheduler: the sweep has already said what failed."""
    logger = logging.getLogger("distributed.client")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        client.close()  # type: ignore[no-untyped-call]
    finally:
        logger.setLevel(level)


@dataclass(slots=True)
class Cluster:
    """A connected scheduler, and the worker threads it had when the sweep started."""

    client: Client
    address: str
    threads: int

    def completed(
        self,
        function: Callable[[Mapping[str, Any], Sequence[int]], T],
        documents: Sequence[Mapping[str, Any]],
        jobs: Sequence[tuple[int, Sequence[int]]],
    ) -> Generator[tuple[int, T], None, None]:
        """Run ``function(documents[i], seeds)`` for each job ``(i, seeds)`` as one task,
        and yield each job's position in ``jobs`` with its result as it finishes, in
        whatever order they finish. The documents are sent to the cluster once each,
        not with every task. A task that raised raises here.

        Raises:
            ClusterError: the tasks were cancelled (the client lost the scheduler).
        """
        from distributed import as_completed  # noqa: PLC0415

        # (distributed leaves scatter, as_completed and cancel without annotations;
        # as_completed takes the loop of a client that is not the default one)
        # a list, not a mapping: scatter takes a dict as keys and values to send
        shared = self.client.scatter(list(documents))  # type: ignore[no-untyped-call]
        futures = self.client.map(
            function,
            [shared[index] for index, _ in jobs],
            [list(seeds) for _, seeds in jobs],
            pure=False,  # one task per job, even for two points with the same document
        )
        position = {future.key: n for n, future in enumerate(futures)}
        try:
            # results fetched one by one, not with_results: a result whose fetch the
            # scheduler's loss interrupts would never be yielded, and the loop would wait
            done = as_completed(futures, loop=self.client.loop)  # type: ignore[no-untyped-call]
            for future in done:
                try:
                    result = future.result()
                except (CancelledError, OSError) as exc:
                    raise ClusterError(
                        f"--scheduler {self.address}: the sweep's tasks were cancelled "
                        f"({type(exc).__name__}: the scheduler was lost?); nothing was written"
                    ) from None
                yield position[future.key], result
        finally:  # done, or given up: the cluster forgets the tasks and the documents
            if self.client.status == "running":
                self.client.cancel([*futures, *shared])  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def connect(address: str, timeout: float) -> Iterator[Cluster]:
    """A client of the scheduler at ``address``, closed on leaving: within ``timeout``
    seconds the scheduler answers, at least one worker has joined, and every worker runs
    this version of hotline.

    Raises:
        ClusterError: distributed is missing, or one of those did not hold (one line that
            names the address and what failed).
    """
    distributed = require_distributed()
    try:  # before the client: one refused in its constructor lingers, closing, at exit
        distributed.comm.get_address_host_port(address)
    except ValueError as exc:  # an unknown scheme, no port, a port that is not a number
        raise ClusterError(f"--scheduler {address}: {exc} (expected tcp://HOST:PORT)") from None
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except OSError as exc:
        raise ClusterError(
            f"--scheduler {address}: cannot connect within {timeout:g} s: {_reason(exc)}"
        ) from None
    with contextlib.ExitStack() as stack:
        stack.callback(_close, client)
        try:
            client.wait_for_workers(1, timeout=timeout)
            versions = client.run(hotline_version, on_error="return")
        except TimeoutError:
            raise ClusterError(
                f"--scheduler {address}: no worker joined within {timeout:g} s "
                f"(start one with: dask worker {address})"
            ) from None
        except OSError as exc:  # the scheduler went away since it answered
            raise ClusterError(f"--scheduler {address}: lost the connection: {exc}") from None
        for worker, version in sorted(versions.items()):
            if version != __version__:
                found = (
                    f"has hotline {version}"
                    if isinstance(version, str)
                    else f"cannot run hotline: {version}"
                )
                raise ClusterError(
                    f"--scheduler {address}: worker {worker} {found}; every worker needs "
                    f"hotline {__version__}"
                )
        threads = sum(client.nthreads().values())
        yield Cluster(client, address, threads)
