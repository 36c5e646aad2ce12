"""``hotline states``: the incident state machine as a document."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hotline.cli.common import COMMANDS, EXIT_OK
from hotline.statesdoc import render


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``states`` subcommand."""
    states = commands.add_parser(
        "states",
        help=COMMANDS["states"].help,
        description="Render the incident transition table as protocol/states.md.",
    )
    states.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    states.set_defaults(run=run_states)


def run_states(args: argparse.Namespace) -> int:
    """Print or write the document."""
    text = render()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return EXIT_OK
