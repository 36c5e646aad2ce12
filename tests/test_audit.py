"""The journal and evidence bundles: what a run records verifies, and any change is caught."""

from __future__ import annotations

import asyncio
import hashlib
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.audit.evidence import export_evidence, verify_any, verify_bundle, verify_journal
from hotline.audit.journal import Journal, JournalError, entry_hash, read_entries
from hotline.audit.recorder import Recorder
from hotline.cli import main
from hotline.core.heads import is_head_traffic
from hotline.core.incident import Notice
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.signing import StationKey
from hotline.core.wire import Envelope
from hotline.keyfiles import save_keyring, write_private_key
from hotline.sim.exercise import run_exercise, station_seed
from hotline.sim.scenario import parse_scenario
from hotline.testing import Mosquitto
from tests.conftest import REPO
from tests.harness import T0, endpoint, make_doctrine
from tests.posts import answer_every_notice, post

#: one notice, acknowledged: a journal small enough to flip each of its bytes
ONE_NOTICE = """
[scenario]
name = "one-notice"
start = "2026-03-01T06:00:00Z"
seed = 7
duration = "1h"
[parties.BLUE]
air = "BLUE-AOC"
[parties.RED]
air = "RED-AOC"
[doctrine.channels.air]
fallback = "none"
[network.air]
latency = "2s"
[[responders]]
station = "RED-AOC"
action = "ack"
delay = "30s"
[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "flight-1"
activity = "flight"
precedence = "flash"
"""


@pytest.fixture
def journals(tmp_path: Path) -> Path:
    run_exercise(parse_scenario(ONE_NOTICE, "one-notice.toml"), journals=tmp_path)
    return tmp_path


def test_a_simulated_run_journals_every_message_and_transition(journals: Path) -> None:
    blue = verify_journal(journals / "BLUE.journal")
    kinds = [e.kind for e in read_entries(journals / "BLUE.journal")]
    # the incident, then the journal heads the posts exchange as the run ends: BLUE's
    # head out and RED's countersignature back, then RED's head in and BLUE's answer
    incident = ["keys", "transition", "sent", "received", "transition"]
    assert kinds == [*incident, "sent", "received", "received", "sent"]
    assert [m.envelope.kind.value for m in blue.messages] == ["notify", "ack"] + 4 * ["heartbeat"]
    red = verify_journal(journals / "RED.journal")
    assert [(m.direction, m.envelope.kind.value) for m in red.messages[:2]] == [
        ("received", "notify"),
        ("sent", "ack"),
    ]
    # the ack RED sent answers exactly the notice BLUE sent
    assert red.messages[1].envelope.ref == blue.messages[0].digest


def test_changing_any_byte_of_any_entry_is_caught_and_names_the_entry(journals: Path) -> None:
    path = journals / "BLUE.journal"
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;")
    rows = db.execute("SELECT number, kind, incident, body, prev, hash FROM journal").fetchall()
    db.close()
    checked = 0
    for number, kind, incident, body, prev, digest in rows:
        for column, value in (
            ("kind", kind.encode()),
            ("incident", (incident or "").encode()),
            ("body", body),
            ("prev", prev),
            ("hash", digest),
        ):
            for index in range(len(value)):
                flipped = bytearray(value)
                flipped[index] ^= 0x01
                new: object = (
                    bytes(flipped)
                    if isinstance(value, bytes)
                    and column
                    in (
                        "body",
                        "prev",
                        "hash",
                    )
                    else flipped.decode(errors="replace")
                )
                with _changed(path, number, column, new):
                    with pytest.raises(JournalError) as caught:
                        verify_journal(path)
                    assert caught.value.entry == number, (column, index)
                checked += 1
        with _changed(path, number, "at", 1.0 + float(number)), pytest.raises(JournalError):
            verify_journal(path)
    assert checked > 500
    # every change was undone, so every entry is as written: yet the file shows the edits
    with pytest.raises(JournalError, match="is not what SQLite writes") as caught:
        verify_journal(path)
    assert caught.value.entry is None


class _changed:
    """Set one column of one entry, as someone with the file could; undo afterwards."""

    def __init__(self, path: Path, number: int, column: str, value: object) -> None:
        self.path, self.number, self.column, self.value = path, number, column, value

    def __enter__(self) -> None:
        self.db = sqlite3.connect(self.path)
        (self.old,) = self.db.execute(
            f"SELECT {self.column} FROM journal WHERE number = ?", (self.number,)
        ).fetchone()
        self._set(self.value)

    def __exit__(self, *_: object) -> None:
        self._set(self.old)
        self.db.close()

    def _set(self, value: object) -> None:
        self.db.execute(
            f"UPDATE journal SET {self.column} = ? WHERE number = ?", (value, self.number)
        )
        self.db.commit()


def test_the_journal_refuses_changes_and_a_removed_entry_is_caught(journals: Path) -> None:
    path = journals / "RED.journal"
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE journal SET at = 0 WHERE number = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM journal WHERE number = 2")
    db.executescript("DROP TRIGGER journal_no_delete")
    db.execute("DELETE FROM journal WHERE number = 3")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="expected entry 3") as caught:
        verify_journal(path)
    assert caught.value.entry == 4


def _damaged(path: Path, original: bytes, offset: int, change: int) -> None:
    damaged = bytearray(original)
    damaged[offset] ^= change
    path.write_bytes(bytes(damaged))


def test_a_journal_file_is_checked_byte_for_byte(journals: Path) -> None:
    report = verify_journal(journals / "BLUE.journal")
    assert report.unchecked_bytes is None


def test_changing_any_byte_of_the_header_is_caught(journals: Path) -> None:
    path = journals / "BLUE.journal"
    original = path.read_bytes()
    for offset in range(100):  # the SQLite header: page size, counters, versions, ids
        _damaged(path, original, offset, 0x01)
        with pytest.raises(JournalError):
            verify_journal(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.floats(0, 1, exclude_max=True), change=st.integers(1, 255))
def test_changing_any_byte_of_a_journal_file_is_caught(
    journals: Path, where: float, change: int
) -> None:
    # rows, page headers, cell pointers, b-tree dividers, and the space SQLite does not
    # read: each changed byte changes a row (the chain fails) or the file stops being
    # the one SQLite writes for its rows (the byte comparison fails)
    path = journals / "BLUE.journal"
    original = path.read_bytes()  # as written: each example puts it back
    _damaged(path, original, int(where * len(original)), change)
    try:
        with pytest.raises(JournalError):
            verify_journal(path)
    finally:
        path.write_bytes(original)


def test_a_damaged_header_is_reported_not_raised(journals: Path) -> None:
    path = journals / "BLUE.journal"
    original = path.read_bytes()
    path.write_bytes(original[:100] + b"\xff" * 20 + original[120:])
    with pytest.raises(JournalError, match="not a readable journal"):
        verify_journal(path)
    _damaged(path, original, 4096 - 200, 0x80)  # in the schema's SQL text
    with pytest.raises(JournalError, match="not a readable journal"):
        verify_journal(path)


def test_bytes_not_compared_are_said_so(journals: Path) -> None:
    path = journals / "BLUE.journal"
    original = path.read_bytes()
    other = (3_039_000).to_bytes(4, "big")  # last written by another SQLite
    path.write_bytes(original[:60] + other + original[64:96] + other + original[100:])
    report = verify_journal(path)
    assert report.unchecked_bytes == "last written by SQLite 3.39.0, this is " + ".".join(
        map(str, sqlite3.sqlite_version_info)
    )


def test_an_evidence_bundle_verifies_offline_and_any_flipped_byte_fails_it(
    journals: Path,
) -> None:
    bundle = journals / "flight-1.evidence"
    exported = export_evidence(journals / "RED.journal", "flight-1", bundle)
    # the bundle stands alone: the journals are gone, and it still verifies
    for journal in journals.glob("*.journal*"):
        journal.unlink()
    report = verify_any(bundle)
    assert report.kind == "evidence bundle"
    assert [m.envelope.kind.value for m in report.messages] == ["notify", "ack"]
    assert report.messages[1].envelope.ref == report.messages[0].digest
    assert report.messages[0].envelope.body["activity"] == "flight"
    assert report.head == exported.head
    data = bundle.read_bytes()
    for index in range(len(data)):
        damaged = bytearray(data)
        damaged[index] ^= 0x01
        bundle.write_bytes(bytes(damaged))
        with pytest.raises(JournalError):
            verify_bundle(bundle)
    bundle.write_bytes(data)
    verify_bundle(bundle)


def test_audit_commands(journals: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal, bundle = journals / "BLUE.journal", journals / "b.evidence"
    keyring = published_keyring(journals)
    assert main(["audit", "verify", str(journal), "--keyring", keyring]) == 0
    printed = capsys.readouterr().out
    assert "journal verifies: 9 entries, 6 signatures checked" in printed
    assert "every byte of the file is what SQLite writes for these entries" in printed
    assert main(["audit", "show", str(journal), "--incident", "flight-1"]) == 0
    shown = capsys.readouterr().out
    assert "notify on air BLUE-AOC -> RED-AOC seq 1" in shown
    assert "originator: notified --ack--> acknowledged on air, by RED-AOC" in shown
    key = post_key(journals, "BLUE-AOC")
    export = ["audit", "evidence", str(journal), "--incident", "flight-1", "-o", str(bundle)]
    assert main([*export, "--key", key]) == 0
    assert "it answers message 1 (notify)" in capsys.readouterr().out
    assert main(["audit", "verify", str(bundle), "--keyring", keyring]) == 0
    capsys.readouterr()
    assert main(["audit", "evidence", str(journal), "--incident", "nope", "-o", str(bundle)]) == 2
    assert "no signed message about incident 'nope'" in capsys.readouterr().err
    assert main(["audit", "verify", str(journals / "missing.journal")]) == 2
    assert "missing.journal: no such file" in capsys.readouterr().err
    db = sqlite3.connect(journal)
    db.executescript("DROP TRIGGER journal_no_update")
    db.execute("UPDATE journal SET at = at + 1 WHERE number = 3")
    db.commit()
    db.close()
    assert main(["audit", "verify", str(journal)]) == 3
    assert "first bad entry: 3" in capsys.readouterr().err


def test_protocol_only_runs_cannot_journal(tmp_path: Path) -> None:
    scenario = parse_scenario(
        ONE_NOTICE.replace('duration = "1h"', 'duration = "1h"\nsigning = "none"'), "x.toml"
    )
    with pytest.raises(Exception, match="signing = none"):
        run_exercise(scenario, journals=tmp_path)


def test_rejected_messages_are_journaled_verbatim(tmp_path: Path) -> None:
    scenario_path = REPO / "examples" / "warnings-unheard-2015.toml"
    assert main(["exercise", "run", str(scenario_path), "-q", "--journal", str(tmp_path)]) == 0
    entries = list(read_entries(tmp_path / "RU.journal"))
    rejected = [e for e in entries if e.kind == "rejected"]
    assert rejected
    assert all(e.body["reason"] == "unknown-key" for e in rejected)
    assert all(isinstance(e.body["message"], bytes) for e in rejected)
    verify_journal(tmp_path / "RU.journal")


def test_a_journal_carries_on_across_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.append(1.0, "transition", "x", {"role": "originator"})
    head = journal.head
    journal.close()
    again = Journal(tmp_path / "j")
    assert again.head == head
    assert len(again) == 1
    again.append(2.0, "transition", "x", {"role": "originator"})
    again.close()
    assert [e.number for e in read_entries(tmp_path / "j")] == [1, 2]


def test_a_batch_writes_its_entries_together_or_none_of_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.append(1.0, "transition", "x", {"role": "originator"})
    head = journal.head

    def failing() -> None:
        with journal.batch():
            journal.append(2.0, "transition", "x", {"role": "originator"})
            journal.append(3.0, "transition", "x", {"role": "originator"})
            raise RuntimeError("the transaction around it fails")

    with pytest.raises(RuntimeError):
        failing()
    assert (len(journal), journal.head) == (1, head), "the chain goes back to where it was"
    with journal.batch():
        journal.append(4.0, "transition", "x", {"role": "originator"})
        with journal.batch():  # nested: part of the enclosing one
            journal.append(5.0, "transition", "x", {"role": "originator"})
        assert [e.at for e in read_entries(tmp_path / "j")] == [1.0], "written at the end"
    journal.close()
    assert [(e.number, e.at) for e in read_entries(tmp_path / "j")] == [
        (1, 1.0),
        (2, 4.0),
        (3, 5.0),
    ]
    verify_journal(tmp_path / "j")


@pytest.mark.broker
@pytest.mark.asyncio
async def test_live_posts_journal_in_their_store(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with (
        post("US", mosquitto, tmp_path / "us.db") as us,
        post("RU", mosquitto, tmp_path / "ru.db") as ru,
    ):
        responder = asyncio.create_task(answer_every_notice(ru))
        incident = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
        )
        assert await incident.outcome(timeout=10) == "acknowledged"
        responder.cancel()
        incident_id = incident.id
    us_report = verify_journal(tmp_path / "us.db")
    ru_report = verify_journal(tmp_path / "ru.db")
    assert us_report.unchecked_bytes == "the file holds a post's store too"
    # each post also signs its journal head as it stops (kept aside here)
    assert [
        (m.direction, m.envelope.kind.value)
        for m in us_report.messages
        if not is_head_traffic(m.envelope)
    ] == [("sent", "notify"), ("received", "ack")]
    assert [
        (m.direction, m.envelope.kind.value)
        for m in ru_report.messages
        if not is_head_traffic(m.envelope)
    ] == [("received", "notify"), ("sent", "ack")]
    assert any(m.direction == "sent" and is_head_traffic(m.envelope) for m in ru_report.messages)
    kinds = [e.kind for e in read_entries(tmp_path / "us.db")]
    assert kinds.count("transition") == 2
    bundle = export_evidence(tmp_path / "us.db", incident_id, tmp_path / "e.evidence")
    assert bundle.messages[1].envelope.ref == bundle.messages[0].digest


def test_a_rewritten_chain_still_fails_on_the_altered_message(journals: Path) -> None:
    # whoever rewrites the file can recompute every hash, but not a signature
    path = journals / "BLUE.journal"
    db = sqlite3.connect(path)
    db.executescript("DROP TRIGGER journal_no_update")
    rows = db.execute("SELECT number, at, kind, incident, body FROM journal ORDER BY number")
    prev = bytes(32)
    for number, at, kind, incident, stored in rows.fetchall():
        body = stored
        if kind == "sent":
            fields = msgpack.unpackb(stored)
            message = bytearray(fields["message"])
            message[message.find(b"flight")] ^= 0x01  # the activity, inside the signature
            fields["message"] = bytes(message)
            body = msgpack.packb(fields)
        digest = entry_hash((number, at, kind, incident, body, prev))
        db.execute(
            "UPDATE journal SET body = ?, prev = ?, hash = ? WHERE number = ?",
            (body, prev, digest, number),
        )
        prev = digest
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="signature does not verify") as caught:
        verify_journal(path)
    assert caught.value.entry == 3


def test_evidence_never_overwrites_its_journal_or_an_existing_file(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = journals / "RED.journal"
    before = journal.read_bytes()
    command = ["audit", "evidence", str(journal), "--incident", "flight-1", "-o"]
    assert main([*command, str(journal)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert journal.read_bytes() == before
    verify_journal(journal)  # the journal is untouched
    bundle = journals / "b.evidence"
    bundle.write_bytes(b"a file someone keeps")
    assert main([*command, str(bundle)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert bundle.read_bytes() == b"a file someone keeps"
    assert main([*command, str(bundle), "--force"]) == 0
    verify_bundle(bundle)
    assert not list(journals.glob(".b.evidence.*"))  # no temporary file left behind


def test_a_rerun_into_a_journal_directory_keeps_the_earlier_journals(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = journals / "one.toml"
    scenario.write_text(ONE_NOTICE)
    earlier = {p.name: p.read_bytes() for p in journals.glob("*.journal")}
    assert main(["exercise", "run", str(scenario), "--journal", str(journals)]) == 0
    out = capsys.readouterr().out
    for name, data in earlier.items():
        assert f"the earlier {journals / name} is kept as {journals / name}.1" in out
        assert (journals / f"{name}.1").read_bytes() == data
        verify_journal(journals / f"{name}.1")
        verify_journal(journals / name)  # and the new run wrote its own
    assert main(["exercise", "run", str(scenario), "--journal", str(journals)]) == 0
    assert sorted(p.name for p in journals.glob("BLUE.journal*") if "-" not in p.name) == [
        "BLUE.journal",
        "BLUE.journal.1",
        "BLUE.journal.2",
    ]


def test_verify_says_the_files_own_keys_are_untrusted_and_prints_them(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", str(journals / "RED.journal")]) == 4
    out = capsys.readouterr().out
    assert "UNTRUSTED" in out
    report = verify_journal(journals / "RED.journal")
    for key in report.keys.values():
        assert f"{key.key_id.hex()}  {key.station} ({key.party})" in out


@pytest.mark.parametrize("at", [math.nan, math.inf, 1e300, -1.0])
def test_a_bundle_time_that_is_no_time_is_refused_not_printed(
    journals: Path, capsys: pytest.CaptureFixture[str], at: float
) -> None:
    bundle = journals / "b.evidence"
    export_evidence(journals / "RED.journal", "flight-1", bundle)
    outer = msgpack.unpackb(bundle.read_bytes())
    body = msgpack.unpackb(outer["evidence"])
    body["chain"][0][1] = at
    packed = msgpack.packb(body, use_bin_type=True)
    resealed = {"evidence": packed, "digest": hashlib.sha256(packed).digest()}
    bundle.write_bytes(msgpack.packb(resealed, use_bin_type=True))
    with pytest.raises(JournalError, match="is no time"):
        verify_bundle(bundle)
    assert main(["audit", "verify", str(bundle)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_junk_larger_than_any_message_is_journaled_by_digest_not_byte_for_byte(
    tmp_path: Path,
) -> None:
    ru = endpoint("RU", make_doctrine())
    journal = Journal(tmp_path / "RU.journal")
    recorder = Recorder(journal, ru, T0)
    junk = b"\x00" * 5_000_000
    recorder.received(junk, Channel.AIR, ru.receive(junk, T0, channel=Channel.AIR), T0)
    journal.close()
    (entry,) = [e for e in read_entries(tmp_path / "RU.journal") if e.kind == "rejected"]
    assert entry.body["reason"] == "too-large"
    assert "message" not in entry.body
    assert entry.body["digest"] == hashlib.sha256(junk).digest()
    assert (entry.body["size"], len(entry.body["prefix"])) == (5_000_000, 256)
    assert (tmp_path / "RU.journal").stat().st_size < 100_000
    verify_journal(tmp_path / "RU.journal")


def published_keyring(journals: Path) -> str:
    """The keys the parties of the run published, as a keyring file beside the journals
    (in a real dispute each party's keys come from that party, not from the file)."""
    path = journals / "published.keyring.json"
    report = verify_journal(journals / "RED.journal")
    save_keyring(path, Keyring(report.keys.values()))
    return str(path)


def forged_journal(path: Path, genuine: Path) -> None:
    """What a forger writes with hotline's own journal code: a notice from BLUE-AOC that
    BLUE never sent, signed with a fresh key the forger names BLUE-AOC."""
    forger = StationKey(bytes(range(1, 33)), "BLUE-AOC")
    as_red = StationKey(bytes(range(2, 34)), "RED-AOC")  # to sign the bundle (tmp_key)
    keys = verify_journal(genuine).keys.values()
    fakes = [
        TrustedKey(
            public_key=key.public_key,
            party=key.station[:-4],
            station=key.station,
            channels=frozenset({Channel.AIR}),
        )
        for key in (forger, as_red)
    ]
    journal = Journal(path)
    journal.keys(1.0, [*fakes, *(k for k in keys if k.station not in ("BLUE-AOC", "RED-AOC"))])
    notice = Envelope(
        id=bytes(16),
        channel=Channel.AIR,
        kind=Kind.NOTIFY,
        sender="BLUE-AOC",
        recipients=("RED-AOC",),
        incident="flight-1",
        seq=1,
        sent_at_ms=2_000,
        precedence=Precedence.FLASH,
        body={"activity": "strike"},
    )
    journal.append(2.0, "received", "flight-1", {"message": forger.sign(notice), "channel": "air"})
    journal.close()


def test_a_forged_journal_and_its_bundle_are_refused_against_the_published_keys(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring = published_keyring(journals)
    forged, bundle = journals / "forged.journal", journals / "forged.evidence"
    forged_journal(forged, journals / "RED.journal")
    # on its own keys the forgery is intact, and the command says no more than that
    assert main(["audit", "verify", str(forged)]) == 4
    assert "UNTRUSTED" in capsys.readouterr().out
    assert main(["audit", "verify", str(forged), "--keyring", keyring]) == 3
    assert "which the keyring given does not hold" in capsys.readouterr().err
    export = ["audit", "evidence", str(forged), "--incident", "flight-1", "-o", str(bundle)]
    assert main(export) == 0
    capsys.readouterr()
    assert main(["audit", "verify", str(bundle), "--keyring", keyring]) == 3
    assert "the bundle is not signed" in capsys.readouterr().err
    # signed by the forger's own key, named after RED's post: still not RED's key
    forger = tmp_key(journals, "RED-AOC")
    assert main([*export, "--force", "--key", forger]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", str(bundle), "--keyring", keyring]) == 3
    assert "which the keyring given does not hold" in capsys.readouterr().err


def post_key(journals: Path, station: str) -> str:
    """The private key file of a post of the journals' run (keys come from its seed)."""
    path = journals / f"{station}.key"
    seed = parse_scenario(ONE_NOTICE, "one-notice.toml").seed
    write_private_key(path, StationKey(station_seed(seed, station), station), station[:3])
    return str(path)


def tmp_key(journals: Path, station: str) -> str:
    """A fresh key file that merely carries ``station``'s name."""
    path = journals / f"fake-{station}.key"
    write_private_key(path, StationKey(bytes(range(2, 34)), station), "RED")
    return str(path)


def test_a_signed_bundle_cannot_be_edited_and_resealed(journals: Path) -> None:
    bundle = journals / "b.evidence"
    seed = parse_scenario(ONE_NOTICE, "one-notice.toml").seed
    signer = StationKey(station_seed(seed, "RED-AOC"), "RED-AOC")
    export_evidence(journals / "RED.journal", "flight-1", bundle, signer=signer)
    assert verify_bundle(bundle).signed_by is not None
    outer = msgpack.unpackb(bundle.read_bytes())
    edits: list[Callable[[dict[str, Any]], object]] = [
        lambda b: b["messages"].reverse(),
        lambda b: b["messages"].pop(),
        lambda b: b["messages"].clear(),
        lambda b: b["messages"].extend(b["messages"]),
        lambda b: b["chain"].pop(),
        lambda b: b["chain"][0].__setitem__(1, b["chain"][0][1] + 60.0),
        lambda b: b["chain"][-1].__setitem__(5, b"\x01"),
    ]
    for edit in edits:
        changed = msgpack.unpackb(outer["evidence"])
        edit(changed)
        packed = msgpack.packb(changed, use_bin_type=True)
        resealed = dict(outer, evidence=packed, digest=hashlib.sha256(packed).digest())
        bundle.write_bytes(msgpack.packb(resealed, use_bin_type=True))
        with pytest.raises(JournalError, match="statement is about other evidence"):
            verify_bundle(bundle)


def test_a_key_slipped_into_a_journals_trusted_keys_is_refused_against_the_published_keys(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring = published_keyring(journals)
    journal = Journal(journals / "RED.journal")
    slipped = StationKey(bytes(range(3, 35)), "BLUE-AOC")
    keys = verify_journal(journals / "RED.journal").keys.values()
    fake = TrustedKey(
        public_key=slipped.public_key,
        party="BLUE",
        station="BLUE-AOC",
        channels=frozenset({Channel.AIR}),
    )
    journal.keys(50.0, [fake, *keys])
    journal.close()
    assert main(["audit", "verify", str(journals / "RED.journal"), "--keyring", keyring]) == 3
    assert f"trusts key {slipped.key_id.hex()} for BLUE-AOC" in capsys.readouterr().err
