"""Two parties' journals side by side: what one holds that the other's signed word
disowns.

Each journal holds the other post's signed journal heads (`hotline.audit.heads`). A
head says "my journal had these many entries, and this was the last one's hash" in its
post's own signature, so the other party can hold a post to it: a journal that no longer
has a head its post signed was trimmed or rewritten since. And every signed message
involving both sides should be in both journals: one side holding a message the other
side's journal lacks is a disagreement, made sharper when the other side had signed a
head after that message (its journal, in its own words, did not hold it then either).
"""

from __future__ import annotations

from collections.abc import Iterator
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
        for message in _incident_messages(other.report):
            involved = {message.party} | {parties.get(s) for s in message.envelope.recipients}
            if this.party not in involved:
                continue
            if message.digest in this.held:
                if this is sides[0]:
                    comparison.shared += 1
                continue
            comparison.findings.append(_missing(this, other, message, comparison))
    return comparison


def _side(path: Path, keyring: Keyring) -> Side:
    report = verify_journal(path)
    check_trust(report, keyring)
    senders = {m.party for m in report.messages if m.direction == "sent"}
    if len(senders) != 1:
        raise JournalError(
            f"{path}: holds messages sent by {', '.join(sorted(senders))}: not one party's journal"
            if senders
            else f"{path}: holds no message its post sent: whose journal is it?"
        )
    held = {m.digest: (m.direction, m.entry) for m in report.messages}
    held.update(_refused(path))
    return Side(path, report, senders.pop(), held)


def _refused(path: Path) -> Iterator[tuple[bytes, tuple[str, int]]]:
    """The signed messages among a journal's refused copies (a refusal is holding it)."""
    for entry in read_entries(path):
        data = entry.body.get("message") if entry.kind == "rejected" else None
        if isinstance(data, bytes):
            try:
                yield digest(split_signed(data).envelope_bytes), ("rejected", entry.number)
            except RejectedMessage:
                continue  # not even of a signed message's shape


def _incident_messages(report: Report) -> Iterator[CheckedMessage]:
    return (m for m in report.messages if not is_head_traffic(m.envelope))


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
    what = (
        f"{envelope.kind} {envelope.incident} {envelope.sender} -> "
        f"{','.join(envelope.recipients)} signed {format_instant(envelope.sent_at)} "
        f"(digest {message.digest.hex()[:12]})"
    )
    held = f"{other.party} holds {what} as entry {message.entry} of {other.path}"
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
            f"{other.party}) disowns it: its journal did not hold it then either"
        )
    return (
        f"{held}; {this.party}'s journal does not, and no head {this.party} signed after "
        "it says whether its journal ever did"
    )
