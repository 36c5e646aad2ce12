"""The ``hotline`` command.

Exit codes (a contract, see README): 0 success; 1 ran and an expectation failed;
2 bad input (one line naming the file, the field and the reason, never a traceback);
3 a message or journal was rejected (with its reason code).
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
    schema,
    states,
    sweep,
    vectors,
)
from hotline.cli.common import EXIT_BAD_INPUT, EXIT_OK, UserError
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
    audit.register(commands)
    states.register(commands)
    schema.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # the reader went away (`hotline states | head -1`): end quietly
        _silence_stdout()
        return EXIT_OK
    except (UserError, HotlineError, OSError) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except sqlite3.Error as exc:  # a store or journal that cannot be opened or written
        print(f"hotline: error: database: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("hotline: interrupted", file=sys.stderr)
        return 130
    return code


def _silence_stdout() -> None:
    """Point standard output at nothing, so flushing it as the process ends cannot
    raise again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
