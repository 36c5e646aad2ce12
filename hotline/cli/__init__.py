"""The ``hotline`` command.

Exit codes (a contract, see README): 0 success; 1 ran and an expectation failed;
2 bad input (one line naming the file, the field and the reason, never a traceback);
3 a message or journal was rejected (with its reason code); 4 `audit verify` without
--keyring on an intact file.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence

from hotline import COMPILED, __version__
from hotline.cli import (
    audit,
    certs,
    exercise,
    explore,
    keys,
    messages,
    proxy,
    schema,
    states,
    sweep,
    vectors,
)
from hotline.cli.common import EXIT_BAD_INPUT, EXIT_OK, PipeClosed, UserError
from hotline.core.errors import HotlineError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``hotline`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="Protocol simulator and client for military deconfliction hotlines.",
    )
    build = "compiled" if COMPILED else "pure Python"
    parser.add_argument("--version", action="version", version=f"hotline {__version__} ({build})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    exercise.register(commands)
    sweep.register(commands)
    explore.register(commands)
    messages.register(commands)
    vectors.register(commands)
    keys.register(commands)
    certs.register(commands)
    proxy.register(commands)
    audit.register(commands)
    states.register(commands)
    schema.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    A reader that goes away (``hotline states | head -1``) ends any command quietly: no
    message, and the command's exit code if it was decided by then (`common.decided`),
    else 0.
    """
    try:
        code = _run(argv)
    except BrokenPipeError as exc:
        _silence_output()
        return exc.code if isinstance(exc, PipeClosed) else EXIT_OK
    except SystemExit as exc:
        if not isinstance(exc.__context__, BrokenPipeError):
            _flush_stdout()  # what argparse printed (--help, --version) before exiting
            raise
        _silence_output()  # rich's Console exits 1 on a closed pipe: no failed expectation
        return EXIT_OK
    _flush_stdout()
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        raise  # not bad input: `main` ends quietly
    except (UserError, HotlineError, OSError) as exc:
        _say(f"hotline: error: {exc}")
        return EXIT_BAD_INPUT
    except sqlite3.Error as exc:  # a store or journal that cannot be opened or written
        _say(f"hotline: error: database: {exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _say("hotline: interrupted")
        return 130
    return code


def _flush_stdout() -> None:
    """Write out what standard output still buffers now, not as the interpreter exits,
    where a closed pipe can only be reported ("Exception ignored ...", exit 120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_output()


def _say(line: str) -> None:
    """A line on standard error, if anyone still reads it (``2>&1 | head``): the exit
    code says what happened either way."""
    try:
        print(line, file=sys.stderr)
    except BrokenPipeError:
        _silence_output()


def _silence_output() -> None:
    """Point standard output and error at nothing, so flushing what they still buffer as
    the process ends cannot raise again on the closed pipe (whichever one it was)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
