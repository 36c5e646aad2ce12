"""One conformance suite, two transports: every case must end the same on the simulated
network and on a real broker (MQTT), case by case and incident by incident."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hotline.live.exercise import run_live
from hotline.sim.exercise import run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import parse_scenario
from hotline.testing import Mosquitto

HEAD = """
[scenario]
name = "conformance"
seed = 9
duration = "1d"

[parties.US]
air = "US-CAOC"
ground = "US-GROUND"
general-officer = "US-CJCS"

[parties.RU]
air = "RU-HMEIMIM"
ground = "RU-GROUND"
general-officer = "RU-CGS"

[parties.TR]
ground = "TR-GROUND"
general-officer = "TR-TGS"
"""


def notice(line: str, incident: str, at: str = "0s") -> str:
    fields = ""
    station = {"air": "US-CAOC", "ground": "US-GROUND"}[line]
    return f'[[events]]\nat = "{at}"\noriginator = "{station}"\nchannel = "{line}"\nincident = "{incident}"\nactivity = "patrol"\nprecedence = "flash"\n{fields}\n'


def rule(station: str, action: str, **extra: Any) -> str:
    fields = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in extra.items())
    return f'[[responders]]\nstation = "{station}"\naction = "{action}"\n{fields}\n'


# case -> (scenario body, expected (incident, outcome, lines) for every incident)
CASES: dict[str, tuple[str, list[tuple[str, str, tuple[str, ...]]]]] = {
    "notify-ack": (
        notice("air", "a") + rule("RU-HMEIMIM", "ack", delay="1m"),
        [("a", "acknowledged", ("air",))],
    ),
    "standby-then-ack": (
        notice("air", "a") + rule("RU-HMEIMIM", "standby-then-ack", delay="1m", final_delay="5m"),
        [("a", "acknowledged", ("air",))],
    ),
    "dispute-escalate-ack": (
        notice("air", "a")
        + rule("RU-HMEIMIM", "dispute", reason="location-conflict", delay="1m")
        + rule("RU-CGS", "ack", delay="2m"),
        [("a", "acknowledged", ("air", "general-officer"))],
    ),
    "silence-retry-fallback-unresolved": (
        notice("air", "a"),
        [("a", "unresolved", ("air", "general-officer"))],
    ),
    "withdraw": (
        notice("air", "a") + '[[events]]\nat = "3m"\naction = "withdraw"\nincident = "a"\n\n',
        [("a", "withdrawn", ("air",))],
    ),
    "general-officers-resolve": (
        notice("ground", "g")
        + '[[responders]]\nstation = "RU-CGS"\naction = "resolve"\ndelay = "3m"\n'
        + 'actions = { RU = "fall back", US = "draw off" }\n\n',
        [("g", "resolved", ("ground", "general-officer"))],
    ),
    "three-party-line": (
        notice("ground", "t")
        + rule("RU-GROUND", "ack", delay="1m")
        + rule("TR-GROUND", "ack", delay="4m"),
        [("t", "acknowledged", ("ground",))],
    ),
}


def simulated(body: str) -> dict[str, Any]:
    return build_result(run_exercise(parse_scenario(HEAD + body, "conformance.toml"), record=False))


def live(url: str) -> Callable[[str], dict[str, Any]]:
    def run(body: str) -> dict[str, Any]:
        scenario = parse_scenario(HEAD + body, "conformance.toml")
        return asyncio.run(run_live(scenario, url, time_scale=1200.0))

    return run


@pytest.fixture(
    params=[
        "sim",
        pytest.param("mqtt", marks=pytest.mark.broker),
        # any MQTT 3.1.1 broker must do: RabbitMQ's MQTT plugin too, where installed
        pytest.param("rabbitmq", marks=[pytest.mark.broker, pytest.mark.slow]),
    ]
)
def transport(
    request: pytest.FixtureRequest, tmp_path: Any
) -> Iterator[Callable[[str], dict[str, Any]]]:
    if request.param == "sim":
        yield simulated
        return
    if request.param == "rabbitmq":
        yield live(request.getfixturevalue("rabbitmq").url)
        return
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        yield live(broker.url)
    finally:
        broker.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_transport_conforms(case: str, transport: Callable[[str], dict[str, Any]]) -> None:
    body, expected = CASES[case]
    result = transport(body)
    got = [(i["id"], i["outcome"], tuple(i["channels"])) for i in result["incidents"]]
    assert got == expected
    broken = [i for i in result["invariants"] if not i["held"]]
    assert not broken, broken
