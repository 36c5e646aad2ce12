"""The exit-code contract at its edges, through the installed entry point: what is bad
input (2, one line) and what a rejected journal or bundle (3), and a reader that goes
away (a closed pipe), which ends any command quietly without changing its verdict."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest

from tests.conftest import REPO

TUTORIAL = REPO / "examples" / "tutorial.toml"

#: two parties on one line, no one answering, calls retried RETRIES times: add events
SILENCE = """
[scenario]
name = "silence"
start = "2026-03-01T06:00:00Z"
seed = 7
duration = "2h"
[parties.BLUE]
air = "BLUE-AOC"
[parties.RED]
air = "RED-AOC"
[network.air]
latency = "2s"
[doctrine.channels.air]
fallback = "none"
retries = RETRIES
[doctrine.channels.air.deadlines]
flash = 30
"""

#: one incident called 41 times and never answered: its bundle's report runs past what
#: standard output buffers, so a closed pipe breaks it while it is being printed
LONG_SILENCE = SILENCE.replace("RETRIES", "40") + (
    '[[events]]\nat = "0s"\noriginator = "BLUE-AOC"\nincident = "flight-1"\n'
    'activity = "flight"\nprecedence = "flash"\n'
)

#: incidents in a journal: more than an unknown incident's error names
MANY_INCIDENTS = 7


def _environment() -> dict[str, str]:
    # a user's Python buffers standard output: unbuffered, a closed pipe shows only
    # while a command writes, never as the interpreter exits
    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def run(command: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [command, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_environment(),
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command printed, after checking it printed nothing else."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def journal_run(command: str, scenario: Path, directory: Path) -> Path:
    subprocess.run(
        [command, "exercise", "run", str(scenario), "-q", "--journal", str(directory)],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return directory


@pytest.fixture(scope="module")
def journals(hotline_command: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BLUE.journal, RED.journal and published.keyring.json of the tutorial."""
    return journal_run(hotline_command, TUTORIAL, tmp_path_factory.mktemp("tutorial"))


@pytest.fixture(scope="module")
def bundle(hotline_command: str, journals: Path) -> Path:
    """RED's evidence of strike-1, unsigned."""
    path = journals / "strike-1.evidence"
    export: list[str | Path] = ["audit", "evidence", journals / "RED.journal"]
    export += ["--incident", "strike-1"]
    assert run(hotline_command, *export, "-o", path).returncode == 0
    return path


@pytest.fixture(scope="module")
def long_bundle(hotline_command: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("long")
    scenario = directory / "long.toml"
    scenario.write_text(LONG_SILENCE)
    journal_run(hotline_command, scenario, directory / "journals")
    path = directory / "flight-1.evidence"
    export: list[str | Path] = ["audit", "evidence", directory / "journals" / "BLUE.journal"]
    assert run(hotline_command, *export, "--incident", "flight-1", "-o", path).returncode == 0
    return path


# --- an incident the journal does not hold -------------------------------------------


def test_exporting_an_incident_the_journal_does_not_hold_is_bad_input(
    hotline_command: str, journals: Path, tmp_path: Path
) -> None:
    journal, output = journals / "RED.journal", tmp_path / "out.evidence"
    result = run(hotline_command, "audit", "evidence", journal, "--incident", "nope", "-o", output)
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"hotline: error: {journal}: no signed message about incident 'nope'; "
        "it holds 'flight-1', 'patrol-1', 'strike-1'"
    )
    assert not output.exists()


def test_an_unknown_incident_names_only_a_few_of_those_the_journal_holds(
    hotline_command: str, tmp_path: Path
) -> None:
    events = "".join(
        f'[[events]]\nat = "{n}m"\noriginator = "BLUE-AOC"\nincident = "i-{n}"\n'
        'activity = "flight"\nprecedence = "flash"\n'
        for n in range(1, MANY_INCIDENTS + 1)
    )
    scenario = tmp_path / "many.toml"
    scenario.write_text(SILENCE.replace("RETRIES", "0") + events)
    journal = journal_run(hotline_command, scenario, tmp_path / "journals") / "BLUE.journal"
    result = run(
        hotline_command, "audit", "evidence", journal, "--incident", "i-9", "-o", tmp_path / "e"
    )
    assert result.returncode == 2
    assert one_error_line(result).endswith(
        "no signed message about incident 'i-9'; it holds 'i-1', 'i-2', 'i-3', 'i-4', 'i-5' "
        "and 2 more"
    )


# --- neither a journal nor a bundle: bad input; a damaged one: rejected ----------------


NEITHER = "not a journal (no SQLite header) or an evidence bundle (not a msgpack map)"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("tutorial.toml", TUTORIAL.read_bytes(), NEITHER),
        ("empty.bin", b"", "not a journal or an evidence bundle: the file is empty"),
        ("keyring.json", b'{"keys": []}\n', NEITHER),
        ("array.bin", msgpack.packb([b"envelope", b"key id", b"signature"]), NEITHER),
        (
            "map.bin",
            msgpack.packb({"format": "something else"}),
            "not a journal or an evidence bundle (a msgpack map with no evidence or digest)",
        ),
    ],
    ids=["toml", "empty", "json", "msgpack-array", "msgpack-map"],
)
def test_verifying_a_file_that_is_neither_a_journal_nor_a_bundle_is_bad_input(
    hotline_command: str, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = run(hotline_command, "audit", "verify", path)
    assert result.returncode == 2
    assert one_error_line(result) == f"hotline: error: {path}: {reason}"


@pytest.mark.parametrize("command", ["show", "evidence", "compare"])
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (TUTORIAL.read_bytes(), "not a journal (no SQLite header)"),
        (b"", "not a journal: the file is empty"),
    ],
    ids=["toml", "empty"],
)
def test_the_other_audit_commands_given_no_journal_say_so_with_exit_2(
    hotline_command: str, journals: Path, tmp_path: Path, command: str, content: bytes, reason: str
) -> None:
    path = tmp_path / "not-a.journal"
    path.write_bytes(content)
    extra: dict[str, list[str | Path]] = {
        "show": [],
        "evidence": ["--incident", "strike-1", "-o", tmp_path / "e.evidence"],
        "compare": [journals / "RED.journal", "--keyring", journals / "published.keyring.json"],
    }
    result = run(hotline_command, "audit", command, path, *extra[command])
    assert result.returncode == 2
    assert one_error_line(result) == f"hotline: error: {path}: {reason}"


def _flipped(at: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        damaged = bytearray(data)
        damaged[at if at >= 0 else len(data) // 2] ^= 0x01
        return bytes(damaged)

    return change


def _resealed(fields: Callable[[bytes, bytes], dict[str, bytes]]) -> Callable[[bytes], bytes]:
    """The bundle packed again with other outer fields, its digest recomputed."""

    def change(data: bytes) -> bytes:
        evidence = msgpack.unpackb(data)["evidence"]
        sealed = fields(evidence, hashlib.sha256(evidence).digest())
        return bytes(msgpack.packb(sealed, use_bin_type=True))

    return change


@pytest.mark.parametrize(
    ("kind", "change", "reason"),
    [
        ("bundle", _flipped(-1), "the bundle's digest does not match its content"),
        ("bundle", _flipped(0), "the bundle is not well-formed msgpack"),  # its map header
        ("bundle", _flipped(1), "the bundle is not well-formed msgpack"),  # its first key's
        (
            "bundle",
            _resealed(lambda evidence, digest: {"evidenc": evidence, "digest": digest}),
            "the bundle's fields are not evidence and digest (and a statement)",
        ),
        ("journal", _flipped(-1), "does not verify"),  # where, depends on the byte
        ("journal", lambda data: data[:4096], "not a readable journal"),
    ],
    ids=[
        "bundle-byte",
        "bundle-map-header",
        "bundle-first-key",
        "bundle-renamed-field",
        "journal-byte",
        "journal-truncated",
    ],
)
def test_a_damaged_or_forged_journal_or_bundle_still_does_not_verify_exit_3(
    hotline_command: str,
    journals: Path,
    bundle: Path,
    tmp_path: Path,
    kind: str,
    change: Callable[[bytes], bytes],
    reason: str,
) -> None:
    original = bundle if kind == "bundle" else journals / "RED.journal"
    path = tmp_path / original.name
    path.write_bytes(change(original.read_bytes()))
    result = run(hotline_command, "audit", "verify", path)
    assert result.returncode == 3
    line = one_error_line(result)
    assert line.startswith(f"hotline: {path}: does not verify"), line
    assert reason in line


def test_a_bundle_with_its_fields_in_another_order_is_still_a_bundle(
    hotline_command: str, bundle: Path, tmp_path: Path
) -> None:
    reorder = _resealed(lambda evidence, digest: {"digest": digest, "evidence": evidence})
    path = tmp_path / "reordered.evidence"
    path.write_bytes(reorder(bundle.read_bytes()))
    result = run(hotline_command, "audit", "verify", path)
    assert result.returncode == 4  # intact; no --keyring
    assert f"{path}: evidence bundle verifies" in result.stdout


# --- a reader that goes away ----------------------------------------------------------


def test_a_reader_that_stops_after_one_line_ends_the_command_quietly(
    hotline_command: str,
) -> None:
    # `hotline states | head -1`; a pipe smaller than the document keeps the command
    # writing when its reader goes (where the system lets a pipe's size be set)
    read, write = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    process = subprocess.Popen(
        [hotline_command, "states"], stdout=write, stderr=subprocess.PIPE, env=_environment()
    )
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert reader.readline() == b"# Incident states\n"
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 0
    assert errors == b""


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--version"], 0),
        (["states"], 0),
        (["exercise", "run", str(TUTORIAL)], 0),  # rich's Console would exit 1
        (["audit", "verify", "{journal}"], 4),  # decided: only the report is lost
        (["audit", "verify", "{long_bundle}"], 4),  # cut off while printing the report
    ],
    ids=["version", "states", "exercise", "verify", "verify-long"],
)
def test_a_reader_gone_before_the_output_leaves_the_exit_code_as_it_was(
    hotline_command: str, journals: Path, long_bundle: Path, args: list[str], code: int
) -> None:
    read, write = os.pipe()
    os.close(read)
    paths = {"journal": journals / "RED.journal", "long_bundle": long_bundle}
    process = subprocess.Popen(
        [hotline_command, *(arg.format(**paths) for arg in args)],
        stdout=write,
        stderr=subprocess.PIPE,
        env=_environment(),
    )
    os.close(write)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == code
    assert errors == b""


def test_an_error_with_no_one_left_to_read_it_still_exits_2(hotline_command: str) -> None:
    # `hotline audit verify x.toml 2>&1 | true`
    read, write = os.pipe()
    os.close(read)
    result = subprocess.run(
        [hotline_command, "audit", "verify", str(TUTORIAL)],
        stdout=write,
        stderr=write,
        timeout=60,
        check=False,
        env=_environment(),
    )
    os.close(write)
    assert result.returncode == 2
