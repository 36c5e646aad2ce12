"""Journal heads carried over the line (protocol/PROTOCOL.md, section 12.14).

A post signs the head of its journal (how many entries it holds, and the hash of the
last) into a ``heartbeat`` whose body holds ``journal``; every party that receives one
answers with a ``heartbeat`` whose ``ref`` is the head's digest and whose body holds
``countersigns``, the same head. Each side's journal then holds the other's signed
word about it: a journal later trimmed or rewritten no longer matches a head its post
signed and the other side kept (the signed tree heads and gossip of Certificate
Transparency are the model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hotline.core.names import Kind
from hotline.core.wire import Envelope

#: the body field of a heartbeat announcing its sender's journal head
HEAD: Final = "journal"
#: the body field of a heartbeat countersigning a head it answers (by ``ref``)
COUNTERSIGNS: Final = "countersigns"
#: the incident id suffix of head traffic: ``STATION:journal``
INCIDENT_SUFFIX: Final = ":journal"
HASH_BYTES: Final = 32
#: the largest entry count a head may name (an integer every implementation carries exactly)
MAX_ENTRIES: Final = 2**53 - 1


def head_body(entries: int, head: bytes) -> dict[str, Any]:
    """The ``{"entries": n, "head": hash}`` map a head or a countersignature carries.

    Raises:
        ValueError: not a count from 1 and a 32-byte hash.
    """
    if isinstance(entries, bool) or not 1 <= entries <= MAX_ENTRIES:
        raise ValueError(f"a journal head names 1 to 2^53-1 entries, not {entries!r}")
    if len(head) != HASH_BYTES:
        raise ValueError(f"a journal head is a {HASH_BYTES}-byte hash, not {len(head)} bytes")
    return {"entries": entries, "head": bytes(head)}


def read_head(body: Mapping[str, Any], field: str) -> tuple[int, bytes] | None:
    """The head that ``body[field]`` names, or None when it names none well formed."""
    value = body.get(field)
    if not isinstance(value, Mapping):
        return None
    entries, head = value.get("entries"), value.get("head")
    if (
        isinstance(entries, bool)
        or not isinstance(entries, int)
        or not 1 <= entries <= MAX_ENTRIES
        or not isinstance(head, bytes)
        or len(head) != HASH_BYTES
    ):
        return None
    return entries, head


def is_head_traffic(envelope: Envelope) -> bool:
    """A head or a countersignature: line traffic about journals, not about incidents."""
    return envelope.kind is Kind.HEARTBEAT and envelope.incident.endswith(INCIDENT_SUFFIX)
