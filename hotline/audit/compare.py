"""Two parties' journals side by side: what one holds that the other's signed word
disowns.

Each journal holds the other post's signed journal heads (`hotline.audit.heads`). A
head says "my journal had these many entries, and this was the last one's hash" in its
post's own signature, so the other party can hold a post to it: a journal that no longer
has a head its post signed was trimmed or rewritten since. And every signed message
involving both sides should be in both journals: one side holding a message the other
side's journal lacks is a disagreement, made sharper when the other side had signed a
head after that message (its journal, in its own words, did not hold it then either).
A message a journal holds as sent after a head it signed later than the message was
written in after that head (or backdated). A message the other side may hold only
among the refused copies it counted without keeping them (``rejections`` entries) is
a note, not a disagreement: the count cannot say which copies it held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hotline.audit.evidence import CheckedMessage, Report, check_trust, verify_journal
from hotline.audit.heads import SignedHead, head_problem, signed_heads
from hotline.audit.journal import JournalError, read_entries
from hotline.core.errors import RejectedMessage
from hotline.core.heads import is_head_traffic
from hotline.core.keyring import Keyring
from hotline.core.signing import split_signed
from hotline.core.wire import digest
from hotline.timestamps import format_instant


@dataclass(slots=True)
class Side:
    """One party's journal, verified and trusted."""

    path: Path
    report: Report
    party: str
    #: digest of every signed message the journal holds -> (entry kind, entry number)
    held: dict[bytes, tuple[str, int]]
    #: rejected copies counted and not kept: (channel, from, until, count)
    counted: list[tuple[str | None, float, float, int]]


@dataclass(slots=True)
class Comparison:
    """What comparing two journals found."""

    sides: tuple[Side, Side]
    #: the heads each side signed that the other holds: (whose side, head)
    heads: list[tuple[Side, SignedHead]] = field(default_factory=list)
    #: signed messages about incidents that both journals hold
    shared: int = 0
    #: every disagreement, as a sentence
    findings: list[str] = field(default_factory=list)
    #: what cannot be told either way, as a sentence (no disagreement)
    notes: list[str] = field(default_factory=list)


def compare_journals(first: Path, second: Path, keyring: Keyring) -> Comparison:
    """Compare the journals of two parties' posts, trusted against ``keyring``.

    Raises:
        JournalError: a journal does not verify, is not trusted by ``keyring``, is not
            one party's, or both are the same party's.
    """
    sides = (_side(first, keyring), _side(second, keyring))
    if sides[0].party == sides[1].party:
        raise JournalError(f"{first} and {second} are both journals of {sides[0].party}'s post")
    comparison = Comparison(sides)
    parties = {key.station: key.party for key in keyring}
    for this, other in (sides, sides[::-1]):
        _check_heads(comparison, this, other)
    for this, other in (sides, sides[::-1]):
        for message in other.report.messages:
            involved = {message.party} | {parties.get(s) for s in message.envelope.recipients}
            if this.party not in involved:
                continue
            if message.digest in this.held:
                if this is sides[0]:
                    comparison.shared += 1
                continue
            counted = _counted(this, message)
            if counted is not None:
                comparison.notes.append(counted)
            else:
                comparison.findings.append(_missing(this, other, message, comparison))
        _journaled_late(comparison, this, other)
    return comparison


def _side(path: Path, keyring: Keyring) -> Side:
    report = verify_journal(path)
    check_trust(report, keyring)
    if report.party is None:
        raise JournalError(f"{path}: holds no message its post sent: whose journal is it?")
    held = {m.digest: (m.direction, m.entry) for m in report.messages}
    counted: list[tuple[str | None, float, float, int]] = []
    for entry in read_entries(path):
        body = entry.body
        data = body.get("message") if entry.kind == "rejected" else None
        if isinstance(data, bytes):  # a refusal is holding it
            try:
                held[digest(split_signed(data).envelope_bytes)] = ("rejected", entry.number)
            except RejectedMessage:
                continue  # not even of a signed message's shape
        elif entry.kind == "rejections":
            start, end, count = body.get("from"), body.get("until"), body.get("count")
            if isinstance(start, float) and isinstance(end, float) and isinstance(count, int):
                line = body.get("channel")
                counted.append((line if isinstance(line, str) else None, start, end, count))
    return Side(path, report, report.party, held, counted)


#: how far from a message's signed time a copy refused and counted may have come
COUNTED_SLACK = 3600.0


def _counted(this: Side, message: CheckedMessage) -> str | None:
    """Why ``this`` side may hold ``message`` after all: among the refused copies it
    counted and did not keep, on its line, about when it was signed."""
    line, signed = message.envelope.channel.value, message.envelope.sent_at
    for channel, start, end, count in this.counted:
        if channel in (line, None) and start - COUNTED_SLACK <= signed <= end + COUNTED_SLACK:
            return (
                f"{this.party}'s journal does not hold {_what(message)} by itself, but counted "
                f"{count} refused copies on {channel or 'an unknown topic'} from "
                f"{format_instant(start)} to {format_instant(end)}: it may be one of them"
            )
    return None


def _journaled_late(comparison: Comparison, this: Side, other: Side) -> None:
    """Messages ``this`` side journaled as sent after a head it signed later than it
    signed them: its own signed word, which ``other`` holds, says they were not there."""
    heads = [
        head
        for side, head in comparison.heads
        if side is this and head_problem(head, this.report.hashes) is None
    ]
    for message in this.report.messages:
        if message.direction != "sent" or is_head_traffic(message.envelope):
            continue
        signed = message.envelope.sent_at
        before = [h for h in heads if h.entries < message.entry and h.signed_at > signed]
        if before:
            head = min(before, key=lambda h: h.signed_at)
            comparison.findings.append(
                f"{this.party}'s journal holds {_what(message)} as entry {message.entry}, "
                f"after the head it signed at {format_instant(head.signed_at)} "
                f"({head.entries} entries, held by {other.party}): it was journaled after "
                "that head, though signed before it (backdated, or written in later)"
            )


def _what(message: CheckedMessage) -> str:
    envelope = message.envelope
    return (
        f"{envelope.kind} {envelope.incident} {envelope.sender} -> "
        f"{','.join(envelope.recipients)} signed {format_instant(envelope.sent_at)} "
        f"(digest {message.digest.hex()[:12]})"
    )


def _check_heads(comparison: Comparison, this: Side, other: Side) -> None:
    """Every head ``this`` side's post signed that ``other`` holds must be in its journal."""
    for head in signed_heads(other.report.messages):
        if head.message.direction != "received" or head.party != this.party:
            continue
        comparison.heads.append((this, head))
        problem = head_problem(head, this.report.hashes)
        if problem is not None:
            comparison.findings.append(
                f"{this.path} ({this.party}) is {problem}: {other.party} holds that head, "
                f"signed by {this.party} at {format_instant(head.signed_at)}, as entry "
                f"{head.message.entry} of {other.path}"
            )


def _missing(this: Side, other: Side, message: CheckedMessage, comparison: Comparison) -> str:
    """The sentence for a message ``other`` holds and ``this`` side's journal does not."""
    envelope = message.envelope
    held = f"{other.party} holds {_what(message)} as entry {message.entry} of {other.path}"
    later = [
        head
        for side, head in comparison.heads
        if side is this
        and head.signed_at >= envelope.sent_at
        and head_problem(head, this.report.hashes) is None
    ]
    if later:
        head = min(later, key=lambda h: h.signed_at)
        return (
            f"{held}; {this.party}'s journal does not, and the head {this.party} signed at "
            f"{format_instant(head.signed_at)} ({head.entries} entries, held by "
            f"{other.party}) disowns it: its journal did not hold it then either (lost on "
            "the line, or struck from the journal before that head)"
        )
    return (
        f"{held}; {this.party}'s journal does not, and no head {this.party} signed after "
        "it says whether its journal ever did"
    )
