"""HTML reports: what they show, that their pictures are well-formed SVG, and that a
real browser renders them."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hotline.cli import main
from tests.conftest import REPO

SVG = "{http://www.w3.org/2000/svg}"


def _pictures(page: str) -> list[ET.Element]:
    return [ET.fromstring(block) for block in re.findall(r"<svg .*?</svg>", page, re.S)]


def _texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def _tutorial_report(directory: Path) -> Path:
    tutorial = REPO / "examples" / "tutorial.toml"
    assert main(["exercise", "run", str(tutorial), "-q", "--report", str(directory)]) == 0
    return directory / "index.html"


def test_an_exercise_report_shows_outcomes_and_a_sequence_per_incident(tmp_path: Path) -> None:
    page = _tutorial_report(tmp_path).read_text()
    assert "<script" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    for incident in ("flight-1", "patrol-1", "strike-1"):
        assert f"<td>{incident}</td>" in page
    pictures = _pictures(page)
    lanes = [p for p in pictures if p.get("class") == "swimlane"]
    assert len(lanes) == 3
    strike = lanes[2]
    texts = _texts(strike)
    assert texts[:4] == ["BLUE-AOC", "BLUE-GO", "RED-AOC", "RED-GO"]
    assert any(t.startswith("escalate") for t in texts)
    colours = {line.get("stroke") for line in strike.iter(f"{SVG}line")}
    assert {"#1f6fb2", "#7b3fa0"} <= colours  # air and general-officer arrows
    thick = [ln for ln in strike.iter(f"{SVG}line") if ln.get("stroke-width") == "3"]
    assert len(thick) == 1  # the fallback to the general officers
    charts = [p for p in pictures if p.get("class") == "chart"]
    assert [_texts(c)[0] for c in charts] == ["Outcomes", "Time to outcome (s)"]


def test_rejections_and_drops_are_marked(tmp_path: Path) -> None:
    scenario = REPO / "examples" / "warnings-unheard-2015.toml"
    assert main(["exercise", "run", str(scenario), "-q", "--report", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    texts = [t for p in _pictures(page) for t in _texts(p)]
    assert any(t.startswith("rejected: unknown-key") for t in texts)
    assert any(t.startswith("dropped") for t in texts)


def test_a_sweep_report_draws_probabilities_with_bands_and_percentiles(tmp_path: Path) -> None:
    code = main(
        [
            "sweep",
            str(REPO / "examples" / "tutorial.toml"),
            "--runs",
            "5",
            "--workers",
            "1",
            "--vary",
            "network.air.loss=0,0.4",
            "--report",
            str(tmp_path),
            "--allow-failed-expectations",  # at 40% loss some runs fail them, as they should
        ]
    )
    assert code == 0
    page = (tmp_path / "index.html").read_text()
    probability, times = _pictures(page)
    assert _texts(probability)[0] == "Outcome probability"
    assert len(list(probability.iter(f"{SVG}polygon"))) >= 1  # a 95% band
    assert "acknowledged on first line" in _texts(probability)
    assert {"p50", "p90", "p99"} <= set(_texts(times))
    assert "<td>0.4</td>" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium")
def test_the_reports_render_in_a_headless_browser(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = _tutorial_report(tmp_path)
    shot = tmp_path / "report.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*command, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    assert dom.count('class="swimlane"') == 3
    subprocess.run(
        [*command, "--window-size=1200,2200", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 2200)
    assert len(data) > 50_000  # a page of tables and diagrams, not a blank one
