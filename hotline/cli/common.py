"""What every subcommand shares: exit codes, the user-error type, argument readers."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hotline.core.names import Channel
from hotline.timestamps import parse_instant

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3
#: `audit verify` without a keyring: intact, but signed by keys only the file vouches for
EXIT_UNTRUSTED = 4


class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


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
