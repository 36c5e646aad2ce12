"""Fuzzed input to the readers a user points at files: the scenario loader, and the
evidence and journal readers. Each may refuse, but only with its documented error."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.audit.evidence import export_evidence, verify_any, verify_bundle
from hotline.audit.journal import JournalError
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.scenario import TABLE_KEYS, parse_scenario, read_toml, scenario_from_data
from tests.conftest import REPO

TUTORIAL = (REPO / "examples" / "tutorial.toml").read_text()
BASE: dict[str, Any] = read_toml(TUTORIAL)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what msgpack can carry
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1m", "90s", "-5s", "1h30m", "air", "ground", "RED-AOC", "BLUE-AOC"])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(sorted(set().union(*TABLE_KEYS.values()))), inner, max_size=4
        )
    ),
    max_leaves=10,
)
_paths = st.lists(
    st.sampled_from(["scenario", "network", "air", "responders", "events", "expect", "faults", 0]),
    min_size=1,
    max_size=3,
)


def _replace(document: Any, path: list[Any], value: Any) -> Any:
    """``document`` with the value at ``path`` (as far as it exists) set to ``value``."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict) and isinstance(head, str):
        changed = dict(document)
        changed[head] = _replace(document.get(head), rest, value)
        return changed
    if isinstance(document, list) and isinstance(head, int) and document:
        return [_replace(document[0], rest, value), *document[1:]]
    return value


@settings(max_examples=300, deadline=None)
@given(path=_paths, value=_values)
def test_the_scenario_loader_refuses_any_document_with_a_scenario_error(
    path: list[Any], value: Any
) -> None:
    document = _replace(BASE, path, value)
    with contextlib.suppress(ScenarioError):
        scenario_from_data(document, "fuzzed.toml")


@settings(max_examples=200, deadline=None)
@given(
    cut=st.integers(0, len(TUTORIAL)),
    junk=st.text(alphabet='[]{}="\n.,#0123456789abcxyz -', max_size=40),
)
def test_the_scenario_loader_refuses_any_text_with_a_scenario_error(cut: int, junk: str) -> None:
    with contextlib.suppress(ScenarioError):
        parse_scenario(TUTORIAL[:cut] + junk + TUTORIAL[cut:], "fuzzed.toml")


def _bundle(tmp_path: Path) -> bytes:
    journals = tmp_path / "journals"
    scenario = parse_scenario(TUTORIAL, "tutorial.toml")
    run_exercise(scenario, journals=journals)
    bundle = tmp_path / "b.evidence"
    export_evidence(journals / "RED.journal", "flight-1", bundle)
    return bundle.read_bytes()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_bundle_reader_refuses_any_edit_with_a_journal_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "fuzzed.evidence"
    original = _bundle(tmp_path) if not (tmp_path / "b.evidence").exists() else None
    genuine = original or (tmp_path / "b.evidence").read_bytes()
    outer = msgpack.unpackb(genuine)
    body = msgpack.unpackb(outer["evidence"])
    key = data.draw(st.sampled_from(sorted(body)))
    body[key] = data.draw(_values | st.binary(max_size=40))
    packed = msgpack.packb(body, use_bin_type=True)
    # resealed: the digest is recomputed, as anyone can, so the reader meets the edit
    path.write_bytes(
        msgpack.packb(
            {"evidence": packed, "digest": hashlib.sha256(packed).digest()}, use_bin_type=True
        )
    )
    with contextlib.suppress(JournalError):
        verify_bundle(path)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_given_as_a_journal_or_bundle_are_refused_with_a_journal_error(
    tmp_path_factory: Any, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "file"
    path.write_bytes(data)
    with contextlib.suppress(JournalError):
        verify_any(path)
