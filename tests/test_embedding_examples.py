"""The embedding examples (examples/embedding/) run as written against a real broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hotline.testing import Mosquitto
from tests.conftest import REPO

pytestmark = pytest.mark.broker
EXAMPLES = REPO / "examples" / "embedding"


def run_cli(hotline_command: str, *args: str, cwd: Path) -> None:
    subprocess.run([hotline_command, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_originator_and_responder_examples_talk_over_a_broker(
    hotline_command: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    for station, party in (("US-CAOC", "US"), ("RU-HMEIMIM", "RU")):
        run_cli(
            hotline_command,
            "keys",
            "generate",
            "--station",
            station,
            "--party",
            party,
            "--channels",
            "air",
            "--keyring",
            "keyring.json",
            cwd=tmp_path,
        )
    common = ["--broker", mosquitto.url, "--keyring", str(tmp_path / "keyring.json")]
    responder = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "responder.py"),
            *common,
            "--party",
            "RU",
            "--key",
            str(tmp_path / "RU-HMEIMIM.key"),
            "--count",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert responder.stdout is not None
        assert responder.stdout.readline().strip() == "ready"
        originator = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "originator.py"),
                *common,
                "--party",
                "US",
                "--key",
                str(tmp_path / "US-CAOC.key"),
                "--activity",
                "flight",
                "--wait",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert originator.returncode == 0, originator.stderr
        assert originator.stdout.splitlines()[-1] == "outcome acknowledged"
        assert responder.wait(timeout=30) == 0
        assert "acknowledged US-CAOC:1: flight" in responder.stdout.read()
    finally:
        responder.kill()
