"""Broken scenarios: each exits 2 with one line naming the file, the field and the reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hotline.cli import main

GOOD = """
[scenario]
name = "broken"

[parties.US]
air = "US-CAOC"
general-officer = "US-CJCS"

[parties.RU]
air = "RU-HMEIMIM"
general-officer = "RU-CGS"

[[responders]]
station = "RU-HMEIMIM"
action = "ack"

[[events]]
at = "1m"
originator = "US-CAOC"
incident = "inc-1"
activity = "strike"

[[expect]]
incident = "inc-1"
outcome = "acknowledged"
"""

# (what breaks, replacement of GOOD's text (old -> new), the field named, a word of the reason)
CATALOGUE = [
    ("not TOML", ('name = "broken"', 'name = "broken'), "", "TOML"),
    ("no scenario table", ('[scenario]\nname = "broken"', ""), "scenario", "table"),
    ("bad name", ('name = "broken"', 'name = "has space"'), "scenario.name", "incident id"),
    (
        "unknown top-level table",
        ("[scenario]", "[scenery]\nx = 1\n[scenario]"),
        "scenery",
        "unknown",
    ),
    (
        "unknown scenario key",
        ('name = "broken"', 'name = "broken"\ncolour = "red"'),
        "scenario.colour",
        "unknown",
    ),
    (
        "bad start",
        ('name = "broken"', 'name = "broken"\nstart = "yesterday"'),
        "scenario.start",
        "RFC 3339",
    ),
    (
        "naive start",
        ('name = "broken"', 'name = "broken"\nstart = "2018-02-07T20:00:00"'),
        "scenario.start",
        "offset",
    ),
    (
        "negative seed",
        ('name = "broken"', 'name = "broken"\nseed = -1'),
        "scenario.seed",
        "whole number",
    ),
    (
        "bad duration",
        ('name = "broken"', 'name = "broken"\nduration = "soon"'),
        "scenario.duration",
        "duration",
    ),
    (
        "bad signing",
        ('name = "broken"', 'name = "broken"\nsigning = "rsa"'),
        "scenario.signing",
        "ed25519",
    ),
    (
        "one party",
        ('[parties.RU]\nair = "RU-HMEIMIM"\ngeneral-officer = "RU-CGS"', ""),
        "parties",
        "two parties",
    ),
    (
        "unknown channel",
        ('air = "RU-HMEIMIM"', 'sea = "RU-HMEIMIM"'),
        "parties.RU.sea",
        "not a channel",
    ),
    (
        "station with slash",
        ('air = "RU-HMEIMIM"', 'air = "RU/HMEIMIM"'),
        "parties.RU.air",
        "station id",
    ),
    (
        "station shared",
        ('general-officer = "RU-CGS"', 'general-officer = "US-CJCS"'),
        "parties.RU.general-officer",
        "belongs to US",
    ),
    (
        "doctrine field",
        ("[[responders]]", "[doctrine.channels.air]\nretries = -2\n\n[[responders]]"),
        "doctrine.channels.air.retries",
        "whole number",
    ),
    (
        "doctrine stations",
        ("[[responders]]", "[doctrine.channels.air]\nstations = {}\n\n[[responders]]"),
        "doctrine.channels.air.stations",
        "[parties]",
    ),
    (
        "network latency kind",
        ("[[responders]]", '[network.air]\nlatency = { kind = "gamma" }\n\n[[responders]]'),
        "network.air.latency.kind",
        "lognormal",
    ),
    (
        "a duration in unknown units keeps both its quotes",
        ("[[responders]]", '[network.general-officer]\nlatency = "5 parsecs"\n\n[[responders]]'),
        "network.general-officer.latency",
        '\'5 parsecs\' is not a duration like 90, "90s", "10m" or "1h30m"',
    ),
    (
        "an area of the wrong shape",
        ('activity = "strike"', 'activity = "strike"\narea = { lat = 35.0 }'),
        "events[0].area.lon",
        "required",
    ),
    (
        "an area both point and route",
        (
            'activity = "strike"',
            'activity = "strike"\narea = { lat = 35.0, lon = 40.0, route = [[35, 40], [35.1, 40]] }',
        ),
        "events[0].area.route",
        "not both",
    ),
    (
        "a route of one point",
        ('activity = "strike"', 'activity = "strike"\narea = { route = [[35, 40]] }'),
        "events[0].area.route",
        "two or more",
    ),
    (
        "view of no party",
        ('outcome = "acknowledged"', 'view = { XX = "disputed" }'),
        "expect[0].view.XX",
        "not a party",
    ),
    (
        "view of an unknown outcome",
        ('outcome = "acknowledged"', 'view = { RU = "happy" }'),
        "expect[0].view.RU",
        "is not one of",
    ),
    (
        "answer of an unknown word",
        ('outcome = "acknowledged"', 'answer = { RU = "yes" }'),
        "expect[0].answer.RU",
        "is not one of",
    ),
    (
        "view not a table",
        ('outcome = "acknowledged"', 'view = "disputed"'),
        "expect[0].view",
        "must be a table",
    ),
    (
        "empty view",
        ('outcome = "acknowledged"', "view = {}"),
        "expect[0].view",
        "at least one party",
    ),
    (
        "relay for nobody",
        ('incident = "inc-1"\nactivity', 'incident = "inc-1"\naction = "relay"\nactivity'),
        "events[0].for",
        "required",
    ),
    (
        "for on a notice",
        ('incident = "inc-1"\nactivity', 'incident = "inc-1"\nfor = "RU"\nactivity'),
        "events[0].for",
        "only a relay",
    ),
    (
        "correction to a dispute without a reason",
        (
            "[[expect]]",
            '[[events]]\nat = "2m"\naction = "correct"\nincident = "inc-1"\nanswer = "dispute"\nstation = "RU-HMEIMIM"\n\n[[expect]]',
        ),
        "events[1].reason",
        "required",
    ),
    (
        "correction by the originator",
        (
            "[[expect]]",
            '[[events]]\nat = "2m"\naction = "correct"\nincident = "inc-1"\nanswer = "ack"\nstation = "US-CAOC"\n\n[[expect]]',
        ),
        "events[1].station",
        "originator's own station",
    ),
    (
        "correction to no answer",
        (
            "[[expect]]",
            '[[events]]\nat = "2m"\naction = "correct"\nincident = "inc-1"\nanswer = "maybe"\nstation = "RU-HMEIMIM"\n\n[[expect]]',
        ),
        "events[1].answer",
        "is not one of ack, dispute",
    ),
    (
        "suspension of a line the station is not on",
        (
            "[[expect]]",
            '[[events]]\nat = "2m"\naction = "suspend"\nstation = "RU-HMEIMIM"\nchannel = "ground"\n\n[[expect]]',
        ),
        "events[1].channel",
        "not on the ground line",
    ),
    (
        "network sigma",
        (
            "[[responders]]",
            '[network.air]\nlatency = { kind = "lognormal", median = "2s", sigma = 9 }\n\n[[responders]]',
        ),
        "network.air.latency.sigma",
        "0 to 5",
    ),
    (
        "network loss",
        ("[[responders]]", "[network.air]\nloss = 1.5\n\n[[responders]]"),
        "network.air.loss",
        "0 to 1",
    ),
    (
        "network outage",
        ("[[responders]]", '[network.air]\noutages = [["2h", "1h"]]\n\n[[responders]]'),
        "network.air.outages[0]",
        "after start",
    ),
    (
        "responder station",
        ('station = "RU-HMEIMIM"', 'station = "RU-NOBODY"'),
        "responders[0].station",
        "not a station",
    ),
    (
        "responder action",
        ('action = "ack"', 'action = "shrug"'),
        "responders[0].action",
        "not one of",
    ),
    (
        "dispute without reason",
        ('action = "ack"', 'action = "dispute"'),
        "responders[0].reason",
        "required",
    ),
    (
        "reason on an ack",
        ('action = "ack"', 'action = "ack"\nreason = "other"'),
        "responders[0].reason",
        "only a dispute",
    ),
    (
        "resolve off a resolving line",
        ('action = "ack"', 'action = "resolve"\nactions = { RU = "x" }'),
        "responders[0].action",
        "resolves",
    ),
    (
        "probability",
        ('action = "ack"', 'action = "ack"\nprobability = 2'),
        "responders[0].probability",
        "0 to 1",
    ),
    ("event without time", ('at = "1m"\n', ""), "events[0].at", "required"),
    ("event after the end", ('at = "1m"', 'at = "9d"'), "events[0].at", "end of the run"),
    (
        "event originator",
        ('originator = "US-CAOC"', 'originator = "US-NOBODY"'),
        "events[0].originator",
        "not a station",
    ),
    (
        "event channel",
        ('incident = "inc-1"', 'incident = "inc-1"\nchannel = "ground"'),
        "events[0].channel",
        "not on the ground line",
    ),
    (
        "event to",
        ('incident = "inc-1"', 'incident = "inc-1"\nto = ["TR"]'),
        "events[0].to[0]",
        "no station",
    ),
    (
        "event precedence",
        ('incident = "inc-1"', 'incident = "inc-1"\nprecedence = "urgent"'),
        "events[0].precedence",
        "not a valid",
    ),
    ("event without activity", ('activity = "strike"\n', ""), "events[0].activity", "required"),
    (
        "ladder without a station",
        ('general-officer = "US-CJCS"\n', ""),
        "events[0].channel",
        "falls back to general-officer",
    ),
    (
        "duplicate incident",
        (
            "[[expect]]",
            '[[events]]\nat = "2m"\noriginator = "US-CAOC"\nincident = "inc-1"\nactivity = "flight"\n\n[[expect]]',
        ),
        "events[1].incident",
        "already used",
    ),
    (
        "withdraw of nothing",
        (
            "[[expect]]",
            '[[events]]\nat = "2m"\naction = "withdraw"\nincident = "inc-9"\n\n[[expect]]',
        ),
        "events[1].incident",
        "no earlier event opens",
    ),
    (
        "repeat without interval",
        ('activity = "strike"', 'activity = "strike"\nrepeat = 3'),
        "events[0].every",
        "interval",
    ),
    (
        "expect unknown incident",
        ('incident = "inc-1"\noutcome', 'incident = "inc-2"\noutcome'),
        "expect[0].incident",
        "no event opens",
    ),
    (
        "expect outcome",
        ('outcome = "acknowledged"', 'outcome = "great"'),
        "expect[0].outcome",
        "not one of",
    ),
    ("expect nothing", ('outcome = "acknowledged"', ""), "expect[0]", "expects nothing"),
    (
        "expect within",
        ('outcome = "acknowledged"', 'within = "later"'),
        "expect[0].within",
        "duration",
    ),
]


def broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in GOOD, old
    path = tmp_path / "broken.toml"
    path.write_text(GOOD.replace(old, new, 1))
    return path


def test_the_base_scenario_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    assert main(["exercise", "check", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("case", "change", "field", "reason"), CATALOGUE, ids=[c[0] for c in CATALOGUE]
)
def test_broken_scenario_is_one_line_naming_file_field_and_reason(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    change: tuple[str, str],
    field: str,
    reason: str,
) -> None:
    path = broken(tmp_path, *change)
    for command in (["exercise", "check", str(path)], ["exercise", "run", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert "Traceback" not in err
        assert lines[0].startswith(f"hotline: error: {path}: ")
        if field:
            assert f": {field}: " in lines[0], lines[0]
        assert reason in lines[0], lines[0]


def test_missing_and_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exercise", "check", str(tmp_path / "nope.toml")]) == 2
    assert "No such file" in capsys.readouterr().err
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert main(["exercise", "check", str(binary)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_through_the_installed_entry_point(hotline_command: str, tmp_path: Path) -> None:
    path = broken(tmp_path, 'action = "ack"', 'action = "dispute"')
    result = subprocess.run(
        [hotline_command, "exercise", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"hotline: error: {path}: responders[0].reason: required"
