"""`hotline proxy` and a live exercise through the installed entry point: started, changed
while it runs, stopped with Ctrl-C, and every mistake one line."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hotline.testing import Mosquitto, free_port
from tests.conftest import REPO

pytestmark = pytest.mark.broker


def _wait_for(process: subprocess.Popen[str], text: str, timeout: float = 10) -> list[str]:
    assert process.stdout is not None
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not printed: {lines}")


def test_the_proxy_command_runs_changes_and_stops(
    mosquitto: Mosquitto, hotline_command: str, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('seed = 3\n[[faults]]\nkind = "drop"\ntopic = "t/#"\n')
    listen, control = free_port(), free_port()
    api = f"http://127.0.0.1:{control}"
    proxy = subprocess.Popen(
        [hotline_command, "proxy", "--broker", mosquitto.url, "--listen", f"127.0.0.1:{listen}",
         "--faults", str(plan), "--control", f"127.0.0.1:{control}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = _wait_for(proxy, "control API at")
        assert f"clients connect to mqtt://127.0.0.1:{listen}" in started[0]
        publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="pub")
        publisher.connect("127.0.0.1", listen)
        publisher.loop_start()
        publisher.publish("t/x", b"lost", qos=1).wait_for_publish(5)
        assert "dropped    t/x by drop" in _wait_for(proxy, "dropped")[-1]

        def control_command(*words: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [hotline_command, "proxy", "faults", *words, "--control", api],
                check=False, capture_output=True, text=True, timeout=30,
            )  # fmt: skip

        added = control_command("add", "kind=duplicate", "copies=2", "topic='t/#'")
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("added fault 2: ")
        listed = control_command("list")
        assert [json.loads(line)["kind"] for line in listed.stdout.splitlines()] == [
            "drop",
            "duplicate",
        ]
        assert control_command("remove", "1").returncode == 0
        publisher.publish("t/x", b"thrice", qos=1).wait_for_publish(5)
        _wait_for(proxy, "duplicated")
        refused = control_command("add", "kind=drop", "probability=2")
        assert refused.returncode == 2
        assert refused.stderr.strip() == (
            f"hotline: error: {api}: POST /faults: fault.probability: must be a number from "
            "0 to 1, not 2"
        )
        publisher.loop_stop()
        publisher.disconnect()
    finally:
        proxy.send_signal(signal.SIGINT)
        out, err = proxy.communicate(timeout=20)
    assert proxy.returncode == 0, err
    counts = json.loads(out[out.index("{") :])
    assert counts["drops"] == {"drop": 1}
    assert counts["injections"] == {"duplicate": 2}
    assert counts["copies"] == 2


def test_proxy_mistakes_are_one_line(
    mosquitto: Mosquitto, hotline_command: str, tmp_path: Path
) -> None:
    def run(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [hotline_command, "proxy", *words],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )

    bad = tmp_path / "bad.toml"
    bad.write_text('[[faults]]\nkind = "drop"\nwhen = "now"\n')
    cases = [
        (["--broker", "mqtt://127.0.0.1:1"], "cannot reach the broker mqtt://127.0.0.1:1: "
         "connection refused"),
        (["--broker", mosquitto.url, "--faults", str(bad)], f"{bad}: faults[0].when: unknown field"),
        (["--broker", mosquitto.url, "--listen", "nowhere"], "--listen: 'nowhere' is not HOST:PORT"),
        (["--broker", mosquitto.url, "--control", "10.0.0.1:80"], "loopback only"),
        ([], "--broker: required"),
        (["faults", "list", "--control", f"http://127.0.0.1:{free_port()}"],
         "cannot reach the proxy's control API"),
    ]  # fmt: skip
    for words, message in cases:
        done = run(*words)
        assert done.returncode == 2, (words, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert message in lines[0]
        assert lines[0].startswith("hotline: error: ")


def test_an_interrupted_live_run_writes_what_happened(
    mosquitto: Mosquitto, hotline_command: str, tmp_path: Path
) -> None:
    out = tmp_path / "live.json"
    run = subprocess.Popen(
        [hotline_command, "exercise", "run", str(REPO / "examples" / "tutorial.toml"),
         "--broker", mosquitto.url, "--time-scale", "30", "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert run.stderr is not None
    progress = run.stderr.readline()  # the first progress line: the posts are running
    assert progress.startswith("live: ")
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "INTERRUPTED: the result holds what happened until then" in err
    assert "Traceback" not in err
    result = json.loads(out.read_text())
    assert result["interrupted"] is True
    assert result["transport"] == "live"
    assert result["incidents"]
