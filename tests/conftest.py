"""Shared test configuration: Hypothesis profiles and common fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

if TYPE_CHECKING:
    from hotline.testing import Mosquitto
    from hotline.testing.rabbitmq import RabbitMQ

REPO = Path(__file__).resolve().parent.parent

if os.environ.get("HOTLINE_EXPECT_COMPILED"):
    # `make test` runs the suite a second time against the mypyc build named in
    # PYTHONPATH. pytest puts the repository first on sys.path, which would import the
    # pure sources instead; put the build first, then check it is what got imported.
    for entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        if entry:
            sys.path.insert(0, os.path.abspath(entry))
    import hotline
    import hotline.core.wire

    assert hotline.COMPILED, f"expected the compiled build, imported {hotline.core.wire.__file__}"
VECTORS = REPO / "protocol" / "vectors"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private mosquitto on a free loopback port (hotline.testing.Mosquitto)."""
    from hotline.testing import Mosquitto  # not at the top: see the compiled-build note

    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQ]:
    """A private RabbitMQ node with the MQTT plugin, shared by the session (slow to start);
    skips with the reason when RabbitMQ or its MQTT plugin is not installed."""
    from hotline.testing.rabbitmq import RabbitMQ, mqtt_plugin_missing

    missing = mqtt_plugin_missing()
    if missing:
        pytest.skip(missing)
    node = RabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def stations(hotline_command: str, tmp_path: Path) -> Path:
    """Keys for US-CAOC and RU-HMEIMIM (air and general-officer) made with
    ``hotline keys generate`` in tmp_path, with their keyring.json; returns tmp_path."""
    for station, party in (("US-CAOC", "US"), ("RU-HMEIMIM", "RU")):
        subprocess.run(
            [
                hotline_command,
                "keys",
                "generate",
                "--station",
                station,
                "--party",
                party,
                "--channels",
                "air,general-officer",
                "--keyring",
                "keyring.json",
            ],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=60,
        )
    return tmp_path


@pytest.fixture(scope="session")
def hotline_command() -> str:
    """The installed ``hotline`` entry point (beside this interpreter, as pip puts it)."""
    beside = Path(sys.executable).with_name("hotline")
    found = str(beside) if beside.exists() else shutil.which("hotline")
    assert found, "the hotline entry point is not installed (pip install -e .)"
    return found


@pytest.fixture(scope="session")
def scheduler() -> Iterator[str]:
    """The address of a cluster of two worker processes, one thread each, on loopback."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address
