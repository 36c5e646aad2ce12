"""Fault plans as files and tables: what a fault proxy is given, and what it lists.

A proxy's plan is either a scenario file (its ``[[faults]]``, its seed, its
``[network]`` and doctrine) or a plan file of its own:

    seed = 7                                  # optional (default 1, as scenarios)
    [clients]                                 # optional: client id or user name -> stations
    "hotline-US" = ["US-CAOC", "US-CJCS"]
    [[faults]]
    kind = "drop"
    channel = "air"
    probability = 0.3

Each ``[[faults]]`` table is read by the scenario loader (`hotline.sim.scenario`), with
the same checks and errors naming the file, the field and the reason; a plan file may
name any station. `fault_table` turns a fault back into a table (JSON-ready: durations
in seconds), as the proxy's control API lists it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from hotline.core.channels import Doctrine
from hotline.core.names import Channel, check_station_id
from hotline.faults import Fault
from hotline.sim.fields import ScenarioError
from hotline.sim.model import Link
from hotline.sim.scenario import fault_reader, load_scenario_data, scenario_from_data

PLAN_KEYS: Final = frozenset({"seed", "clients", "faults"})


@dataclass(frozen=True, slots=True)
class FaultFile:
    """A plan read from a file."""

    faults: tuple[Fault, ...]
    seed: int = 1
    clients: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    network: Mapping[Channel, Link] = field(default_factory=dict)
    doctrine: Doctrine | None = None


def load_fault_plan(path: Path) -> FaultFile:
    """Read a plan file or a scenario file (see the module doc).

    Raises:
        ScenarioError: naming the file, the field and the reason.
    """
    data = load_scenario_data(path)
    source = str(path)
    if "scenario" in data:
        scenario = scenario_from_data(data, source)
        return FaultFile(
            scenario.faults, scenario.seed, {}, dict(scenario.network), scenario.doctrine
        )
    unknown = sorted(set(data) - PLAN_KEYS)
    if unknown:
        raise ScenarioError(
            source,
            unknown[0],
            "unknown field (a fault plan holds seed, [clients] and [[faults]]; "
            "a scenario file starts with [scenario])",
        )
    seed = data.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ScenarioError(
            source, "seed", f"must be a whole number from 0 to 2**63-1, not {seed!r}"
        )
    clients = _clients(data.get("clients", {}), source)
    faults = fault_reader(source).faults(data.get("faults", []), None, "ed25519")
    return FaultFile(faults, seed, clients)


def fault_from_table(table: object, source: str = "fault", where: str = "fault") -> Fault:
    """One fault from a table (a ``[[faults]]`` entry, or JSON sent to a running proxy).

    Raises:
        ScenarioError: naming ``source``, the field and the reason.
    """
    reader = fault_reader(source)
    fault = reader.fault(table, where, None, "ed25519")
    reader.fault_cost([fault])
    return fault


def fault_table(fault: Fault) -> dict[str, Any]:
    """The fault as a table: its kind and every field that differs from the default."""
    blank = Fault(kind=fault.kind)
    table: dict[str, Any] = {"kind": fault.kind.value}
    for spec in fields(Fault):
        name = spec.name
        value = getattr(fault, name)
        if name == "kind" or value == getattr(blank, name):
            continue
        if name == "delay":
            low, high = value
            value = low if low == high else {"low": low, "high": high}
        elif name == "until" and math.isinf(value):
            continue
        elif hasattr(value, "value"):  # enums by their names in files
            value = value.value
        table[name] = value
    return table


def _clients(value: object, source: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ScenarioError(
            source, "clients", "must be a table: client id or user name = [stations]"
        )
    found = {}
    for name, given in value.items():
        where = f"clients.{name}"
        stations = [given] if isinstance(given, str) else given
        if not isinstance(stations, list) or not stations:
            raise ScenarioError(source, where, "must list the stations that client hosts")
        for station in stations:
            try:
                check_station_id(station)
            except ValueError as exc:
                raise ScenarioError(source, where, str(exc)) from None
        found[str(name)] = tuple(stations)
    return found
