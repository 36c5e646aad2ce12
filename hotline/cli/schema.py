"""``hotline schema scenario``: the JSON Schema of scenario files, for editors."""

from __future__ import annotations

import argparse
import json
import sys

from hotline.cli.common import COMMANDS, EXIT_OK
from hotline.sim.schema import scenario_reference, scenario_schema


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``schema`` subcommand."""
    schema = commands.add_parser("schema", help=COMMANDS["schema"].help)
    schema.add_argument("kind", choices=["scenario"], help="which file format")
    schema.add_argument(
        "--markdown", action="store_true", help="print the reference (docs/scenarios.md) instead"
    )
    schema.set_defaults(run=run_schema)


def run_schema(args: argparse.Namespace) -> int:
    """Print the schema, or its markdown reference."""
    if args.markdown:
        sys.stdout.write(scenario_reference())
        return EXIT_OK
    json.dump(scenario_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK
