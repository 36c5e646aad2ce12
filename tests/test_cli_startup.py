"""The command line builds only the command it is asked for: the others are listed by
name and help, and their modules (the simulator, the map, the MQTT client) are not
loaded (hotline/cli/__init__.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from hotline.cli import build_parser
from hotline.cli.common import COMMANDS


def _commands(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each command's name and help, as ``hotline --help`` lists them."""
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {choice.dest: str(choice.help) for choice in action._choices_actions}


def test_every_command_is_listed_alike_whether_built_whole_or_not() -> None:
    whole = _commands(build_parser())
    assert list(whole) == list(COMMANDS)
    assert whole == {name: command.help for name, command in COMMANDS.items()}
    for name in COMMANDS:
        assert _commands(build_parser(whole=[name])) == whole
    assert _commands(build_parser(whole=[])) == whole


LOADED = """
import sys
from hotline.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("hotline.sim", "hotline.live.mqtt", "hotline.geo", "shapely", "aiomqtt")
print(" ".join(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["states"], ["sign", "--help"], ["keys", "--help"]]
)
def test_a_command_that_needs_no_simulator_loads_none(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ""
