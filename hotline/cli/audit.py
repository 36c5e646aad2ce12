"""``hotline audit``: check a journal or an evidence bundle, show a journal, export evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hotline.audit.compare import Comparison, compare_journals
from hotline.audit.evidence import (
    CheckedMessage,
    Report,
    check_trust,
    export_evidence,
    verify_any,
    verify_journal,
)
from hotline.audit.journal import Entry, JournalError, NotReadable, read_entries, unpack_keys
from hotline.cli.common import (
    COMMANDS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNTRUSTED,
    UserError,
    decided,
)
from hotline.core.heads import COUNTERSIGNS, HEAD, read_head
from hotline.core.wire import Envelope
from hotline.keyfiles import load_keyring, load_private_key
from hotline.timestamps import format_instant


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command group."""
    group = commands.add_parser("audit", help=COMMANDS["audit"].help)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check a journal's chain and signatures, or an evidence bundle offline",
        description="Check a journal (hash chain and every signature) or an evidence "
        "bundle (statement, chain, every signature, the countersignature of a later "
        "journal head), and judge its signatures against the keys "
        "each party published (--keyring). Exit 0 if it verifies against that keyring, "
        "4 if it verifies only against the keys the file holds itself (no --keyring: "
        "intact, but untrusted), 3 naming the first bad entry, 2 if a file cannot be read "
        "or is neither a journal nor a bundle.",
    )
    verify.add_argument("path", type=Path, help="a journal, or an evidence bundle")
    verify.add_argument(
        "--keyring",
        type=Path,
        help="the parties' published keys (a keyring file, as `inspect` reads)",
    )
    verify.add_argument(
        "--require-countersigned",
        action="store_true",
        help="refuse a bundle (exit 3) that no other party's countersigned journal head covers",
    )
    verify.set_defaults(run=verify_command)
    show = actions.add_parser(
        "show",
        help="print a journal's history",
        description="Print a journal, entry by entry, once it verifies (exit 3 if not).",
    )
    show.add_argument("journal", type=Path)
    show.add_argument("--incident", metavar="ID", help="only this incident's entries")
    show.set_defaults(run=show_command)
    evidence = actions.add_parser(
        "evidence",
        help="export one incident's signed messages and keys as a bundle",
        description="Write a self-contained evidence bundle: every signed message the "
        "journal holds about the incident, with the public keys that sign them, the "
        "journal's chain (each entry by its body's digest, so other incidents stay out) "
        "and the other side's countersignature of a journal head at or after the last of "
        "them. A third party checks it with `hotline audit verify BUNDLE --keyring "
        "PUBLISHED`: whose keys sign it, only the keys each party published can say.",
    )
    evidence.add_argument("journal", type=Path)
    evidence.add_argument("--incident", metavar="ID", required=True)
    evidence.add_argument("-o", "--output", metavar="BUNDLE", type=Path, required=True)
    evidence.add_argument("--force", action="store_true", help="replace an existing BUNDLE")
    evidence.add_argument(
        "--key",
        type=Path,
        help="the journaling post's private key file: the bundle becomes its signed "
        "statement (verify --keyring requires one)",
    )
    evidence.set_defaults(run=evidence_command)
    compare = actions.add_parser(
        "compare",
        help="compare two parties' journals: trimmed tails, and messages one side lacks",
        description="Check two parties' journals against the keys each party published, "
        "then list every disagreement: a journal that no longer has a head its post "
        "signed and the other side holds (trimmed or rewritten since), and every signed "
        "message between them that one side holds and the other's journal lacks (marked "
        "when a head the other side signed after it disowns it). Exit 0 when they agree, "
        "1 listing what they disagree on, 3 if a journal does not verify or is not "
        "trusted, 2 if a file cannot be read.",
    )
    compare.add_argument("first", type=Path, metavar="JOURNAL")
    compare.add_argument("second", type=Path, metavar="OTHER_JOURNAL")
    compare.add_argument(
        "--keyring",
        type=Path,
        required=True,
        help="the parties' published keys (a keyring file, as `inspect` reads)",
    )
    compare.set_defaults(run=compare_command)


def verify_command(args: argparse.Namespace) -> int:
    """Check a journal or a bundle."""
    trusted = None if args.keyring is None else load_keyring(args.keyring)
    try:
        report = verify_any(_existing(args.path))
        if trusted is not None:
            check_trust(report, trusted)
        bundle = report.kind == "evidence bundle"
        if args.require_countersigned and bundle and not report.countersigned:
            raise JournalError("no other party countersigned a journal head covering it")
    except NotReadable:
        raise  # not a journal or a bundle at all: bad input, not a rejected file
    except JournalError as exc:
        return _rejected(args.path, exc)
    code = EXIT_OK if trusted is not None else EXIT_UNTRUSTED
    with decided(code):
        _print_verified(args.path, report, args.keyring)
    return code


def _print_verified(path: Path, report: Report, keyring: Path | None) -> None:
    print(f"{path}: {report.kind} verifies: {_summary(report)}")
    signer = report.signed_by
    if signer is not None:
        print(f"a signed statement of {signer.station} ({signer.party}), key {signer.key_id.hex()}")
    elif report.kind == "evidence bundle":
        print("an unsigned bundle: anyone could have written it")
    if keyring is not None:
        print(f"every signature is by a key {keyring} holds for its sender")
    else:
        # the keys travel in the file: what they prove depends on whose they are
        print("UNTRUSTED: its signatures were checked against the keys it holds itself;")
        print("compare these key ids with those each party published, or give --keyring:")
        for key in sorted(report.keys.values(), key=lambda k: k.station):
            print(f"  {key.key_id.hex()}  {key.station} ({key.party})")
    if report.kind == "evidence bundle":
        for line in _bundle_lines(report):
            print(line)
    elif report.unchecked_bytes is None:
        print("every byte of the file is what SQLite writes for these entries")
    else:
        print(f"the entries are checked; the file's other bytes are not: {report.unchecked_bytes}")


def show_command(args: argparse.Namespace) -> int:
    """Print the history of a verified journal."""
    try:
        report = verify_journal(_existing(args.journal))
    except NotReadable:
        raise  # not a journal at all: bad input, not a rejected journal
    except JournalError as exc:
        return _rejected(args.journal, exc)
    print(f"{args.journal}: {_summary(report)}")
    messages = {m.entry: m for m in report.messages}
    shown = 0
    for entry in read_entries(args.journal):
        if args.incident is not None and entry.incident != args.incident:
            continue
        shown += 1
        incident = entry.incident or "-"
        print(
            f"{entry.number:>5}  {format_instant(entry.at)}  {entry.kind:<10}  "
            f"{incident:<22}  {_describe(entry, messages.get(entry.number))}"
        )
    if args.incident is not None and not shown:
        print(f"no entry about incident {args.incident!r}")
    return EXIT_OK


def evidence_command(args: argparse.Namespace) -> int:
    """Export and check a bundle."""
    try:
        signer = None if args.key is None else load_private_key(args.key)
        report = export_evidence(
            _existing(args.journal), args.incident, args.output, force=args.force, signer=signer
        )
    except NotReadable:
        raise  # not a journal at all: bad input, not a rejected journal
    except JournalError as exc:
        return _rejected(args.journal, exc)
    print(f"{args.output}: evidence of incident {args.incident}: {_summary(report)}")
    for line in _bundle_lines(report):
        print(line)
    return EXIT_OK


def compare_command(args: argparse.Namespace) -> int:
    """Compare two parties' journals."""
    trusted = load_keyring(args.keyring)
    first, second = _existing(args.first), _existing(args.second)
    try:
        comparison = compare_journals(first, second, trusted)
    except NotReadable:
        raise  # not a journal at all: bad input, not a rejected journal
    except JournalError as exc:
        print(f"hotline: does not verify: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    code = EXIT_FAILED if comparison.findings else EXIT_OK
    with decided(code):
        _print_comparison(comparison, args.keyring)
    return code


def _print_comparison(comparison: Comparison, keyring: Path) -> None:
    for side in comparison.sides:
        print(
            f"{side.path}: {side.party}'s journal, {side.report.entries} entries, every "
            f"signature by a key {keyring} holds for its sender"
        )
    for side in comparison.sides:
        heads = [h for s, h in comparison.heads if s is side]
        print(f"{len(heads)} journal heads {side.party} signed are held by the other side")
    print(f"{comparison.shared} signed messages between them are in both journals")
    for note in comparison.notes:
        print(f"  (cannot tell) {note}")
    if not comparison.findings:
        print("the journals agree")
        return
    print(f"{len(comparison.findings)} disagreements:")
    for finding in comparison.findings:
        print(f"  - {finding}")


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return path


def _rejected(path: Path, exc: JournalError) -> int:
    where = "" if exc.entry is None else f" (first bad entry: {exc.entry})"
    text = str(exc).removeprefix(f"{path}: ")  # said once is enough
    print(f"hotline: {path}: does not verify{where}: {text}", file=sys.stderr)
    return EXIT_REJECTED


def _summary(report: Report) -> str:
    what = "messages" if report.kind == "evidence bundle" else "entries"
    return (
        f"{report.entries} {what}, {report.signatures} signatures checked, "
        f"head {report.head.hex()[:16]}"
    )


def _describe(entry: Entry, message: CheckedMessage | None) -> str:
    body = entry.body
    if entry.kind == "keys":
        keyring = unpack_keys(body["keys"])
        return "trusted keys: " + ", ".join(
            f"{k.station} ({k.party}; {', '.join(sorted(k.channels))})" for k in keyring
        )
    if entry.kind == "transition":
        return (
            f"{body.get('role')}: {body.get('before')} --{body.get('input')}--> "
            f"{body.get('after')} on {body.get('channel')}, by {body.get('by')}"
        )
    if entry.kind == "judgement":
        verdicts = body.get("verdicts")
        shown = (
            ", ".join(map(str, verdicts)) if isinstance(verdicts, list) and verdicts else "clear"
        )
        return f"the agreed map: {shown}"
    if entry.kind == "rejected":
        return (
            f"refused on {body.get('channel') or '?'}: {body.get('reason')}: {body.get('detail')}"
        )
    if entry.kind == "rejections":
        reasons = body.get("reasons")
        counts = (
            ", ".join(f"{reason} {count}" for reason, count in reasons.items())
            if isinstance(reasons, dict)
            else "?"
        )
        return (
            f"{body.get('count')} more refused on {body.get('channel') or '?'}, counted, not "
            f"kept: {body.get('bytes')} bytes, {_instant(body.get('from'))} to "
            f"{_instant(body.get('until'))}: {counts}"
        )
    assert message is not None  # verified: every sent and received entry has one
    return _message_text(message.envelope)


def _instant(value: Any) -> str:
    """A time from a body only its hash vouches for."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_instant(value)
    return f"{value!r} (not a time)"


def _message_text(envelope: Envelope) -> str:
    recipients = ",".join(envelope.recipients)
    body = dict(envelope.body)
    details = []
    for field, says in ((HEAD, "its journal's head"), (COUNTERSIGNS, "countersigns the head")):
        head = read_head(body, field)
        if head is not None:
            del body[field]
            details.append(f"{says}: {head[0]} entries, last {head[1].hex()[:16]}")
    details += [f"{key}={_short(key, value)}" for key, value in body.items()]
    if envelope.ref is not None:
        details.append(f"answers {envelope.ref.hex()[:12]}")
    return (
        f"{envelope.kind} on {envelope.channel} {envelope.sender} -> {recipients} "
        f"seq {envelope.seq}, signed {format_instant(envelope.sent_at)}, "
        f"{envelope.precedence}" + (f"; {'; '.join(details)}" if details else "")
    )


def _short(key: str, value: Any) -> str:
    if key.endswith("_at") and isinstance(value, int):  # wire times are milliseconds
        return format_instant(value / 1000)
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bundle_lines(report: Report) -> list[str]:
    """What the bundle proves, message by message, with each answer tied to its notice."""
    lines = []
    by_digest = {m.digest: (n, m) for n, m in enumerate(report.messages, 1)}
    for number, message in enumerate(report.messages, 1):
        envelope = message.envelope
        line = (
            f"  {number}. {message.direction} by the journaling post at "
            f"{format_instant(message.recorded_at)}: {_message_text(envelope)} "
            f"[signature of {envelope.sender} ({message.party}) verifies; "
            f"digest {message.digest.hex()[:12]}]"
        )
        if envelope.ref is not None:
            answered = by_digest.get(envelope.ref)
            line += (
                f"\n     it answers message {answered[0]} ({answered[1].envelope.kind})"
                if answered
                else "\n     it answers a message not in this bundle"
            )
        lines.append(line)
    last = report.messages[-1].entry if report.messages else 0
    for signature in report.countersigned:
        head, by = signature.head, signature.message
        lines.append(
            f"  countersigned: {by.envelope.sender} ({by.party}) signed at "
            f"{format_instant(by.envelope.sent_at)} that it received the head "
            f"{head.party} signed at {format_instant(head.signed_at)}: entry "
            f"{head.entries}, at or after every message above (the last is entry {last})"
        )
    if not report.countersigned:
        lines.append(
            "  NOT COUNTERSIGNED: no other party's countersignature of a journal head at "
            "or after these messages; only the journaling post vouches for when it "
            "journaled them"
        )
    return lines
