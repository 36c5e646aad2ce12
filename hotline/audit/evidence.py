"""Checking journals, and evidence bundles a third party checks offline.

"We notified you in advance" against "no notice was received": an evidence bundle
holds every signed message a post journaled for one incident, verbatim, with the
public keys that sign them; each message's Ed25519 signature shows who sent exactly
what, and its signed ``sent_at`` when; an acknowledgement or a dispute names by digest
(``ref``) the exact notice it answers. Whose keys those are, the verifier judges
against the keys each party published (`check_trust`), never against the bundle's own.

A bundle also shows *when* the post journaled them, in the other side's words: the
stretch of the journal's chain from the first of those messages to the journal's head
at export (each entry as a link: its fields, its body by digest, so other incidents'
content stays out), and the countersignature another party signed of a journal head at
or after the last of them (`hotline.audit.heads`). A post that later rewrote or
trimmed its journal cannot produce a chain through a head the other side countersigned,
short of signing a second head for the rewritten journal (a fork), which the other
side's journal then also holds: `hotline.audit.compare` finds it there.

A bundle is a msgpack map ``{"evidence": BODY, "digest": SHA-256(BODY), "statement":
S}``, S (optional) being the exporting post's signature, in the signed-message form of
protocol/PROTOCOL.md section 2, over `STATEMENT_PREFIX` and the digest; BODY is the
msgpack map::

    {"format": "hotline-evidence", "version": 2, "incident": id,
     "keys": [[public key, party, station, [channels]], ...],
     "chain": [[number, at, kind, incident, SHA-256(body), previous hash], ...],
     "messages": [[entry number, body as journaled], ...]}

``messages`` holds the incident's entries and the head and countersignature that cover
them, each body holding the signed message verbatim. Any changed byte is caught: by the
digest, the statement, the chain, a signature, or the structure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from hotline.audit.filecheck import check_file
from hotline.audit.heads import Countersignature, countersignatures, covering
from hotline.audit.journal import (
    GENESIS,
    KINDS,
    MSGPACK_ERRORS,
    SQLITE_MAGIC,
    Entry,
    JournalError,
    Link,
    NotReadable,
    link_hash,
    pack_keys,
    read_entries,
    unpack_keys,
)
from hotline.core.errors import RejectedMessage, UnknownIncident
from hotline.core.heads import is_head_traffic
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.signing import StationKey, check_signature, split_signed
from hotline.core.wire import MAX_MESSAGE_BYTES, Envelope, decode_envelope, digest
from hotline.outputs import write_output
from hotline.timestamps import in_calendar

FORMAT = "hotline-evidence"
VERSION = 2
#: What an exporting post signs: this prefix, then the SHA-256 of the bundle's evidence
#: (which holds the journal head), in the signed-message form of PROTOCOL.md section 2.
STATEMENT_PREFIX = b"hotline evidence statement v1\x00"
#: how many of the incidents a journal holds an unknown incident's error names
NAMED_INCIDENTS = 5


@dataclass(frozen=True, slots=True)
class CheckedMessage:
    """A signed message whose signature verified."""

    direction: str  # sent, received or rejected: as the journaling post saw it
    recorded_at: float
    entry: int
    envelope: Envelope
    digest: bytes
    party: str
    data: bytes  # the signed message, verbatim


@dataclass(slots=True)
class Report:
    """What a journal or bundle check found (it raises at the first bad entry)."""

    kind: str  # "journal" or "evidence bundle"
    entries: int = 0
    signatures: int = 0
    head: bytes = GENESIS
    incident: str | None = None
    messages: list[CheckedMessage] = field(default_factory=list)
    #: every key trusted along the way, by public key and station
    keys: dict[tuple[bytes, str], TrustedKey] = field(default_factory=dict)
    #: a journal file's bytes beyond its rows: None when all were checked, else why not
    unchecked_bytes: str | None = None
    #: a bundle: the key of the post that signed it as its statement (None: unsigned)
    signed_by: TrustedKey | None = None
    #: a journal: every entry's hash, in order (what its post's signed heads name)
    hashes: list[bytes] = field(default_factory=list)
    #: a bundle: the head traffic it carries (the head and its countersignatures)
    head_traffic: list[CheckedMessage] = field(default_factory=list)
    #: a bundle: other parties' countersignatures of a head covering its messages
    countersigned: list[Countersignature] = field(default_factory=list)
    #: the party whose post's journal it is (None: it holds no message it sent)
    party: str | None = None
    #: the time of the last entry (the post's clock)
    ended_at: float = 0.0


def check_message(data: bytes, keyring: Keyring) -> tuple[Envelope, bytes, str]:
    """Verify a signed message's structure, key and signature (not its freshness).

    Returns:
        The envelope, its digest and the signing key's party.

    Raises:
        RejectedMessage: the first check that failed.
    """
    parts = split_signed(data, MAX_MESSAGE_BYTES)
    key = keyring.lookup(parts.key_id)
    check_signature(key.public_key, parts)
    envelope = decode_envelope(parts.envelope_bytes)
    if envelope.sender != key.station:
        raise JournalError(f"signed by {key.station}'s key but claims to be from {envelope.sender}")
    return envelope, digest(parts.envelope_bytes), key.party


def verify_journal(path: Path) -> Report:
    """Check the chain of the journal at ``path``, every signature in it, and then every
    other byte of its file (`hotline.audit.filecheck`).

    Raises:
        JournalError: naming the first bad entry, or else the first bad byte.
    """
    report = Report("journal")
    keyring: Keyring | None = None
    for entry in read_entries(path):
        expected = report.entries + 1
        if entry.number != expected:
            raise JournalError(
                f"entry {entry.number}: expected entry {expected} here (one is missing "
                "or out of order)",
                entry.number,
            )
        if entry.prev != report.head:
            raise JournalError(
                f"entry {entry.number}: does not follow entry {expected - 1} "
                "(its previous-hash differs)",
                entry.number,
            )
        if entry.kind not in KINDS:
            raise JournalError(f"entry {entry.number}: unknown kind {entry.kind!r}", entry.number)
        if entry.kind == "keys":
            try:
                keyring = unpack_keys(entry.body.get("keys"))
            except ValueError as exc:
                raise JournalError(f"entry {entry.number}: {exc}", entry.number) from None
            report.keys.update(((k.public_key, k.station), k) for k in keyring)
        elif entry.kind in ("sent", "received"):
            report.messages.append(_checked(entry, keyring))
            report.signatures += 1
        report.entries, report.head = entry.number, entry.hash
        report.hashes.append(entry.hash)
        report.ended_at = entry.at
    report.party = post_party(path, report.messages)
    report.unchecked_bytes = check_file(path)
    return report


def post_party(path: Path, messages: list[CheckedMessage]) -> str | None:
    """The party whose post journaled ``messages``: every message it sent is that
    party's, and none it received is (None: it sent none).

    Raises:
        JournalError: messages sent by two parties, or one received from its own.
    """
    senders = {m.party for m in messages if m.direction == "sent"}
    if len(senders) > 1:
        raise JournalError(
            f"{path}: holds messages sent by {' and '.join(sorted(senders))}: "
            "one post's journal holds the messages of one party"
        )
    party = next(iter(senders), None)
    for message in messages:
        if message.direction == "received" and message.party == party:
            raise JournalError(
                f"entry {message.entry}: received from {message.envelope.sender}, a station "
                f"of {party}, the party whose post this is",
                message.entry,
            )
    return party


def _checked(entry: Entry, keyring: Keyring | None) -> CheckedMessage:
    data = entry.body.get("message")
    if keyring is None:
        raise JournalError(f"entry {entry.number}: a message before any keys", entry.number)
    if not isinstance(data, bytes):
        raise JournalError(f"entry {entry.number}: no signed message in it", entry.number)
    try:
        envelope, message_digest, party = check_message(data, keyring)
    except (RejectedMessage, JournalError) as exc:
        raise JournalError(f"entry {entry.number}: {exc}", entry.number) from None
    if envelope.incident != entry.incident:
        raise JournalError(
            f"entry {entry.number}: filed under incident {entry.incident!r}, "
            f"but the message is about {envelope.incident!r}",
            entry.number,
        )
    return CheckedMessage(entry.kind, entry.at, entry.number, envelope, message_digest, party, data)


def export_evidence(
    journal: Path,
    incident: str,
    bundle: Path,
    *,
    force: bool = False,
    signer: StationKey | None = None,
) -> Report:
    """Write the evidence bundle of ``incident`` from a journal (which must verify),
    atomically; never over the journal, nor over any existing file unless ``force``.
    With ``signer`` (the exporting post's station key) the bundle is a signed statement:
    editing it then needs that key.

    Raises:
        JournalError: the journal does not verify.
        UnknownIncident: the journal holds no signed message about ``incident``.
        FileExistsError: ``bundle`` is the journal, or exists and ``force`` is false.
    """
    report = verify_journal(journal)
    chosen = [m for m in report.messages if m.envelope.incident == incident]
    if not chosen:
        raise UnknownIncident(
            f"{journal}: no signed message about incident {incident!r}; {_held(report)}"
        )
    cover = covering(countersignatures(report.messages), chosen[-1].entry)
    carried = {m.entry for m in chosen}
    carried.update(c.message.entry for c in cover)
    carried.update(c.head.message.entry for c in cover)
    chain, messages = [], []
    for entry in read_entries(journal):  # the whole chain: nothing before is hidden
        chain.append(list(entry.link()))
        if entry.number in carried:
            messages.append([entry.number, entry.packed])
    body = {
        "format": FORMAT,
        "version": VERSION,
        "incident": incident,
        "keys": pack_keys(report.keys.values()),
        "chain": chain,
        "messages": messages,
    }
    packed = msgpack.packb(body, use_bin_type=True)
    sealed = {"evidence": packed, "digest": hashlib.sha256(packed).digest()}
    if signer is not None:
        sealed["statement"] = signer.sign_bytes(STATEMENT_PREFIX + sealed["digest"])
    write_output(bundle, msgpack.packb(sealed, use_bin_type=True), force=force, inputs=(journal,))
    return verify_bundle(bundle)


def _held(report: Report) -> str:
    """The incidents a journal holds signed messages about, the first few of them."""
    held = sorted({m.envelope.incident for m in report.messages if not is_head_traffic(m.envelope)})
    if not held:
        return "it holds no signed message about any incident"
    named = ", ".join(repr(incident) for incident in held[:NAMED_INCIDENTS])
    more = len(held) - NAMED_INCIDENTS
    return f"it holds {named}" + (f" and {more} more" if more > 0 else "")


def verify_bundle(path: Path) -> Report:
    """Check an evidence bundle offline: its digest and statement, its chain, every
    signature, every message about its incident, and the countersignatures it carries.

    Raises:
        NotReadable: the file is not a bundle at all (not a msgpack map, or one
            with neither evidence nor digest).
        JournalError: what is wrong (``entry`` is the journal entry, where one is named).
    """
    body, keyring, statement = _bundle_body(path)
    report = Report("evidence bundle", incident=body["incident"])
    if statement is not None:
        report.signed_by = _check_statement(path, statement, keyring)
    links = _chain(path, body["chain"])
    first = links[0][0]
    report.head, report.ended_at = link_hash(links[-1]), links[-1][1]
    numbers: list[int] = []
    for position, item in enumerate(body["messages"], 1):
        if not (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], int)
            and isinstance(item[1], bytes)
        ):
            raise JournalError(f"message {position}: not [entry number, journaled body]")
        number, packed = item
        if not first <= number <= links[-1][0] or (numbers and number <= numbers[-1]):
            raise JournalError(
                f"message {position}: entry {number} is not a later entry of the chain shown"
            )
        numbers.append(number)
        message = _bundled(number, packed, links[number - first], keyring)
        if message.envelope.incident == report.incident:
            report.messages.append(message)
        elif is_head_traffic(message.envelope):
            report.head_traffic.append(message)
        else:
            raise JournalError(
                f"entry {number}: about incident {message.envelope.incident!r}, "
                f"not {report.incident!r}",
                number,
            )
    if not report.messages:
        raise JournalError(f"{path}: no message about incident {report.incident!r}")
    carried = set(numbers)
    for number, _, kind, incident, _, _ in links:  # the incident's whole story, or nothing
        if incident == report.incident and kind in ("sent", "received") and number not in carried:
            raise JournalError(
                f"entry {number}: a message about incident {report.incident!r} the chain "
                "holds and the bundle leaves out",
                number,
            )
    report.party = post_party(path, report.messages + report.head_traffic)
    signer = report.signed_by
    if signer is not None and report.party is not None and signer.party != report.party:
        raise JournalError(
            f"{path}: the statement is signed by {signer.station} ({signer.party}), but the "
            f"journal is {report.party}'s post's"
        )
    last = report.messages[-1].entry
    report.countersigned = countersignatures(report.head_traffic)
    for signature in report.countersigned:
        head = signature.head
        if not last <= head.entries <= links[-1][0]:
            raise JournalError(
                f"entry {head.message.entry}: a countersigned head at entry {head.entries}, "
                f"not between the bundle's last message (entry {last}) and its end",
                head.message.entry,
            )
        if link_hash(links[head.entries - first]) != head.head:
            raise JournalError(
                f"entry {head.entries}: is not the head its post signed and the other side "
                "countersigned (the chain shown differs from the journal then)",
                head.entries,
            )
    used = {s.message.entry for s in report.countersigned}
    used.update(s.head.message.entry for s in report.countersigned)
    for message in report.head_traffic:
        if message.entry not in used:
            raise JournalError(
                f"entry {message.entry}: head traffic that countersigns nothing here",
                message.entry,
            )
    report.entries = len(report.messages)
    report.signatures = len(report.messages) + len(report.head_traffic)
    return report


def _chain(path: Path, rows: Any) -> list[Link]:
    """The links of a bundle's chain, each following the one before."""
    if not isinstance(rows, list) or not rows:
        raise JournalError(f"{path}: the bundle's chain is empty or not a list")
    links: list[Link] = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 6):
            raise JournalError(f"{path}: a link of the chain is not six fields")
        number, at, kind, incident, body_digest, prev = row
        if not (
            isinstance(number, int)
            and isinstance(at, float)
            and isinstance(kind, str)
            and (incident is None or isinstance(incident, str))
            and isinstance(body_digest, bytes)
            and isinstance(prev, bytes)
        ):
            raise JournalError(f"{path}: a link of the chain has a field of the wrong type")
        if kind not in KINDS:
            raise JournalError(f"entry {number}: unknown kind {kind!r}", number)
        if not in_calendar(at):
            raise JournalError(f"entry {number}: its time {at!r} is no time", number)
        if links:
            expected = links[-1][0] + 1
            if number != expected:
                raise JournalError(f"entry {number}: expected entry {expected} here", number)
            if prev != link_hash(links[-1]):
                raise JournalError(
                    f"entry {number}: does not follow entry {expected - 1} "
                    "(its previous-hash differs)",
                    number,
                )
        elif number != 1 or prev != GENESIS:
            raise JournalError(f"{path}: the chain does not start at the journal's first entry")
        links.append((number, at, kind, incident, body_digest, prev))
    return links


def _bundled(number: int, packed: bytes, link: Link, keyring: Keyring) -> CheckedMessage:
    """A bundled entry's message, checked against its link and its signature."""
    _, at, kind, incident, body_digest, _ = link
    if hashlib.sha256(packed).digest() != body_digest:
        raise JournalError(f"entry {number}: its body is not the one the chain holds", number)
    if kind not in ("sent", "received"):
        raise JournalError(f"entry {number}: a {kind} entry, not a signed message", number)
    try:
        body = msgpack.unpackb(packed, raw=False)
    except MSGPACK_ERRORS:
        raise JournalError(f"entry {number}: the body is not msgpack", number) from None
    entry = Entry(number, at, kind, incident, body if isinstance(body, dict) else {}, b"", b"", b"")
    return _checked(entry, keyring)


def _check_statement(path: Path, statement: tuple[bytes, bytes], keyring: Keyring) -> TrustedKey:
    """The key that signed a bundle's statement (among the bundle's keys), checked."""
    signed, digest_of_evidence = statement
    try:
        parts = split_signed(signed, MAX_MESSAGE_BYTES)
        key = keyring.lookup(parts.key_id)
        check_signature(key.public_key, parts)
    except RejectedMessage as exc:
        raise JournalError(f"{path}: the bundle's statement does not verify ({exc})") from None
    if parts.envelope_bytes != STATEMENT_PREFIX + digest_of_evidence:
        raise JournalError(f"{path}: the bundle's statement is about other evidence")
    return key


def _bundle_body(
    path: Path,
) -> tuple[dict[str, Any], Keyring, tuple[bytes, bytes] | None]:
    """The bundle's body, its digest and shape checked, the keys it carries, and its
    signed statement with the digest it must cover (None: an unsigned bundle)."""
    data = path.read_bytes()
    if not data:
        raise NotReadable(f"{path}: not an evidence bundle: the file is empty")
    if not _opens_as_a_bundle(data):
        raise NotReadable(f"{path}: not an evidence bundle (not a msgpack map)")
    try:
        outer = msgpack.unpackb(data, raw=False)
    except MSGPACK_ERRORS:
        raise JournalError(f"{path}: the bundle is not well-formed msgpack") from None
    if not isinstance(outer, dict) or not {"evidence", "digest"} & set(outer):
        # nothing of a bundle in it, and opening as a map it is no journal either
        raise NotReadable(
            f"{path}: not a journal or an evidence bundle (a msgpack map with no evidence "
            "or digest)"
        )
    if set(outer) - {"statement"} != {"evidence", "digest"}:
        raise JournalError(
            f"{path}: the bundle's fields are not evidence and digest (and a statement)"
        )
    statement = outer.get("statement")
    if statement is not None and not isinstance(statement, bytes):
        raise JournalError(f"{path}: the bundle's statement is not signed bytes")
    packed, expected = outer["evidence"], outer["digest"]
    if not isinstance(packed, bytes) or hashlib.sha256(packed).digest() != expected:
        raise JournalError(f"{path}: the bundle's digest does not match its content")
    try:
        body = msgpack.unpackb(packed, raw=False)
    except MSGPACK_ERRORS:
        raise JournalError(f"{path}: the evidence is not msgpack") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise JournalError(f"{path}: not a hotline evidence bundle")
    if body.get("version") != VERSION:
        raise JournalError(f"{path}: bundle version {body.get('version')!r} (this reads 2)")
    if set(body) != {"format", "version", "incident", "keys", "chain", "messages"}:
        raise JournalError(f"{path}: not a hotline evidence bundle (fields missing or extra)")
    if not (isinstance(body["incident"], str) and isinstance(body["messages"], list)):
        raise JournalError(f"{path}: the incident or the message list is malformed")
    try:
        keys = unpack_keys(body["keys"])
    except ValueError as exc:
        raise JournalError(f"{path}: {exc}") from None
    return body, keys, None if statement is None else (statement, expected)


def check_trust(report: Report, keyring: Keyring) -> None:
    """Judge a verified journal or bundle against trust material the verifier supplies:
    a bundle must be a statement signed by a key ``keyring`` holds for the exporting
    station; every key the file says it trusted for a station ``keyring`` knows must be
    one ``keyring`` holds; and every message must be signed by a key of ``keyring``,
    held there for the station that sent it and its party. A file's own keys show only
    that it is unchanged: anyone can put keys named after the parties into a file.

    Raises:
        JournalError: a message signed by a key ``keyring`` does not hold for its sender.
    """
    if report.kind == "evidence bundle":
        signer = report.signed_by
        if signer is None:
            raise JournalError("the bundle is not signed: export it with the post's key (--key)")
        held = keyring.get(signer.key_id)
        if held is None or (held.station, held.party) != (signer.station, signer.party):
            raise JournalError(
                f"the bundle is signed by key {signer.key_id.hex()} ({signer.station}), "
                "which the keyring given does not hold for that station"
            )
        try:  # it was signed no earlier than the journal's last entry
            held.check_usable(report.ended_at)
        except RejectedMessage as exc:
            raise JournalError(
                f"the bundle's statement: {exc.detail} by the journal's last entry, in the "
                "keyring given"
            ) from None
    stations = {key.station for key in keyring}
    for held in report.keys.values():  # what the post says it trusted, for known stations
        if held.station in stations and keyring.get(held.key_id) is None:
            raise JournalError(
                f"the file trusts key {held.key_id.hex()} for {held.station}, "
                "which the keyring given does not hold"
            )
    for position, message in enumerate(report.messages + report.head_traffic, 1):
        key_id = split_signed(message.data).key_id
        trusted = keyring.get(key_id)
        sender = message.envelope.sender
        if trusted is None:
            raise JournalError(
                f"message {position} ({sender}) is signed by key {key_id.hex()}, "
                "which the keyring given does not hold",
                message.entry,
            )
        if (trusted.station, trusted.party) != (sender, message.party):
            raise JournalError(
                f"message {position}: key {key_id.hex()} is {trusted.station}'s "
                f"({trusted.party}) in the keyring given, not {sender}'s",
                message.entry,
            )
        try:  # at the time it says it was signed
            trusted.check_usable(message.envelope.sent_at)
        except RejectedMessage as exc:
            raise JournalError(
                f"message {position} ({sender}): {exc.detail} when it was signed, in the "
                "keyring given",
                message.entry,
            ) from None


def _opens_as_a_bundle(data: bytes) -> bool:
    """Whether ``data`` opens as a bundle does, whatever the order of its fields: a
    msgpack map (fixmap, map 16 or map 32) whose first key is a string (fixstr, str 8,
    16 or 32). A bundle damaged past these first bytes still opens so, and fails as a
    bundle; a text or JSON file, a signed message (an array) or a journal never does."""
    if not data:
        return False
    first = data[0]
    if 0x80 <= first <= 0x8F:
        key = 1
    elif first == 0xDE:
        key = 3
    elif first == 0xDF:
        key = 5
    else:
        return False
    return len(data) > key and (0xA0 <= data[key] <= 0xBF or 0xD9 <= data[key] <= 0xDB)


def verify_any(path: Path) -> Report:
    """Check a journal or an evidence bundle, whichever ``path`` holds (by its first
    bytes: a journal's SQLite header, or a bundle's msgpack map).

    Raises:
        NotReadable: the file cannot be read, or is neither (bad input).
        JournalError: it is a journal or a bundle, and does not verify.
    """
    try:
        with path.open("rb") as stream:
            start = stream.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise NotReadable(f"{path}: {exc.strerror or exc}") from None
    if start == SQLITE_MAGIC:
        return verify_journal(path)
    if not start:
        raise NotReadable(f"{path}: not a journal or an evidence bundle: the file is empty")
    if not _opens_as_a_bundle(start):
        raise NotReadable(
            f"{path}: not a journal (no SQLite header) or an evidence bundle (not a msgpack map)"
        )
    return verify_bundle(path)
