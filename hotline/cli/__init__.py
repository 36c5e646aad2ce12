"""The ``hotline`` command.

Exit codes (a contract, see README): 0 success; 1 ran and an expectation failed;
2 bad input (one line naming the file, the field and the reason, never a traceback);
3 a message or journal was rejected (with its reason code); 4 `audit verify` without
--keyring on an intact file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from collections.abc import Collection, Sequence

from hotline import COMPILED, __version__
from hotline.cli.common import COMMANDS, EXIT_BAD_INPUT, EXIT_OK, PipeClosed, UserError
from hotline.core.errors import HotlineError


def build_parser(whole: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of every ``hotline`` subcommand; with ``whole``, only those
    commands in full and the others by their names and help, so that a command loads
    only the modules it uses (the simulator, the map, the MQTT client... together take
    most of a second to import)."""
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="Protocol simulator and client for military deconfliction hotlines.",
    )
    build = "compiled" if COMPILED else "pure Python"
    parser.add_argument("--version", action="version", version=f"hotline {__version__} ({build})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = None if whole is None else {COMMANDS[name].module for name in whole}
    registered: set[str] = set()
    for name, command in COMMANDS.items():
        if modules is not None and command.module not in modules:
            commands.add_parser(name, help=command.help)
        elif command.module not in registered:  # one module may define several
            registered.add(command.module)
            importlib.import_module(f"hotline.cli.{command.module}").register(commands)
    return parser


def _named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, if it names one."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


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
    arguments = sys.argv[1:] if argv is None else list(argv)
    named = _named(arguments)
    parser = build_parser(whole=[] if named is None else [named])
    args = parser.parse_args(arguments)
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
