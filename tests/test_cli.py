"""The ``hotline`` command, run through its installed entry point."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hotline import __version__
from tests.conftest import VECTORS

NOTICE_BODY = '{"activity": "strike", "token": {"$bin": "00ff"}}'


class Cli:
    def __init__(self, command: str, cwd: Path) -> None:
        self.command = command
        self.cwd = cwd

    def __call__(
        self, *args: str | Path, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.command, *map(str, args)],
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def cli(hotline_command: str, tmp_path: Path) -> Cli:
    return Cli(hotline_command, tmp_path)


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    assert result.returncode == 2
    text = result.stderr.decode()
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    for needle in needles:
        assert needle in last, last


def sign_notice(cli: Cli, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return cli(
        "sign",
        "--key",
        "US-CAOC.key",
        "--channel",
        "air",
        "--to",
        "RU-HMEIMIM",
        "--incident",
        "inc-1",
        "--precedence",
        "flash",
        "--body",
        NOTICE_BODY,
        *extra,
    )


def inspect(cli: Cli, *args: str, stdin: bytes | None = None) -> tuple[int, dict[str, Any]]:
    result = cli("inspect", *args, "--keyring", "keyring.json", stdin=stdin)
    assert "Traceback" not in result.stderr.decode()
    return result.returncode, json.loads(result.stdout)


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() in (
        f"hotline {__version__} (pure Python)",
        f"hotline {__version__} (compiled)",
    )


def test_keys_generate_writes_0600_key_and_public_keyring(cli: Cli, stations: Path) -> None:
    key_file = stations / "US-CAOC.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keyring = json.loads((stations / "keyring.json").read_text())
    assert [k["station"] for k in keyring["keys"]] == ["RU-HMEIMIM", "US-CAOC"]
    assert "seed" not in (stations / "keyring.json").read_text()
    again = cli(
        "keys",
        "generate",
        "--station",
        "US-CAOC",
        "--party",
        "US",
        "--channels",
        "air",
        "--keyring",
        "keyring.json",
    )
    assert_one_line_error(again, "US-CAOC.key", "exists")
    listing = cli("keys", "list", "--keyring", "keyring.json")
    assert listing.returncode == 0
    assert listing.stdout.decode().count("valid") == 2


def test_sign_then_inspect_is_valid_and_shows_the_envelope(cli: Cli, stations: Path) -> None:
    assert sign_notice(cli, "-o", "notice.bin").returncode == 0
    code, report = inspect(cli, "notice.bin", "--channel", "air")
    assert code == 0
    assert report["verdict"] == "valid"
    assert report["envelope"]["from"] == "US-CAOC"
    assert report["envelope"]["body"] == {"activity": "strike", "token": {"$bin": "00ff"}}
    assert len(report["digest"]) == 64


def test_inspect_reads_hex_from_stdin(cli: Cli, stations: Path) -> None:
    signed = sign_notice(cli, "--hex").stdout
    code, report = inspect(cli, "-", "--hex", stdin=signed)
    assert (code, report["verdict"]) == (0, "valid")


def test_ack_bound_to_the_notice_digest(cli: Cli, stations: Path) -> None:
    sign_notice(cli, "-o", "notice.bin")
    _, notice = inspect(cli, "notice.bin")
    result = cli(
        "sign",
        "--key",
        "RU-HMEIMIM.key",
        "--channel",
        "air",
        "--kind",
        "ack",
        "--to",
        "US-CAOC",
        "--incident",
        "inc-1",
        "--ref",
        notice["digest"],
        "-o",
        "ack.bin",
    )
    assert result.returncode == 0, result.stderr
    code, ack = inspect(cli, "ack.bin")
    assert code == 0
    assert ack["envelope"]["ref"] == notice["digest"]


def test_tampered_message_exits_3_with_reason(cli: Cli, stations: Path) -> None:
    sign_notice(cli, "-o", "notice.bin")
    data = bytearray((stations / "notice.bin").read_bytes())
    data[30] ^= 0x04
    (stations / "tampered.bin").write_bytes(bytes(data))
    code, report = inspect(cli, "tampered.bin")
    assert code == 3
    assert report["verdict"] == "rejected"
    assert report["reason"] == "bad-signature"


def test_stale_message_exits_3_and_shows_the_unverified_envelope(cli: Cli, stations: Path) -> None:
    sign_notice(cli, "--at", "2018-02-07T20:00:00Z", "-o", "old.bin")
    code, report = inspect(cli, "old.bin", "--now", "2018-02-08T20:00:00Z")
    assert code == 3
    assert report["reason"] == "stale"
    assert report["unverified_envelope"]["inc"] == "inc-1"


def test_revoked_key_is_refused(cli: Cli, stations: Path) -> None:
    sign_notice(cli, "-o", "notice.bin")
    key_id = json.loads((stations / "keyring.json").read_text())["keys"][1]["key_id"]
    assert (
        cli("keys", "revoke", key_id[:8], "--keyring", "keyring.json", "--at", "0").returncode == 0
    )
    code, report = inspect(cli, "notice.bin")
    assert (code, report["reason"]) == (3, "key-revoked")
    # revoking it again later cannot move the revocation back, and the key stays revoked
    later = cli("keys", "revoke", key_id[:8], "--keyring", "keyring.json", "--at", "4000000000")
    assert later.returncode == 2
    assert b"a revocation only moves earlier" in later.stderr
    assert json.loads((stations / "keyring.json").read_text())["keys"][1]["revoked_at"] == (
        "1970-01-01T00:00:00Z"
    )
    code, report = inspect(cli, "notice.bin")
    assert (code, report["reason"]) == (3, "key-revoked")


def test_undoing_a_revocation_is_explicit_and_logged(cli: Cli, stations: Path) -> None:
    sign_notice(cli, "-o", "notice.bin")
    key_id = json.loads((stations / "keyring.json").read_text())["keys"][1]["key_id"]
    revoke = ("keys", "revoke", key_id[:8], "--keyring", "keyring.json", "--at", "0")
    assert cli(*revoke, "--reason", "laptop lost").returncode == 0
    assert cli("keys", "unrevoke", key_id[:8], "--keyring", "keyring.json").returncode == 2
    blank = cli("keys", "unrevoke", key_id[:8], "--keyring", "keyring.json", "--reason", " ")
    assert_one_line_error(blank, "--reason")
    undo = ("keys", "unrevoke", key_id[:8], "--keyring", "keyring.json", "--reason", "found")
    assert cli(*undo).returncode == 0
    code, _report = inspect(cli, "notice.bin")
    assert code == 0
    document = json.loads((stations / "keyring.json").read_text())
    assert [(e["act"], e["reason"]) for e in document["log"]] == [
        ("revoke", "laptop lost"),
        ("unrevoke", "found"),
    ]
    # the log survives every rewrite of the file, and the listing shows it
    generate = ("keys", "generate", "--station", "XX-NEW", "--party", "XX", "--channels", "air")
    assert cli(*generate, "--keyring", "keyring.json", "--out", "new.key").returncode == 0
    assert len(json.loads((stations / "keyring.json").read_text())["log"]) == 2
    listed = cli("keys", "list", "--keyring", "keyring.json").stdout.decode()
    assert "unrevoke" in listed
    assert "found" in listed
    assert_one_line_error(cli(*undo), "is not revoked")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("inspect", "missing.bin", "--keyring", "keyring.json"), ("missing.bin", "No such file")),
        (("inspect", "notice.bin", "--keyring", "nope.json"), ("nope.json",)),
        (
            ("inspect", "notice.bin", "--keyring", "bad-ring.json"),
            ("bad-ring.json", "keys[0].channels[0]"),
        ),
        (("inspect", "notice.bin", "--keyring", "keyring.json", "--hex"), ("--hex",)),
        (("inspect", "notice.bin", "--keyring", "keyring.json", "--now", "tuesday"), ("--now",)),
        (
            ("sign", "--key", "US-CAOC.key", "--channel", "air", "--to", "RU/#", "--incident", "i"),
            ("to[0]",),
        ),
        (
            (
                "sign",
                "--key",
                "US-CAOC.key",
                "--channel",
                "air",
                "--to",
                "RU",
                "--incident",
                "i",
                "--body",
                "{",
            ),
            ("--body",),
        ),
        (
            ("sign", "--key", "US-CAOC.key", "--channel", "sea", "--to", "RU", "--incident", "i"),
            ("--channel",),
        ),
        (
            ("sign", "--key", "loose.key", "--channel", "air", "--to", "RU", "--incident", "i"),
            ("loose.key", "too open"),
        ),
        (("keys", "revoke", "ffff", "--keyring", "keyring.json"), ("no key",)),
        (("vectors", "check", "empty"), ("empty", "no *.json")),
        (("frobnicate",), ("invalid choice",)),
    ],
)
def test_bad_input_is_one_line_exit_2(
    cli: Cli, stations: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    sign_notice(cli, "-o", "notice.bin")
    (stations / "bad-ring.json").write_text(
        json.dumps(
            {
                "hotline_keyring": 1,
                "keys": [
                    {"public_key": "00" * 32, "party": "US", "station": "S", "channels": ["sea"]}
                ],
            }
        )
    )
    shutil.copy(stations / "US-CAOC.key", stations / "loose.key")
    (stations / "loose.key").chmod(0o644)
    (stations / "empty").mkdir()
    assert_one_line_error(cli(*args), *needles)


def test_vectors_check_passes_on_the_committed_vectors(cli: Cli) -> None:
    result = cli("vectors", "check", VECTORS)
    assert result.returncode == 0, result.stdout
    assert result.stdout.decode().strip().splitlines()[-1].endswith(" passed, 0 failed")


def test_vectors_check_fails_with_exit_1_on_a_wrong_expectation(cli: Cli) -> None:
    target = cli.cwd / "vectors"
    shutil.copytree(VECTORS, target)
    first = sorted(target.glob("*.json"))[0]
    document = json.loads(first.read_text())
    document["expected"] = {"valid": False, "reason": "stale"}
    first.write_text(json.dumps(document))
    result = cli("vectors", "check", target, "--quiet")
    assert result.returncode == 1
    assert "FAIL" in result.stdout.decode()


def test_vectors_generate_reproduces_the_committed_files(cli: Cli) -> None:
    assert cli("vectors", "generate", "out").returncode == 0
    for path in VECTORS.glob("*.json"):
        assert (cli.cwd / "out" / path.name).read_bytes() == path.read_bytes()
