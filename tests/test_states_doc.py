"""Generated documents (protocol/states.md, docs/scenarios.md) must be current."""

from __future__ import annotations

from hotline.core.incident import TRANSITIONS
from hotline.sim.schema import scenario_reference
from hotline.statesdoc import render
from tests.conftest import REPO


def test_states_md_is_current() -> None:
    committed = (REPO / "protocol" / "states.md").read_text()
    assert committed == render(), "run `make states` and commit protocol/states.md"


def test_scenario_reference_is_current() -> None:
    committed = (REPO / "docs" / "scenarios.md").read_text()
    assert committed == scenario_reference(), "run `make docs` and commit docs/scenarios.md"


def test_states_md_lists_every_transition() -> None:
    text = render()
    for (before, event), after in TRANSITIONS.items():
        assert f"| `{before}` | `{event}` | `{after}` |" in text
