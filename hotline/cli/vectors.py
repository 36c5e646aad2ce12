"""``hotline vectors check`` and ``hotline vectors generate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from hotline.cli.common import COMMANDS, EXIT_FAILED, EXIT_OK, UserError
from hotline.vectors import VectorError, VectorOutcome, run_directory, write_vectors

DEFAULT_DIRECTORY = Path("protocol/vectors")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``vectors`` command group."""
    group = commands.add_parser("vectors", help=COMMANDS["vectors"].help)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="verify every vector in a directory",
        description="Run each vector through a fresh verifier; exit 0 if all give their "
        "expected verdict, 1 otherwise.",
    )
    check.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIRECTORY)
    check.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    check.set_defaults(run=run_check)
    generate = actions.add_parser(
        "generate",
        help="rewrite the vectors from the fixed keys",
        description="Rebuild every vector (deterministic: Ed25519 signatures of fixed keys).",
    )
    generate.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIRECTORY)
    generate.set_defaults(run=run_generate)


def run_check(args: argparse.Namespace) -> int:
    """Run the vectors; 0 when every one gives its expected verdict."""

    def show(outcome: VectorOutcome) -> None:
        if outcome.passed and args.quiet:
            return
        mark = "ok  " if outcome.passed else "FAIL"
        extra = "" if outcome.passed else f" (got {outcome.actual})"
        print(f"{mark} {outcome.name}: {outcome.expected}{extra}")

    try:
        outcomes = run_directory(args.directory, show)
    except VectorError as exc:
        raise UserError(str(exc)) from None
    failed = sum(not outcome.passed for outcome in outcomes)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def run_generate(args: argparse.Namespace) -> int:
    """Write the vector files."""
    written = write_vectors(args.directory)
    print(f"wrote {len(written)} vectors to {args.directory}")
    return EXIT_OK
