"""Journal heads over the line: each side countersigns the other's, a bundle carries the
countersignature that covers it, and comparing two journals catches a trimmed tail."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path

import msgpack
import pytest

from hotline.audit.compare import compare_journals
from hotline.audit.evidence import export_evidence, verify_bundle, verify_journal
from hotline.audit.heads import countersignatures, signed_heads
from hotline.audit.journal import Journal, JournalError, read_entries
from hotline.cli import main
from hotline.core.events import Received
from hotline.core.heads import COUNTERSIGNS, HEAD, head_body, is_head_traffic, read_head
from hotline.core.names import Channel, Kind
from hotline.keyfiles import (
    RUN_KEYRING,
    load_keyring,
    load_private_key,
    save_keyring,
    save_run_keys,
)
from hotline.live.exercise import LiveExercise
from hotline.sim.exercise import run_exercise
from hotline.sim.scenario import load_scenario, parse_scenario
from hotline.testing import Mosquitto
from tests.conftest import REPO
from tests.harness import T0, endpoint, make_doctrine, signed
from tests.posts import post
from tests.test_audit import ONE_NOTICE
from tests.test_live_exercise import SCALE


@pytest.fixture
def journals(tmp_path: Path) -> Path:
    """A journaled run of one acknowledged notice, with the keys the CLI writes."""
    scenario = tmp_path / "one-notice.toml"
    scenario.write_text(ONE_NOTICE)
    assert main(["exercise", "run", str(scenario), "-q", "--journal", str(tmp_path)]) == 0
    return tmp_path


def test_a_head_is_countersigned_back_to_its_sender_only() -> None:
    doctrine = make_doctrine()
    us, ru = endpoint("US", doctrine), endpoint("RU", doctrine)
    us.announce_head(7, bytes(range(32)), T0)
    heads = us.outbox()
    assert {m.channel for m in heads} == set(us.stations)  # one on each of its lines
    head = heads[0]
    assert head.envelope.kind is Kind.HEARTBEAT
    assert head.envelope.incident == f"{head.envelope.sender}:journal"
    assert read_head(head.envelope.body, HEAD) == (7, bytes(range(32)))
    events = ru.receive(head.data, T0 + 1, channel=head.channel)
    assert isinstance(events[0], Received)
    [answer] = ru.outbox()
    assert answer.recipients == (head.envelope.sender,)
    assert answer.envelope.ref == head.digest
    assert read_head(answer.envelope.body, COUNTERSIGNS) == (7, bytes(range(32)))
    # no one answers a countersignature
    us.receive(answer.data, T0 + 2, channel=answer.channel)
    assert us.outbox() == []


@pytest.mark.parametrize(
    "journal",
    [
        {"entries": 0, "head": bytes(32)},
        {"entries": True, "head": bytes(32)},
        {"entries": 3, "head": bytes(31)},
        {"entries": 3.0, "head": bytes(32)},
        {"entries": 2**53, "head": bytes(32)},
        "head",
    ],
)
def test_a_heartbeat_with_a_malformed_head_is_not_countersigned(journal: object) -> None:
    doctrine = make_doctrine()
    ru = endpoint("RU", doctrine)
    sender = doctrine[Channel.AIR].stations["US"]
    beat = signed(
        sender,
        doctrine[Channel.AIR].stations["RU"],
        f"{sender}:journal",
        Kind.HEARTBEAT,
        at=T0,
        seq=1,
        body={HEAD: journal},
    )
    assert isinstance(ru.receive(beat, T0 + 1, channel=Channel.AIR)[0], Received)
    assert ru.outbox() == []
    assert read_head({HEAD: journal}, HEAD) is None


def test_head_bodies_refuse_what_no_journal_has() -> None:
    assert head_body(1, bytes(32)) == {"entries": 1, "head": bytes(32)}
    for entries, head in ((0, bytes(32)), (2**53, bytes(32)), (1, b"short")):
        with pytest.raises(ValueError, match="a journal head"):
            head_body(entries, head)
    with pytest.raises(ValueError, match="a journal head names"):
        endpoint("US", make_doctrine()).announce_head(0, bytes(32), T0)


def test_a_journaled_run_ends_with_each_side_holding_the_others_countersigned_head(
    journals: Path,
) -> None:
    blue, red = verify_journal(journals / "BLUE.journal"), verify_journal(journals / "RED.journal")
    for own, other in ((blue, red), (red, blue)):
        [signature] = countersignatures(own.messages)
        assert signature.message.party != signature.head.party
        [held] = [h for h in signed_heads(other.messages) if h.message.direction == "received"]
        assert (held.entries, held.head) == (signature.head.entries, signature.head.head)
        assert own.hashes[held.entries - 1] == held.head


def test_journals_do_not_change_what_a_run_does(tmp_path: Path) -> None:
    scenario = parse_scenario(ONE_NOTICE, "one-notice.toml")
    plain = run_exercise(scenario)
    journaled = run_exercise(scenario, journals=tmp_path)
    assert journaled.tally == plain.tally
    assert [r.fate for r in journaled.records or []] == [r.fate for r in plain.records or []]


def test_a_bundle_carries_the_other_sides_countersignature_of_a_later_head(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = journals / "b.evidence"
    report = export_evidence(journals / "BLUE.journal", "flight-1", bundle)
    [signature] = report.countersigned
    assert signature.message.envelope.sender == "RED-AOC"
    assert signature.head.entries >= report.messages[-1].entry
    keyring = str(journals / RUN_KEYRING)
    key = str(journals / "BLUE-AOC.key")
    assert main(["audit", "evidence", str(journals / "BLUE.journal"), "--incident", "flight-1",
                 "-o", str(bundle), "--force", "--key", key]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["audit", "verify", str(bundle), "--keyring", keyring]) == 0
    out = capsys.readouterr().out
    assert "countersigned: RED-AOC (RED) signed at" in out
    assert "NOT COUNTERSIGNED" not in out


def _reseal(bundle: Path, edit: object) -> None:
    outer = msgpack.unpackb(bundle.read_bytes())
    body = msgpack.unpackb(outer["evidence"])
    assert callable(edit)
    edit(body)
    packed = msgpack.packb(body, use_bin_type=True)
    sealed = {"evidence": packed, "digest": hashlib.sha256(packed).digest()}
    bundle.write_bytes(msgpack.packb(sealed, use_bin_type=True))


def test_a_bundle_without_its_countersignature_says_so_and_a_lone_head_is_refused(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = journals / "b.evidence"
    export_evidence(journals / "BLUE.journal", "flight-1", bundle)
    data = bundle.read_bytes()
    _reseal(bundle, lambda b: b["messages"].pop())  # the countersignature taken out
    with pytest.raises(JournalError, match="countersigns nothing here"):
        verify_bundle(bundle)
    bundle.write_bytes(data)
    _reseal(bundle, lambda b: b.__setitem__("messages", b["messages"][:2]))
    assert verify_bundle(bundle).countersigned == []
    assert main(["audit", "verify", str(bundle)]) == 4
    assert "NOT COUNTERSIGNED" in capsys.readouterr().out


def _trimmed(source: Path, target: Path, keep: int) -> None:
    """What a post that trimmed its journal's tail would show: its first ``keep``
    entries, written again with hotline's own code (a chain that verifies on its own)."""
    journal = Journal(target)
    for entry in read_entries(source):
        if entry.number <= keep:
            journal.append(entry.at, entry.kind, entry.incident, entry.body)
    journal.close()


def _without(source: Path, target: Path, kind: str) -> None:
    """The journal written again with hotline's own code, without its ``kind`` entries
    (a post denying what it sent): a chain that verifies on its own."""
    journal = Journal(target)
    for entry in read_entries(source):
        if not (entry.body.get("message") and entry.kind == "sent" and entry.incident == kind):
            journal.append(entry.at, entry.kind, entry.incident, entry.body)
    journal.close()


def test_a_trimmed_tail_is_caught_by_the_other_sides_copy_of_its_head(journals: Path) -> None:
    keyring = load_keyring(journals / RUN_KEYRING)
    assert (
        compare_journals(journals / "BLUE.journal", journals / "RED.journal", keyring).findings
        == []
    )
    red = verify_journal(journals / "RED.journal")
    trimmed = journals / "RED-trimmed.journal"
    _trimmed(journals / "RED.journal", trimmed, red.messages[1].entry)  # up to its ack
    verify_journal(trimmed)  # on its own, a trimmed chain is a chain
    findings = compare_journals(journals / "BLUE.journal", trimmed, keyring).findings
    [trim] = [f for f in findings if "is trimmed" in f]
    assert f"is trimmed: it ends at entry {red.messages[1].entry}, but" in trim
    assert "BLUE holds that head, signed by RED at" in trim
    # and the heads RED signed, and its countersignature of BLUE's, are gone from it
    assert all("RED's journal does not" in f for f in findings if f != trim)


def test_a_rewritten_journal_is_caught_and_the_message_it_drops_is_disowned(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewritten = journals / "RED-rewritten.journal"
    _without(journals / "RED.journal", rewritten, "flight-1")  # RED's ack is gone
    verify_journal(rewritten)
    keyring = str(journals / RUN_KEYRING)
    code = main(["audit", "compare", str(journals / "BLUE.journal"), str(rewritten),
                 "--keyring", keyring])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "is rewritten: its entry" in out
    assert "BLUE holds ack flight-1 RED-AOC -> BLUE-AOC" in out
    assert main(["audit", "compare", str(journals / "BLUE.journal"),
                 str(journals / "RED.journal"), "--keyring", keyring]) == 0  # fmt: skip
    assert "the journals agree" in capsys.readouterr().out


def test_a_lost_notice_is_disowned_by_the_receivers_later_head(tmp_path: Path) -> None:
    lossy = ONE_NOTICE.replace('latency = "2s"', 'latency = "2s"\nloss = 1.0')
    scenario = tmp_path / "lossy.toml"
    scenario.write_text(lossy)
    main(["exercise", "run", str(scenario), "-q", "--journal", str(tmp_path)])
    keyring = load_keyring(tmp_path / RUN_KEYRING)
    findings = compare_journals(tmp_path / "BLUE.journal", tmp_path / "RED.journal", keyring)
    assert findings.findings
    assert all("RED's journal does not" in f and "disowns it" in f for f in findings.findings)


def test_compare_refuses_two_journals_of_one_party_and_untrusted_ones(
    journals: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyring = str(journals / RUN_KEYRING)
    blue = str(journals / "BLUE.journal")
    assert main(["audit", "compare", blue, blue, "--keyring", keyring]) == 3
    assert "both journals of BLUE's post" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    scenario = other / "s.toml"
    scenario.write_text(ONE_NOTICE.replace("seed = 7", "seed = 8"))
    main(["exercise", "run", str(scenario), "-q", "--journal", str(other)])
    assert main(["audit", "compare", blue, str(other / "RED.journal"), "--keyring", keyring]) == 3
    assert "which the keyring given does not hold" in capsys.readouterr().err


def test_a_rerun_keeps_the_earlier_runs_keys_beside_its_journals(journals: Path) -> None:
    scenario = journals / "one-notice.toml"
    assert main(["exercise", "run", str(scenario), "-q", "--journal", str(journals)]) == 0
    assert (journals / f"{RUN_KEYRING}.1").is_file()
    assert (journals / "BLUE-AOC.key.1").is_file()
    assert (journals / "BLUE-AOC.key").stat().st_mode & 0o077 == 0


@pytest.mark.broker
@pytest.mark.asyncio
async def test_live_posts_countersign_each_others_heads(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        post("US", mosquitto, tmp_path / "us.db") as us,
        post("RU", mosquitto, tmp_path / "ru.db") as ru,
    ):
        assert us.sign_head()
        async with asyncio.timeout(10):
            while us.countersigned < 1:
                await asyncio.sleep(0.02)
        assert ru.countersigned == 0
    us_report = verify_journal(tmp_path / "us.db")
    signatures = [s for s in countersignatures(us_report.messages) if s.message.party == "RU"]
    assert signatures  # one for each line US signed its head on, as RU received them
    ru_report = verify_journal(tmp_path / "ru.db")
    held = {(h.entries, h.head) for h in signed_heads(ru_report.messages) if h.party == "US"}
    assert {(s.head.entries, s.head.head) for s in signatures} <= held
    assert all(is_head_traffic(m.envelope) for m in us_report.messages)


@pytest.mark.broker
@pytest.mark.asyncio
async def test_a_live_run_ends_with_heads_countersigned_and_journals_that_agree(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    live = LiveExercise(scenario, mosquitto.url, time_scale=SCALE, journals=tmp_path)
    await live.run()
    save_run_keys(tmp_path, live.station_keys, scenario.stations())
    keyring = load_keyring(tmp_path / RUN_KEYRING)
    comparison = compare_journals(tmp_path / "BLUE.journal", tmp_path / "RED.journal", keyring)
    assert comparison.findings == []
    assert comparison.shared > 0
    for party in ("BLUE", "RED"):
        report = verify_journal(tmp_path / f"{party}.journal")
        assert {s.message.party for s in countersignatures(report.messages)} == (
            {"BLUE", "RED"} - {party}
        )


def test_a_bundle_that_leaves_out_a_message_of_its_incident_is_refused(journals: Path) -> None:
    bundle = journals / "b.evidence"
    export_evidence(journals / "BLUE.journal", "flight-1", bundle)
    # RED's ack taken out, and the countersignature still covering "every message"
    _reseal(bundle, lambda b: b["messages"].pop(1))
    with pytest.raises(JournalError, match="the chain holds and the bundle leaves out"):
        verify_bundle(bundle)
    export_evidence(journals / "BLUE.journal", "flight-1", bundle, force=True)
    _reseal(bundle, lambda b: b.__setitem__("chain", b["chain"][3:]))  # what came before
    with pytest.raises(JournalError, match="does not start at the journal's first entry"):
        verify_bundle(bundle)


def test_a_statement_signed_by_the_other_party_is_refused(journals: Path) -> None:
    signer = load_private_key(journals / "RED-AOC.key")
    bundle = journals / "b.evidence"
    with pytest.raises(JournalError, match=r"signed by RED-AOC \(RED\), but the journal is BLUE"):
        export_evidence(journals / "BLUE.journal", "flight-1", bundle, signer=signer)


def test_keys_revoked_before_the_run_make_nothing_trusted(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = load_keyring(journals / RUN_KEYRING)
    revoked = published
    for key in published:
        revoked = revoked.revoke(key.key_id, 1.0)
    path = journals / "revoked.keyring.json"
    save_keyring(path, revoked)
    journal = str(journals / "BLUE.journal")
    assert main(["audit", "verify", journal, "--keyring", str(path)]) == 3
    assert "is revoked when it was signed" in capsys.readouterr().err
    assert main(["audit", "compare", journal, str(journals / "RED.journal"),
                 "--keyring", str(path)]) == 3  # fmt: skip


def test_a_journal_trimmed_after_its_own_last_head_disagrees(journals: Path) -> None:
    """Trimmed just after its own head: the head still matches, but the countersign it
    sent for the other side's head, which that side holds, is gone."""
    blue = verify_journal(journals / "BLUE.journal")
    [own] = [h for h in signed_heads(blue.messages) if h.message.direction == "sent"]
    trimmed = journals / "BLUE-trimmed.journal"
    _trimmed(journals / "BLUE.journal", trimmed, own.message.entry + 1)
    keyring = load_keyring(journals / RUN_KEYRING)
    findings = compare_journals(trimmed, journals / "RED.journal", keyring).findings
    assert findings
    assert all("BLUE's journal does not" in f for f in findings)


def test_a_notice_written_in_after_a_later_head_is_called_so(journals: Path) -> None:
    """BLUE appends a backdated notice after its last countersigned head: its own head,
    which RED holds, says the journal did not hold it then."""
    key = load_private_key(journals / "BLUE-AOC.key")
    blue = verify_journal(journals / "BLUE.journal")
    notice = blue.messages[0].envelope
    forged = key.sign(dataclasses.replace(notice, id=bytes(16), incident="flight-2", seq=99))
    forged_journal = journals / "BLUE-forged.journal"
    forged_journal.write_bytes((journals / "BLUE.journal").read_bytes())
    journal = Journal(forged_journal)
    journal.append(blue.ended_at, "sent", "flight-2",
                   {"message": forged, "channel": "air", "to": ["RED-AOC"]})  # fmt: skip
    journal.close()
    keyring = load_keyring(journals / RUN_KEYRING)
    findings = compare_journals(forged_journal, journals / "RED.journal", keyring).findings
    assert any("journaled after that head, though signed before it" in f for f in findings)


def test_a_bundle_no_one_countersigned_can_be_required_to_be(
    journals: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = journals / "b.evidence"
    export_evidence(journals / "BLUE.journal", "flight-1", bundle)
    assert main(["audit", "verify", str(bundle), "--require-countersigned"]) == 4
    _reseal(bundle, lambda b: b.__setitem__("messages", b["messages"][:2]))
    assert main(["audit", "verify", str(bundle), "--require-countersigned"]) == 3
    assert "no other party countersigned" in capsys.readouterr().err


def test_published_files_are_readable_and_private_keys_are_not(journals: Path) -> None:
    assert (journals / RUN_KEYRING).stat().st_mode & 0o777 == 0o644
    assert (journals / "RED-AOC.key").stat().st_mode & 0o777 == 0o600


def test_a_skewed_clock_that_refuses_the_heads_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skewed = ONE_NOTICE + '\n[[faults]]\nkind = "clock-skew"\nstation = "RED-AOC"\nskew = "2h"\n'
    scenario = tmp_path / "skewed.toml"
    scenario.write_text(skewed)
    main(["exercise", "run", str(scenario), "-q", "--journal", str(tmp_path)])
    assert "refused BLUE-AOC's heartbeat about journals" in capsys.readouterr().out
