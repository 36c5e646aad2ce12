"""Input that once crashed a command or switched a check off: each now gets exit 2 and
one clear line (commands), or a ValueError (the core's entry points)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hotline.cli import main
from hotline.core.verifier import Verifier
from hotline.timestamps import format_instant
from tests.conftest import REPO, VECTORS
from tests.harness import Net, make_doctrine
from tests.test_verifier import KEYRING, NOW, SENDER, message

TUTORIAL = (REPO / "examples" / "tutorial.toml").read_text()


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def station(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key = tmp_path / "us.key"
    assert (
        main(
            [
                "keys",
                "generate",
                "--station",
                "US-CAOC",
                "--party",
                "US",
                "--channels",
                "air",
                "--keyring",
                str(tmp_path / "keyring.json"),
                "--out",
                str(key),
            ]
        )
        == 0
    )
    capsys.readouterr()
    return key


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("[1, 2]", "must be a JSON object"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ('{"a":' * 20 + "1" + "}" * 20, "nested deeper than 8 levels"),
    ],
    ids=["a list", "5000 levels", "20 levels"],
)
def test_a_body_that_is_no_body_is_one_clear_error(
    station: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, says: str
) -> None:
    line = one_line_error(
        capsys,
        *("sign", "--key", str(station), "--channel", "air", "--to", "RU-HMEIMIM"),
        *("--incident", "i", "--body", body, "-o", str(tmp_path / "m")),
    )
    assert says in line


@pytest.mark.parametrize("now", ["1e20", "nan", "inf", "-5"])
def test_a_time_no_clock_shows_is_refused_by_inspect(
    station: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], now: str
) -> None:
    keyring = str(tmp_path / "keyring.json")
    with pytest.raises(SystemExit) as exited:  # argparse refuses the argument itself
        main(["inspect", str(tmp_path / "m"), "--keyring", keyring, "--now", now])
    assert exited.value.code == 2
    assert "Unix seconds from 0 to" in capsys.readouterr().err


def test_a_vector_whose_clock_is_infinite_is_not_runnable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (VECTORS / "01-valid-notify.json").read_text()
    now = json.loads(text)["now"]
    (tmp_path / "v.json").write_text(text.replace(f'"now": {json.dumps(now)}', '"now": 1e400'))
    line = one_line_error(capsys, "vectors", "check", str(tmp_path))
    assert "now must be finite" in line


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            '[[faults]]\nkind = "flap"\nup = 0\ndown = 0\n',
            "faults[0].up: a flap's up and down times cannot both be 0",
        ),
        ("[deep]\nx = " + "[" * 1000 + "]" * 1000 + "\n", "nested too deeply"),
        (
            '[[faults]]\nkind = "duplicate"\ncopies = 10\n' * 6,
            "faults[2]: with the faults before it, one message could become 1331 copies",
        ),
        (
            '[[events]]\nat = "1h"\noriginator = "BLUE-AOC"\nactivity = "flight"\ntext = "'
            + "x" * 100_000
            + '"\n',
            "text: longer than 4096 bytes",
        ),
    ],
    ids=["flap of no length", "1000 nested arrays", "copies of copies", "a text too long"],
)
def test_a_scenario_that_crashed_the_loader_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, says: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TUTORIAL + "\n" + change)
    for command in ("check", "run"):
        assert says in one_line_error(capsys, "exercise", command, str(path))


def test_a_scenario_read_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"# " + b"x" * 10_000_001)
    assert "larger than 10 MB" in one_line_error(capsys, "exercise", "check", str(huge))
    # an endless stream is read no further than the bound (Linux: always there)
    assert "larger than 10 MB" in one_line_error(capsys, "exercise", "check", "/dev/zero")


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_a_clock_that_is_not_finite_is_refused_not_believed(now: float) -> None:
    """With NaN every freshness comparison is false: a stale message would pass."""
    stale = SENDER.sign(message(at=NOW - 10**6))
    with pytest.raises(ValueError, match="finite"):
        Verifier(KEYRING).verify(stale, now)
    net = Net.of(["US", "RU"], make_doctrine())
    with pytest.raises(ValueError, match="finite"):
        net.endpoints["US"].on_timer(now)


def test_a_time_out_of_every_calendar_is_printed_as_such() -> None:
    assert format_instant(1e300) == "1e+300 (not a time)"
    assert format_instant(math.nan) == "nan (not a time)"
    assert format_instant(0.0) == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("start", "says"),
    [("1900-01-01T00:00:00Z", "before 1970"), ("9999-12-31T20:00:00Z", "past the year 9999")],
)
def test_a_scenario_clock_outside_the_calendar_is_refused_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, says: str
) -> None:
    path = tmp_path / "s.toml"
    original = 'start = "2026-03-01T06:00:00Z"'
    assert original in TUTORIAL
    path.write_text(TUTORIAL.replace(original, f'start = "{start}"', 1))
    assert says in one_line_error(capsys, "exercise", "check", str(path))
