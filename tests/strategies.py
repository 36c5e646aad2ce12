"""Hypothesis strategies for envelopes and body values."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from hotline.core.names import (
    CORRECTED_ANSWERS,
    OUTCOME_NAMES,
    REF_KINDS,
    Channel,
    DisputeReason,
    Kind,
    Precedence,
)
from hotline.core.wire import MAX_SAFE_INTEGER, Envelope

_ID_CHARS = string.ascii_letters + string.digits + "._-"
station_ids = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_letters + string.digits),
    st.text(_ID_CHARS, max_size=20),
)
incident_ids = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_letters + string.digits),
    st.text(_ID_CHARS + ":", max_size=30),
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.binary(max_size=40)
)
_keys = st.text(max_size=12)
body_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(_keys, body_values, max_size=5)


@st.composite
def envelopes(draw: st.DrawFn, kind: Kind | None = None) -> Envelope:
    """Any valid envelope, of ``kind`` if given."""
    chosen = kind if kind is not None else draw(st.sampled_from(Kind))
    sender = draw(station_ids)
    recipients = draw(
        st.lists(station_ids.filter(lambda s: s != sender), min_size=1, max_size=4, unique=True)
    )
    body = dict(draw(bodies))
    if chosen is Kind.DISPUTE:
        body["reason"] = draw(st.sampled_from(DisputeReason)).value
    elif chosen in (Kind.CLOSE, Kind.CONFIRM):
        body["outcome"] = draw(st.sampled_from(sorted(OUTCOME_NAMES)))
    elif chosen is Kind.CORRECT:
        body["answer"] = str(draw(st.sampled_from(sorted(CORRECTED_ANSWERS))))
        if body["answer"] == Kind.DISPUTE:
            body["reason"] = draw(st.sampled_from(DisputeReason)).value
    elif chosen is Kind.RELAY:
        body["for"] = draw(station_ids)
    needs_ref = chosen in REF_KINDS
    ref = draw(
        st.binary(min_size=32, max_size=32)
        if needs_ref
        else st.none() | st.binary(min_size=32, max_size=32)
    )
    return Envelope(
        id=draw(st.binary(min_size=16, max_size=16)),
        channel=draw(st.sampled_from(Channel)),
        kind=chosen,
        sender=sender,
        recipients=tuple(recipients),
        incident=draw(incident_ids),
        ref=ref,
        seq=draw(st.integers(min_value=1, max_value=MAX_SAFE_INTEGER)),
        sent_at_ms=draw(st.integers(min_value=0, max_value=MAX_SAFE_INTEGER)),
        precedence=draw(st.sampled_from(Precedence)),
        body=body,
    )
