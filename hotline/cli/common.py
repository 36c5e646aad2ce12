"""What every subcommand shares: exit codes, the user-error type, argument readers."""

from __future__ import annotations

import argparse
import contextlib
import errno
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NamedTuple

from hotline.core.names import Channel
from hotline.timestamps import parse_instant


class Command(NamedTuple):
    """A ``hotline`` command: the module of hotline.cli that defines it, and its help."""

    module: str
    help: str


#: every command, in the order ``hotline --help`` lists them
COMMANDS: Final = {
    "exercise": Command("exercise", "run or check a channel exercise (scenario file)"),
    "sweep": Command("sweep", "run a scenario many times over a parameter grid"),
    "explore": Command(
        "explore", "check a small exercise over every interleaving, loss and duplication"
    ),
    "inspect": Command("messages", "decode and verify one signed message"),
    "sign": Command("messages", "build and sign one message"),
    "vectors": Command("vectors", "protocol test vectors"),
    "keys": Command("keys", "station keys and keyrings"),
    "certs": Command("certs", "TLS certificates and ACL for a secure broker"),
    "proxy": Command(
        "proxy", "a fault-injecting MQTT proxy: a scenario's failed calls on a live line"
    ),
    "audit": Command("audit", "check journals and evidence of what was sent"),
    "states": Command(
        "states", "print the incident state machine (markdown with a mermaid diagram)"
    ),
    "schema": Command("schema", "print a JSON Schema (for editors)"),
}

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3
#: `audit verify` without a keyring: intact, but signed by keys only the file vouches for
EXIT_UNTRUSTED = 4


class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class PipeClosed(BrokenPipeError):
    """The reader of standard output went away after the command decided its exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(errno.EPIPE, "the reader went away")
        self.code = code


@contextlib.contextmanager
def decided(code: int) -> Iterator[None]:
    """Print a command's report inside this block once its exit code is known: a reader
    that goes away midway (``| head``) then ends the command quietly with ``code``, where
    a command cut off before it decided ends with 0 (`hotline.cli.main`). A report too
    long to stay buffered would otherwise turn, say, an untrusted file's 4 into a 0.
    """
    try:
        yield
    except BrokenPipeError as exc:
        raise PipeClosed(code) from exc
    except SystemExit as exc:
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        raise PipeClosed(code) from exc  # rich's Console exits 1 on a closed pipe


def instant(text: str) -> float:
    """argparse type: Unix seconds or an RFC 3339 time."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def channel(text: str) -> Channel:
    """argparse type: a channel name."""
    try:
        return Channel(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a channel ({', '.join(Channel)})"
        ) from None


def channel_list(text: str) -> list[Channel]:
    """argparse type: comma-separated channel names."""
    return [channel(part.strip()) for part in text.split(",") if part.strip()]


def now_or(value: float | None) -> float:
    """``value`` if given, else the wall clock (the CLI is where clocks are read)."""
    return time.time() if value is None else value


def read_input(source: str) -> bytes:
    """The bytes of a file, or of standard input for ``-``."""
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{source}: {exc.strerror or exc}") from None
