"""Signed journal heads in journals: which a post signed, which the other side
countersigned, and whether a journal still has the heads its post signed.

A post signs its journal head over the line and the other parties countersign it
(`hotline.core.heads`, protocol/PROTOCOL.md section 12.14). Both are signed messages,
journaled as they crossed the line, so reading them needs nothing but a verified
journal's messages (`hotline.audit.evidence.Report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hotline.core.heads import COUNTERSIGNS, HEAD, read_head
from hotline.core.names import Kind

if TYPE_CHECKING:  # the checks of a journal's messages import this module
    from hotline.audit.evidence import CheckedMessage


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A journal head its post signed: ``entries`` entries, the last one's hash ``head``."""

    message: CheckedMessage
    entries: int
    head: bytes

    @property
    def party(self) -> str:
        """The party whose journal it is."""
        return self.message.party

    @property
    def signed_at(self) -> float:
        """When its post signed it (its clock)."""
        return self.message.envelope.sent_at


@dataclass(frozen=True, slots=True)
class Countersignature:
    """Another party's signed word that it received ``head``."""

    head: SignedHead
    message: CheckedMessage


def signed_heads(messages: Iterable[CheckedMessage]) -> list[SignedHead]:
    """The heads among ``messages`` (sent or received), in journal order."""
    found = []
    for message in messages:
        if message.envelope.kind is not Kind.HEARTBEAT:
            continue
        head = read_head(message.envelope.body, HEAD)
        if head is not None:
            found.append(SignedHead(message, *head))
    return found


def countersignatures(messages: Sequence[CheckedMessage]) -> list[Countersignature]:
    """Every countersignature a journal received of a head its own post sent (journal
    order): from another party, answering that head by digest, naming the same head."""
    own = {h.message.digest: h for h in signed_heads(m for m in messages if m.direction == "sent")}
    found = []
    for message in messages:
        envelope = message.envelope
        if message.direction != "received" or envelope.kind is not Kind.HEARTBEAT:
            continue
        head = None if envelope.ref is None else own.get(envelope.ref)
        if head is None or message.party == head.party:
            continue
        if read_head(envelope.body, COUNTERSIGNS) == (head.entries, head.head):
            found.append(Countersignature(head, message))
    return found


def covering(found: Sequence[Countersignature], entry: int) -> list[Countersignature]:
    """The countersignatures of the latest countersigned head at or after ``entry`` (one
    per party that countersigned it), or none."""
    heads = [c.head for c in found if c.head.entries >= entry]
    if not heads:
        return []
    latest = max(heads, key=lambda h: h.entries)
    chosen: dict[str, Countersignature] = {}
    for signature in found:
        if signature.head is latest:
            chosen.setdefault(signature.message.party, signature)
    return list(chosen.values())


def head_problem(head: SignedHead, hashes: Sequence[bytes]) -> str | None:
    """What is wrong with a journal (its entries' hashes, in order) against a head its
    post signed, or None when the journal still has that head at that entry."""
    if head.entries > len(hashes):
        return (
            f"trimmed: it ends at entry {len(hashes)}, but its post signed a head at "
            f"entry {head.entries}"
        )
    if hashes[head.entries - 1] != head.head:
        return (
            f"rewritten: its entry {head.entries} is not the one its post signed as its "
            f"head (hash {head.head.hex()[:16]})"
        )
    return None
