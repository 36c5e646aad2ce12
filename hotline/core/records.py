"""An incident as a plain record, so a live post can keep its incidents across restarts.

`incident_record` turns an `Incident` into a dict of strings, numbers, booleans, bytes,
lists and dicts (what msgpack carries); `incident_from_record` rebuilds it against the
post's doctrine. The round trip is exact: every field, the history and the digests of
the notices come back as they were, so a restored incident takes the same answers,
fires the same timers and sends the same messages as if the post had never stopped.

The record holds no doctrine: the rules of each line come from the doctrine the post
restarts with. Records carry a version (``v``): version 1 records (written before incidents kept
their answers, closing messages and declared kinds) still read back, with those
fields empty; a record of a version this code does not know is a `RecordError`,
never a half-restored incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hotline.core.channels import Doctrine
from hotline.core.errors import HotlineError
from hotline.core.incident import (
    Answer,
    Closing,
    Incident,
    Input,
    Leg,
    Notice,
    Role,
    State,
    Step,
)
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from hotline.core.where import Where

RECORD_VERSION: Final = 2
_READABLE: Final = frozenset({1, RECORD_VERSION})


class RecordError(HotlineError):
    """A stored incident record could not be read back."""


def incident_record(incident: Incident) -> dict[str, Any]:
    """The record of ``incident`` (see module doc)."""
    notice = incident.notice
    return {
        "v": RECORD_VERSION,
        "id": incident.id,
        "role": incident.role.value,
        "party": incident.party,
        "station": incident.station,
        "originator": incident.originator,
        "precedence": incident.precedence.value,
        "notice": {
            "activity": notice.activity,
            "starts_at": notice.starts_at,
            "ends_at": notice.ends_at,
            "area": None if notice.area is None else dict(notice.area),
            "where": None if notice.where is None else notice.where.to_body(),
            "text": notice.text,
        },
        "opened_at": incident.opened_at,
        "state": incident.state.value,
        "legs": [
            {
                "channel": leg.channel.value,
                "recipients": list(leg.recipients),
                "opened_at": leg.opened_at,
                "calls": leg.calls,
                "standbys": leg.standbys,
                "answers": {station: kind.value for station, kind in leg.answers.items()},
                "told": dict(leg.told),
            }
            for leg in incident.legs
        ],
        "deadline": incident.deadline,
        "closed_at": incident.closed_at,
        "fallbacks": incident.fallbacks,
        "escalation": incident.escalation,
        "late_notice": incident.late_notice,
        "disputes": [[station, reason.value] for station, reason in incident.disputes],
        "resolution": None if incident.resolution is None else dict(incident.resolution),
        "history": [
            [s.at, s.before.value, s.input.value, s.after.value, s.channel.value, s.by]
            for s in incident.history
        ],
        "notices": [[digest, leg] for digest, leg in incident.notices.items()],
        "last_notice": incident.last_notice,
        "kind": incident.kind.value,
        "relay_for": incident.relay_for,
        "outcome_at": incident.outcome_at,
        "ending": incident.ending,
        "lead": incident.lead,
        "withdrawal": incident.withdrawal,
        "heard": [
            [a.at, a.station, a.channel.value, a.kind.value, a.reason, a.effect, a.corrects_to]
            for a in incident.answers
        ],
        "closing": [
            [c.station, c.channel.value, c.kind.value, c.left, c.due] for c in incident.closing
        ],
        "closings": [[digest, channel.value] for digest, channel in incident.closings.items()],
        "unconfirmed": [[station, channel.value] for station, channel in incident.unconfirmed],
        "closed_by": None if incident.closed_by is None else incident.closed_by.value,
    }


def incident_from_record(record: Mapping[str, Any], doctrine: Doctrine) -> Incident:
    """Rebuild the incident of ``record`` under ``doctrine``.

    Raises:
        RecordError: an unknown record version, or a missing or malformed field.
    """
    if record.get("v") not in _READABLE:
        raise RecordError(
            f"incident record version {record.get('v')!r} is not one this code reads (1, 2)"
        )
    try:
        return _rebuild(record, doctrine)
    except (KeyError, TypeError, ValueError) as exc:
        name = record.get("id", "?")
        raise RecordError(f"incident record {name!r} is malformed: {exc!r}") from None


def _rebuild(record: Mapping[str, Any], doctrine: Doctrine) -> Incident:
    notice = record["notice"]
    incident = Incident(
        id=str(record["id"]),
        role=Role(record["role"]),
        party=str(record["party"]),
        station=str(record["station"]),
        originator=str(record["originator"]),
        precedence=Precedence(record["precedence"]),
        notice=Notice(
            activity=str(notice["activity"]),
            starts_at=_number_or_none(notice["starts_at"]),
            ends_at=_number_or_none(notice["ends_at"]),
            area=None if notice["area"] is None else dict(notice["area"]),
            # a record from before notices carried `where` has none
            where=None if notice.get("where") is None else Where.from_body(notice["where"]),
            text=str(notice["text"]),
        ),
        doctrine=doctrine,
        opened_at=float(record["opened_at"]),
    )
    legs = record["legs"]
    if not legs:
        raise ValueError("an incident has at least one leg")
    for leg in legs:
        incident._enter(
            Leg(
                channel=Channel(leg["channel"]),
                recipients=tuple(str(r) for r in leg["recipients"]),
                opened_at=float(leg["opened_at"]),
                calls=int(leg["calls"]),
                standbys=int(leg["standbys"]),
                answers={str(s): Kind(k) for s, k in leg["answers"].items()},
                told={str(s): str(o) for s, o in leg.get("told", {}).items()},
            )
        )
    incident.state = State(record["state"])
    incident.deadline = _number_or_none(record["deadline"])
    incident.closed_at = _number_or_none(record["closed_at"])
    incident.fallbacks = int(record["fallbacks"])
    incident.escalation = str(record["escalation"])
    incident.late_notice = bool(record["late_notice"])
    incident.disputes = [(str(s), DisputeReason(r)) for s, r in record["disputes"]]
    resolution = record["resolution"]
    incident.resolution = None if resolution is None else dict(resolution)
    incident.history = [
        Step(float(at), State(before), Input(event), State(after), Channel(channel), str(by))
        for at, before, event, after, channel, by in record["history"]
    ]
    incident.notices = {bytes(digest): int(leg) for digest, leg in record["notices"]}
    last = record["last_notice"]
    incident.last_notice = None if last is None else bytes(last)
    if record["v"] == 1:
        incident.outcome_at = incident.closed_at
        return incident
    incident.kind = Kind(record["kind"])
    incident.relay_for = str(record["relay_for"])
    incident.outcome_at = _number_or_none(record["outcome_at"])
    incident.ending = str(record["ending"])
    incident.lead = str(record["lead"])
    incident.withdrawal = str(record["withdrawal"])
    incident.answers = [
        Answer(float(at), str(st), Channel(ch), Kind(k), str(reason), str(effect), str(to))
        for at, st, ch, k, reason, effect, to in record["heard"]
    ]
    incident.closing = [
        Closing(str(st), Channel(ch), Kind(k), int(left), float(due))
        for st, ch, k, left, due in record["closing"]
    ]
    incident.closings = {bytes(d): Channel(ch) for d, ch in record["closings"]}
    incident.unconfirmed = [(str(st), Channel(ch)) for st, ch in record["unconfirmed"]]
    closed_by = record["closed_by"]
    incident.closed_by = None if closed_by is None else Kind(closed_by)
    return incident


def _number_or_none(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    return float(value)
