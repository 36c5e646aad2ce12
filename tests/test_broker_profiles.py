"""Broker profiles (brokers/): each starts on loopback with one script and carries hotline."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from hotline.live import run_live
from hotline.sim.scenario import load_scenario
from hotline.testing import free_port
from tests.conftest import REPO

pytestmark = pytest.mark.broker


def test_dev_profile_starts_with_one_script_and_carries_an_exercise(tmp_path: Path) -> None:
    port = free_port()
    started = subprocess.run(
        [str(REPO / "brokers" / "dev" / "start.sh"), str(port), str(tmp_path / "dev")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url == f"mqtt://127.0.0.1:{port}"
    pid = int((tmp_path / "dev" / "pid").read_text())
    try:
        config = (tmp_path / "dev" / "mosquitto.conf").read_text()
        assert "max_queued_messages 100000" in config
        assert "persistence true" in config
        scenario = load_scenario(REPO / "examples" / "tutorial.toml")
        result = asyncio.run(run_live(scenario, url, time_scale=1200.0))
        assert {i["outcome"] for i in result["incidents"]} == {"acknowledged"}
    finally:
        os.kill(pid, signal.SIGTERM)
