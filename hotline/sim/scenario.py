"""Scenario files: the TOML a protocol designer writes, and its validated model.

A scenario names the parties and their stations on each line, overrides doctrine,
describes each line's network, says how each responding station behaves, scripts the
events, and states what must come out. `load_scenario` turns a file into a `Scenario`
(`hotline.sim.model`) or raises one `ScenarioError` naming the file, the field
(``events[2].channel``) and the reason (`hotline.sim.fields`); nothing half-valid gets
through. The accepted keys of each table are in
`TABLE_KEYS`, which the JSON Schema (`hotline.sim.schema`) is checked against.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from hotline.core.channels import Doctrine, DoctrineError
from hotline.core.incident import OUTCOMES
from hotline.core.names import (
    Channel,
    DisputeReason,
    Kind,
    Precedence,
    check_incident_id,
    check_station_id,
)
from hotline.core.where import Where
from hotline.doctrine import default_doctrine
from hotline.faults import (
    BYTE_FAULTS,
    CONNECTION_FAULTS,
    STATION_FAULTS,
    Fault,
    FaultKind,
    ForgeKey,
    Stream,
    check_topic_filter,
)
from hotline.geo.load import MapReader
from hotline.sim.distributions import parse_distribution
from hotline.sim.durations import parse_duration, parse_signed_duration
from hotline.sim.fields import FieldReader, ScenarioError, read_input
from hotline.sim.model import (
    NOTICE_ACTIONS,
    Expectation,
    Link,
    Replay,
    ResponderRule,
    Scenario,
    ScriptEvent,
    describe,
)
from hotline.timestamps import LATEST, parse_instant

DEFAULT_START: Final = "2026-01-01T00:00:00Z"
DEFAULT_DURATION: Final = 7 * 86_400.0
MAX_REPEAT: Final = 1_000_000

TABLE_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "": frozenset(
        {
            "scenario",
            "parties",
            "doctrine",
            "verifier",
            "network",
            "responders",
            "events",
            "expect",
            "faults",
            "replay",
            "explore",
            "geometry",
        }
    ),
    "explore": frozenset({"symmetric"}),
    "replay": frozenset({"property", "steps", "max_loss", "max_duplicates", "max_reorder"}),
    "scenario": frozenset({"name", "description", "start", "seed", "duration", "signing"}),
    "verifier": frozenset({"max_age", "max_skew"}),
    "network": frozenset({"latency", "loss", "outages", "detect_outages"}),
    "responders": frozenset(
        {
            "station",
            "action",
            "answers",
            "delay",
            "final_delay",
            "reason",
            "probability",
            "misroute",
            "misroute_delay",
            "from",
            "until",
            "activity",
            "text",
            "actions",
            "dispute_near_km",
            "dispute_in_zone",
            "location_wrong_km",
        }
    ),
    "events": frozenset(
        {
            "at",
            "action",
            "originator",
            "channel",
            "to",
            "incident",
            "activity",
            "area",
            "starts_in",
            "lasts",
            "precedence",
            "text",
            "actions",
            "repeat",
            "every",
            "reason",
            "for",
            "station",
            "answer",
            "where",
            "actual",
        }
    ),
    "faults": frozenset(
        {
            "kind",
            "channel",
            "sender",
            "recipient",
            "station",
            "start",
            "until",
            "probability",
            "delay",
            "copies",
            "bits",
            "forge_key",
            "skew",
            "up",
            "down",
            "topic",
            "stream",
            "rate",
            "size",
            "after",
        }
    ),
    "expect": frozenset(
        {
            "incident",
            "outcome",
            "within",
            "max_fallbacks",
            "min_fallbacks",
            "channel",
            "late_notice",
            "dispute_reason",
            "view",
            "answer",
            "description",
        }
    ),
    "area": frozenset({"lat", "lon", "radius_km", "route", "width_km", "note"}),
    "where": frozenset({"point", "circle", "polygon", "route", "radius_km", "width_km"}),
}
ACTIONS: Final = ("ack", "standby", "standby-then-ack", "dispute", "disavow", "silent", "resolve")
EVENT_ACTIONS: Final = (
    *NOTICE_ACTIONS,
    "withdraw",
    "escalate",
    "resolve",
    "correct",
    "suspend",
    "resume",
)
#: What an addressee's answer can be, as an expectation names it.
ANSWER_WORDS: Final = ("acknowledged", "disputed", "standby", "resolved", "none")
SIGNING: Final = ("ed25519", "none")


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file.

    Raises:
        ScenarioError: the file is unreadable, not TOML, or breaks a rule; the message
            names the file, the field and the reason.
    """
    return scenario_from_data(load_scenario_data(path), str(path))


#: The most copies faults may make of one message (a run's cost grows with them).
MAX_COPIES_PER_MESSAGE: Final = 1000
#: The largest scenario file read (a scenario is a few kilobytes).
MAX_SCENARIO_BYTES: Final = 10_000_000


def load_scenario_data(path: Path) -> dict[str, Any]:
    """The TOML document of a scenario file, not yet validated."""
    source = str(path)
    data = read_input(path, MAX_SCENARIO_BYTES)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ScenarioError(source, "", "not UTF-8 text") from None
    return read_toml(text, source)


def scenario_folder(source: str) -> Path | None:
    """The folder of the scenario file ``source``, where the files it names are read
    from; None when it was not read from a file (the working directory serves)."""
    path = Path(source)
    return path.parent if path.is_file() else None


def with_files_resolved(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The scenario document with the files it names (``geometry.file``) made absolute
    from the folder of ``source``, the scenario file it was read from, so that it reads
    alike from any working directory and in any worker process given it (a sweep's)."""
    resolved = dict(document)
    geometry = document.get("geometry")
    if isinstance(geometry, Mapping) and isinstance(geometry.get("file"), str):
        base = scenario_folder(source) or Path()
        resolved["geometry"] = {**geometry, "file": str((base / geometry["file"]).absolute())}
    return resolved


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    """Validate scenario TOML text (see `load_scenario`)."""
    return scenario_from_data(read_toml(text, source), source)


def read_toml(text: str, source: str = "scenario") -> dict[str, Any]:
    """Parse TOML text; `ScenarioError` naming ``source`` if it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"not valid TOML ({exc})") from None
    except RecursionError:
        raise ScenarioError(source, "", "tables or arrays nested too deeply to read") from None


def scenario_from_data(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Validate an already-parsed scenario document (what sweeps vary)."""
    return _Reader(source).scenario(data)


class _Reader(FieldReader):
    """Reads one scenario document, raising `ScenarioError` at the first problem."""

    # -- the document ----------------------------------------------------------------

    def scenario(self, data: Mapping[str, Any]) -> Scenario:
        self.table(data, "", TABLE_KEYS[""])
        head = self.table(data.get("scenario"), "scenario", TABLE_KEYS["scenario"])
        name = self.convert("scenario.name", self.text(head, "name", "scenario"), check_incident_id)
        start_text = self.text(head, "start", "scenario", DEFAULT_START)
        start = self.convert("scenario.start", start_text, parse_instant)
        seed = head.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise self.fail(
                "scenario.seed", f"must be a whole number from 0 to 2**63-1, not {seed!r}"
            )
        duration = self.duration_or(head, "duration", "scenario", DEFAULT_DURATION)
        if duration <= 0:
            raise self.fail("scenario.duration", "must be positive")
        if start + duration > LATEST:
            raise self.fail("scenario.duration", "runs past the year 9999")
        signing = self.choice(head, "signing", "scenario", SIGNING, "ed25519")
        parties = self.parties(data.get("parties"))
        doctrine = self.doctrine(data.get("doctrine", {}), parties)
        verifier = self.table(data.get("verifier", {}), "verifier", TABLE_KEYS["verifier"])
        max_age = self.duration_or(verifier, "max_age", "verifier", 3600.0)
        max_skew = self.duration_or(verifier, "max_skew", "verifier", 120.0)
        if max_age <= 0:
            raise self.fail("verifier.max_age", "must be positive")
        network = self.network(data.get("network", {}))
        stations = {s: p for p, table in parties.items() for s in table.values()}
        responders = self.responders(data.get("responders", []), stations, doctrine)
        events = self.events(data.get("events", []), parties, stations, doctrine, duration)
        incidents = {e.incident: e for e in events if e.action in NOTICE_ACTIONS}
        expectations = self.expectations(data.get("expect", []), incidents, parties)
        faults = self.faults(data.get("faults", []), stations, signing)
        replay = self.replay(data["replay"]) if "replay" in data else None
        geometry = None
        if "geometry" in data:
            folder = scenario_folder(self.source)
            geometry = MapReader(self.source, list(parties)).tables(data["geometry"], folder)
        symmetric = self.symmetric(data.get("explore", {}), parties)
        self.check_symmetry(symmetric, parties, responders, events, expectations)
        return Scenario(
            name=name,
            source=self.source,
            description=self.text(head, "description", "scenario", "", limit=None),
            start=start,
            seed=seed,
            duration=duration,
            signing=signing,
            parties=parties,
            doctrine=doctrine,
            max_age=max_age,
            max_skew=max_skew,
            network=network,
            responders=responders,
            events=events,
            expectations=expectations,
            faults=faults,
            replay=replay,
            symmetric=symmetric,
            geometry=geometry,
            document=data,
        )

    def symmetric(
        self, value: object, parties: Mapping[str, Mapping[Channel, str]]
    ) -> tuple[tuple[str, ...], ...]:
        """Groups of interchangeable parties: each on the same lines, none in two groups."""
        table = self.table(value, "explore", TABLE_KEYS["explore"])
        groups = table.get("symmetric", [])
        if not isinstance(groups, list):
            raise self.fail("explore.symmetric", "must be a list of groups of parties")
        found: list[tuple[str, ...]] = []
        placed: set[str] = set()
        for index, group in enumerate(groups):
            where = f"explore.symmetric[{index}]"
            if not isinstance(group, list) or len(group) < 2:
                raise self.fail(where, "must list two parties or more")
            for party in group:
                if party not in parties:
                    raise self.fail(where, f"{party!r} is no party of the scenario")
                if party in placed:
                    raise self.fail(where, f"{party} is in two groups")
                if set(parties[party]) != set(parties[group[0]]):
                    raise self.fail(where, f"{party} and {group[0]} do not sit on the same lines")
                placed.add(party)
            found.append(tuple(group))
        return tuple(found)

    def check_symmetry(
        self,
        groups: tuple[tuple[str, ...], ...],
        parties: Mapping[str, Mapping[Channel, str]],
        responders: tuple[ResponderRule, ...],
        events: tuple[ScriptEvent, ...],
        expectations: tuple[Expectation, ...],
    ) -> None:
        """Parties declared interchangeable must be treated alike by everything but their
        names: the same responder rules, no act of their own in the script, every notice
        addressed to all of a group or none, and no expectation naming one."""
        for index, group in enumerate(groups):
            where = f"explore.symmetric[{index}]"
            members = set(group)
            first = group[0]
            for number, event in enumerate(events):
                if event.party in members:
                    raise self.fail(
                        where,
                        f"{event.party} acts in the script (events[{number}]): "
                        "only parties the script treats alike are interchangeable",
                    )
                named = members & set(event.to)
                if named and named != members:
                    raise self.fail(
                        where,
                        f"events[{number}] addresses {', '.join(sorted(named))} but "
                        "not the rest of the group",
                    )
            for number, expectation in enumerate(expectations):
                named = members & (set(expectation.views) | set(expectation.answers))
                if named:
                    raise self.fail(
                        where,
                        f"expect[{number}] names {', '.join(sorted(named))}: an "
                        "expectation about one of a group tells them apart",
                    )
            for party in group[1:]:
                renamed = {parties[first][c]: parties[party][c] for c in parties[first]}
                mine = [r for r in responders if r.station in renamed.values()]
                theirs = [
                    dataclasses.replace(r, station=renamed[r.station])
                    for r in responders
                    if r.station in renamed
                ]
                if mine != theirs:
                    raise self.fail(
                        where,
                        f"{party}'s responder rules are not {first}'s (but for the "
                        "station names): they are not interchangeable",
                    )

    def replay(self, value: object) -> Replay:
        """A path `hotline explore` wrote, every step pinned."""
        table = self.table(value, "replay", TABLE_KEYS["replay"])
        steps = table.get("steps")
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise self.fail("replay.steps", "must be a list of steps (strings)")
        bounds = []
        for key in ("max_loss", "max_duplicates", "max_reorder"):
            number = table.get(key)
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int) or number < 0
            ):
                raise self.fail(f"replay.{key}", f"must be a whole number from 0, not {number!r}")
            bounds.append(number)
        return Replay(
            property=self.text(table, "property", "replay", ""),
            steps=tuple(steps),
            max_loss=bounds[0] or 0,
            max_duplicates=bounds[1] or 0,
            max_reorder=bounds[2],
        )

    def parties(self, value: object) -> dict[str, dict[Channel, str]]:
        table = self.table(value, "parties")
        if len(table) < 2:
            raise self.fail("parties", "a hotline needs at least two parties")
        parties: dict[str, dict[Channel, str]] = {}
        owner: dict[str, str] = {}
        for party, raw_lines in table.items():
            where = f"parties.{party}"
            self.convert(where, party, check_station_id)
            lines = self.table(raw_lines, where)
            if not lines:
                raise self.fail(where, "give the party's station on at least one line")
            parties[party] = {}
            for channel_name, station in lines.items():
                channel = self.channel(channel_name, f"{where}.{channel_name}")
                self.convert(f"{where}.{channel_name}", station, check_station_id)
                if owner.get(station, party) != party:
                    raise self.fail(
                        f"{where}.{channel_name}", f"{station} already belongs to {owner[station]}"
                    )
                owner[station] = party
                parties[party][channel] = station
        return parties

    def doctrine(self, value: object, parties: Mapping[str, Mapping[Channel, str]]) -> Doctrine:
        overrides = dict(self.table(value, "doctrine"))
        channels = dict(self.table(overrides.get("channels", {}), "doctrine.channels"))
        for channel in Channel:
            entry = dict(
                self.table(channels.get(channel.value, {}), f"doctrine.channels.{channel}")
            )
            if "stations" in entry:
                raise self.fail(
                    f"doctrine.channels.{channel}.stations", "stations come from [parties]"
                )
            entry["stations"] = {p: t[channel] for p, t in parties.items() if channel in t}
            channels[channel.value] = entry
        overrides["channels"] = channels
        try:
            return default_doctrine().with_overrides(overrides)
        except DoctrineError as exc:
            raise self.fail(f"doctrine.{exc.field}", exc.detail) from None

    def network(self, value: object) -> dict[Channel, Link]:
        table = self.table(value, "network")
        links = {channel: Link() for channel in Channel}
        for name, raw in table.items():
            where = f"network.{name}"
            channel = self.channel(name, where)
            entry = self.table(raw, where, TABLE_KEYS["network"])
            latency = self.convert(
                f"{where}.latency", entry.get("latency", 1.0), parse_distribution
            )
            loss = _or(self.number(entry, "loss", where, 0.0, 1.0), 0.0)
            outages = []
            windows = entry.get("outages", [])
            if not isinstance(windows, list):
                raise self.fail(f"{where}.outages", "must be a list of [start, end] pairs")
            for index, pair in enumerate(windows):
                spot = f"{where}.outages[{index}]"
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.fail(spot, "must be a [start, end] pair")
                begin, end = (self.convert(spot, item, parse_duration) for item in pair)
                if end <= begin:
                    raise self.fail(spot, "end must come after start")
                outages.append((begin, end))
            detect = entry.get("detect_outages", False)
            if not isinstance(detect, bool):
                raise self.fail(f"{where}.detect_outages", "must be true or false")
            links[channel] = Link(latency, loss, tuple(sorted(outages)), detect)
        return links

    def responders(
        self, value: object, stations: Mapping[str, str], doctrine: Doctrine
    ) -> tuple[ResponderRule, ...]:
        if not isinstance(value, list):
            raise self.fail("responders", "must be an array of tables ([[responders]])")
        rules = []
        for index, raw in enumerate(value):
            where = f"responders[{index}]"
            entry = self.table(raw, where, TABLE_KEYS["responders"])
            station = self.station(self.text(entry, "station", where), f"{where}.station", stations)
            answers = self.answers(entry, where)
            action = answers[0] if answers else self.choice(entry, "action", where, ACTIONS)
            choices = answers or (action,)
            reason = None
            if "dispute" in choices:
                reason_text = self.text(entry, "reason", where)
                reason = self.convert(f"{where}.reason", reason_text, DisputeReason)
            elif choices == ("disavow",):
                reason = DisputeReason.NOT_OUR_FORCES
            elif "reason" in entry:
                raise self.fail(f"{where}.reason", f"only a dispute takes a reason, not {action}")
            actions = self.actions(entry, where, stations) if "resolve" in choices else {}
            if "resolve" in choices:
                lines = [
                    c for c in Channel if doctrine[c].stations.get(stations[station]) == station
                ]
                if not any(doctrine[c].resolves for c in lines):
                    raise self.fail(
                        f"{where}.action", f"{station} sits on no line whose doctrine resolves"
                    )
            start = self.duration_or(entry, "from", where, 0.0)
            until = self.duration_or(entry, "until", where, float("inf"))
            if until <= start:
                raise self.fail(f"{where}.until", "must come after from")
            rules.append(
                ResponderRule(
                    station=station,
                    action=action,
                    delay=self.convert(
                        f"{where}.delay", entry.get("delay", 60), parse_distribution
                    ),
                    final_delay=self.convert(
                        f"{where}.final_delay", entry.get("final_delay", 600), parse_distribution
                    ),
                    reason=reason,
                    probability=_or(self.number(entry, "probability", where, 0.0, 1.0), 1.0),
                    misroute=_or(self.number(entry, "misroute", where, 0.0, 1.0), 0.0),
                    misroute_delay=self.convert(
                        f"{where}.misroute_delay",
                        entry.get("misroute_delay", 0),
                        parse_distribution,
                    ),
                    start=start,
                    until=until,
                    activity=self.text(entry, "activity", where) if "activity" in entry else None,
                    text=self.text(entry, "text", where, ""),
                    actions=actions,
                    answers=answers,
                    dispute_near_km=self.number(entry, "dispute_near_km", where, 0.0, 20_000.0),
                    dispute_in_zone=self.flag(entry, "dispute_in_zone", where),
                    location_wrong_km=self.number(entry, "location_wrong_km", where, 0.0, 20_000.0),
                )
            )
        return tuple(rules)

    def flag(self, entry: Mapping[str, Any], key: str, where: str) -> bool:
        value = entry.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", f"must be true or false, not {value!r}")
        return value

    def answers(self, entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
        """The answers a responder may give, when it may give several (``answers``)."""
        if "answers" not in entry:
            if "action" not in entry:
                raise self.fail(f"{where}.action", "is required (or answers, a list of them)")
            return ()
        if "action" in entry:
            raise self.fail(f"{where}.answers", "give action or answers, not both")
        value = entry["answers"]
        if not isinstance(value, list) or not value:
            raise self.fail(f"{where}.answers", "must be a non-empty list of actions")
        for index, answer in enumerate(value):
            if answer not in ACTIONS:
                raise self.fail(
                    f"{where}.answers[{index}]", f"{answer!r} is not one of {', '.join(ACTIONS)}"
                )
        if len(set(value)) != len(value):
            raise self.fail(f"{where}.answers", "names an action twice")
        return tuple(value)

    def actions(
        self, entry: Mapping[str, Any], where: str, stations: Mapping[str, str]
    ) -> dict[str, str]:
        table = self.table(entry.get("actions"), f"{where}.actions")
        parties = set(stations.values())
        result = {}
        for party, action in table.items():
            if party not in parties:
                raise self.fail(
                    f"{where}.actions.{party}", f"not a party ({', '.join(sorted(parties))})"
                )
            if not isinstance(action, str):
                raise self.fail(f"{where}.actions.{party}", "must be a string")
            result[party] = action
        if not result:
            raise self.fail(f"{where}.actions", "say what each side does")
        return result

    def events(
        self,
        value: object,
        parties: Mapping[str, Mapping[Channel, str]],
        stations: Mapping[str, str],
        doctrine: Doctrine,
        duration: float,
    ) -> tuple[ScriptEvent, ...]:
        if not isinstance(value, list):
            raise self.fail("events", "must be an array of tables ([[events]])")
        events: list[ScriptEvent] = []
        notified: dict[str, ScriptEvent] = {}
        counters: dict[str, int] = {}
        for index, raw in enumerate(value):
            where = f"events[{index}]"
            entry = self.table(raw, where, TABLE_KEYS["events"])
            at = self.duration(entry, "at", where)
            if at is None:
                raise self.fail(f"{where}.at", "required")
            if at >= duration:
                raise self.fail(f"{where}.at", "after the end of the run (scenario.duration)")
            action = self.choice(entry, "action", where, EVENT_ACTIONS, "notify")
            if action in ("suspend", "resume"):
                events.append(self.declaration(entry, where, at, action, (parties, stations)))
                continue
            if action in NOTICE_ACTIONS:
                made = self.notice_events(
                    entry,
                    where,
                    at=at,
                    parties=parties,
                    stations=stations,
                    doctrine=doctrine,
                    counters=counters,
                    kind=NOTICE_ACTIONS[action],
                )
                for event in made:
                    if event.incident in notified:
                        raise self.fail(f"{where}.incident", f"{event.incident!r} is already used")
                    notified[event.incident] = event
                events.extend(made)
                continue
            incident = self.text(entry, "incident", where)
            opened = notified.get(incident)
            if opened is None:
                raise self.fail(f"{where}.incident", f"no earlier event opens {incident!r}")
            if at < opened.at:
                raise self.fail(f"{where}.at", f"before {incident!r} is notified")
            if action == "correct":
                events.append(self.correction(entry, where, at, opened, (parties, stations)))
                continue
            actions = self.actions(entry, where, stations) if action == "resolve" else {}
            events.append(
                ScriptEvent(
                    at=at,
                    action=action,
                    party=opened.party,
                    originator=opened.originator,
                    channel=opened.channel,
                    incident=incident,
                    actions=actions,
                    text=self.text(entry, "text", where, ""),
                    reason=self.text(entry, "reason", where, "manual"),
                )
            )
        return tuple(sorted(events, key=lambda e: e.at))

    def acting_station(
        self,
        entry: Mapping[str, Any],
        where: str,
        roster: tuple[Mapping[str, Mapping[Channel, str]], Mapping[str, str]],
        default: Channel | None = None,
    ) -> tuple[str, str, Channel]:
        """The station that acts (``station``), its party, and the line it acts on:
        ``channel`` if given (one of the station's lines), else ``default`` when the
        station is on it, else the station's only line."""
        parties, stations = roster
        station = self.station(self.text(entry, "station", where), f"{where}.station", stations)
        party = stations[station]
        lines = [c for c, s in parties[party].items() if s == station]
        if "channel" in entry:
            channel = self.channel(entry["channel"], f"{where}.channel")
            if channel not in lines:
                raise self.fail(f"{where}.channel", f"{station} is not on the {channel} line")
        elif default in lines:
            channel = default
        elif len(lines) == 1:
            channel = lines[0]
        else:
            raise self.fail(f"{where}.channel", f"{station} sits on several lines: name one")
        return station, party, channel

    def correction(
        self,
        entry: Mapping[str, Any],
        where: str,
        at: float,
        opened: ScriptEvent,
        roster: tuple[Mapping[str, Mapping[Channel, str]], Mapping[str, str]],
    ) -> ScriptEvent:
        """A responder amends the answer it gave to a notice (``station``, ``answer``)."""
        station, party, channel = self.acting_station(entry, where, roster, opened.channel)
        if party == opened.party:
            raise self.fail(f"{where}.station", f"{station} is the originator's own station")
        answer = self.choice(entry, "answer", where, ("ack", "dispute"))
        reason = None
        if answer == "dispute":
            reason = self.convert(
                f"{where}.reason", self.text(entry, "reason", where), DisputeReason
            )
        elif "reason" in entry:
            raise self.fail(f"{where}.reason", "only a correction to a dispute takes a reason")
        return ScriptEvent(
            at=at,
            action="correct",
            party=party,
            originator=opened.originator,
            channel=channel,
            incident=opened.incident,
            text=self.text(entry, "text", where, ""),
            answer=Kind(answer),
            dispute=reason,
        )

    def declaration(
        self,
        entry: Mapping[str, Any],
        where: str,
        at: float,
        action: str,
        roster: tuple[Mapping[str, Mapping[Channel, str]], Mapping[str, str]],
    ) -> ScriptEvent:
        """A party declares a line suspended, or working again (``station``, ``channel``)."""
        station, party, channel = self.acting_station(entry, where, roster)
        return ScriptEvent(
            at=at,
            action=action,
            party=party,
            originator=station,
            channel=channel,
            incident="",
            text=self.text(entry, "text", where, ""),
        )

    def area(self, value: object, where: str) -> dict[str, object]:
        """A notice's ``area``: a point or circle ``{ lat, lon, radius_km, note }``, or a
        route ``{ route = [[lat, lon], ...], width_km, note }`` (a patrol's road)."""
        table = self.table(value, where, TABLE_KEYS["area"])
        area: dict[str, object] = {}
        if "route" in table:
            if "lat" in table or "lon" in table:
                raise self.fail(f"{where}.route", "an area is a point or a route, not both")
            area["route"] = self.route(table["route"], f"{where}.route")
            size = "width_km"
        else:
            for key, low, high in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
                if key not in table:
                    raise self.fail(f"{where}.{key}", "required (degrees, WGS 84), or a route")
                area[key] = self.number(table, key, where, low, high)
            size = "radius_km"
        other = ({"radius_km", "width_km"} - {size}) & set(table)
        if other:
            kind = "a route" if size == "width_km" else "a point"
            raise self.fail(f"{where}.{other.pop()}", f"{kind} takes {size}")
        if size in table:
            extent = self.number(table, size, where, 0.0, 20_000.0)
            if not extent:
                raise self.fail(f"{where}.{size}", "must be more than 0")
            area[size] = extent
        if "note" in table:
            area["note"] = self.text(table, "note", where)
        return area

    def places(
        self,
        entry: Mapping[str, Any],
        spot: str,
        parties: Mapping[str, object],
    ) -> tuple[Where | None, tuple[float, float] | None]:
        """A notice's ``where`` and its ``actual`` (a notice with only the older ``area``
        carries that alone: the map reads it as a where, `ScriptEvent.located`)."""
        place = self.where(entry["where"], f"{spot}.where") if "where" in entry else None
        actual = None
        if "actual" in entry:
            reader = MapReader(self.source, list(parties))
            actual = reader.coordinate(entry["actual"], f"{spot}.actual")
        return place, actual

    def where(self, value: object, spot: str) -> Where:
        """A notice's area as the protocol carries it, in GeoJSON order ([lon, lat]):
        ``{ point = [lon, lat] }``, ``{ circle = [lon, lat], radius_km = 3 }``,
        ``{ polygon = [[lon, lat], ...] }`` (a closed ring), or ``{ route = [[lon, lat],
        ...], width_km = 2 }`` (its first point the entry, its last the exit)."""
        table = self.table(value, spot, TABLE_KEYS["where"])
        shapes = [key for key in ("point", "circle", "polygon", "route") if key in table]
        if len(shapes) != 1:
            raise self.fail(spot, "one of point, circle, polygon or route")
        shape = shapes[0]
        reader = MapReader(self.source, ())
        if "radius_km" in table and shape != "circle":
            raise self.fail(f"{spot}.radius_km", "only a circle has a radius")
        if "width_km" in table and shape != "route":
            raise self.fail(f"{spot}.width_km", "only a route has a width")
        try:
            if shape == "point":
                return Where.point(*reader.coordinate(table["point"], f"{spot}.point"))
            if shape == "circle":
                radius = self.number(table, "radius_km", spot, 0.001, 20_000.0)
                if radius is None:
                    raise self.fail(f"{spot}.radius_km", "required for a circle")
                lon, lat = reader.coordinate(table["circle"], f"{spot}.circle")
                return Where.circle(lon, lat, round(radius * 1000))
            if shape == "polygon":
                return Where.polygon(reader.ring(table["polygon"], f"{spot}.polygon"))
            width = self.number(table, "width_km", spot, 0.0, 20_000.0)
            points = reader.positions(table["route"], f"{spot}.route", minimum=2)
            return Where.route(points, None if width is None else round(width * 1000))
        except ValueError as exc:
            if isinstance(exc, ScenarioError):
                raise
            raise self.fail(spot, str(getattr(exc, "detail", exc))) from None

    def route(self, value: object, where: str) -> list[list[float]]:
        """A route: two or more ``[lat, lon]`` points in degrees (WGS 84)."""
        if not isinstance(value, list) or len(value) < 2:
            raise self.fail(where, "must be a list of two or more [lat, lon] points")
        points: list[list[float]] = []
        for n, point in enumerate(value):
            ok = isinstance(point, list) and len(point) == 2
            ok = ok and all(isinstance(x, int | float) and not isinstance(x, bool) for x in point)
            if not ok or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
                raise self.fail(f"{where}[{n}]", f"must be [lat, lon] in degrees, not {point!r}")
            points.append([float(point[0]), float(point[1])])
        return points

    def notice_events(
        self,
        entry: Mapping[str, Any],
        where: str,
        *,
        at: float,
        parties: Mapping[str, Mapping[Channel, str]],
        stations: Mapping[str, str],
        doctrine: Doctrine,
        counters: dict[str, int],
        kind: Kind = Kind.NOTIFY,
    ) -> list[ScriptEvent]:
        originator = self.station(
            self.text(entry, "originator", where), f"{where}.originator", stations
        )
        party = stations[originator]
        lines = [c for c, s in parties[party].items() if s == originator]
        if "channel" in entry:
            channel = self.channel(entry["channel"], f"{where}.channel")
            if channel not in lines:
                raise self.fail(f"{where}.channel", f"{originator} is not on the {channel} line")
        elif len(lines) == 1:
            channel = lines[0]
        else:
            raise self.fail(f"{where}.channel", f"{originator} sits on several lines: name one")
        for line in doctrine.ladder(channel)[1:]:
            if line not in parties[party]:
                raise self.fail(
                    f"{where}.channel",
                    f"the {channel} ladder falls back to {line}, where {party} has no station "
                    f"(add one under [parties.{party}], or set "
                    f'doctrine.channels.{channel}.fallback = "none")',
                )
        others = [p for p, t in parties.items() if p != party and channel in t]
        to = entry.get("to", others)
        if not isinstance(to, list) or not to:
            raise self.fail(f"{where}.to", "must be a non-empty list of parties")
        for spot, target in enumerate(to):
            if target not in others:
                raise self.fail(
                    f"{where}.to[{spot}]",
                    f"{target!r} has no station on the {channel} line "
                    f"(candidates: {', '.join(others) or 'none'})",
                )
        activity = self.text(entry, "activity", where)
        precedence = self.convert(
            f"{where}.precedence",
            self.text(entry, "precedence", where, "priority").lower(),
            Precedence,
        )
        area = self.area(entry["area"], f"{where}.area") if "area" in entry else None
        place, actual = self.places(entry, where, parties)
        relay_for = ""
        if kind is Kind.RELAY:
            relay_for = self.text(entry, "for", where)
            self.convert(f"{where}.for", relay_for, check_station_id)
            if relay_for == party or relay_for in to:
                raise self.fail(f"{where}.for", "a relay is for a party not addressed directly")
        elif "for" in entry:
            raise self.fail(f"{where}.for", "only a relay names the party it is for")
        repeat = self.count(entry, "repeat", where, MAX_REPEAT)
        every = self.duration_or(entry, "every", where, 0.0)
        if repeat is not None and repeat < 1:
            raise self.fail(f"{where}.repeat", "must be at least 1")
        copies = repeat or 1
        if copies > 1 and every <= 0:
            raise self.fail(f"{where}.every", "a repeated event needs a positive interval")
        base = entry.get("incident")
        if base is not None:
            self.convert(f"{where}.incident", base, check_incident_id)
        made = []
        for copy in range(copies):
            if base is None:
                counters[originator] = counters.get(originator, 0) + 1
                incident = f"{originator}:{counters[originator]}"
            else:
                incident = str(base) if copies == 1 else f"{base}-{copy + 1}"
            made.append(
                ScriptEvent(
                    at=at + copy * every,
                    action=kind.value,
                    party=party,
                    originator=originator,
                    channel=channel,
                    incident=incident,
                    to=tuple(to),
                    activity=activity,
                    area=area,
                    where=place,
                    actual=actual,
                    starts_in=self.duration(entry, "starts_in", where),
                    lasts=self.duration(entry, "lasts", where),
                    precedence=precedence,
                    text=self.text(entry, "text", where, ""),
                    kind=kind,
                    relay_for=relay_for,
                )
            )
        return made

    def faults(
        self, value: object, stations: Mapping[str, str] | None, signing: str
    ) -> tuple[Fault, ...]:
        """The ``[[faults]]`` tables; ``stations`` None accepts any station name (a fault
        proxy's plan, written for stations it does not know in advance)."""
        if not isinstance(value, list):
            raise self.fail("faults", "must be an array of tables ([[faults]])")
        result = [
            self.fault(raw, f"faults[{index}]", stations, signing)
            for index, raw in enumerate(value)
        ]
        self.fault_cost(result)
        return tuple(result)

    def fault(
        self, raw: object, where: str, stations: Mapping[str, str] | None, signing: str
    ) -> Fault:
        """One ``[[faults]]`` table (also one fault added to a running proxy)."""
        entry = self.table(raw, where, TABLE_KEYS["faults"])
        kind = FaultKind(self.choice(entry, "kind", where, tuple(FaultKind)))
        if kind in BYTE_FAULTS and signing == "none":
            raise self.fail(
                f"{where}.kind",
                f'{kind} needs signed messages, and this scenario sets signing = "none"',
            )
        names = {}
        for key in ("sender", "recipient", "station"):
            if key in entry:
                if stations is None:
                    names[key] = self.convert(f"{where}.{key}", entry[key], check_station_id)
                else:
                    names[key] = self.station(entry[key], f"{where}.{key}", stations)
        if kind in STATION_FAULTS and "station" not in names:
            raise self.fail(f"{where}.station", f"required for {kind}")
        channel = self.channel(entry["channel"], f"{where}.channel") if "channel" in entry else None
        start = self.duration_or(entry, "start", where, 0.0)
        until = self.duration_or(entry, "until", where, math.inf)
        if until <= start:
            raise self.fail(f"{where}.until", "must come after start")
        forge_key = self.choice(entry, "forge_key", where, tuple(ForgeKey), "attacker")
        topic = self.text(entry, "topic", where, "", limit=65_535) or None
        if topic is not None:
            self.convert(f"{where}.topic", topic, check_topic_filter)
        if kind not in CONNECTION_FAULTS:
            for key in ("stream", "rate", "size", "after"):
                if key in entry:
                    raise self.fail(f"{where}.{key}", f"only for connection faults, not {kind}")
        elif channel is not None or topic is not None or "sender" in names or "recipient" in names:
            raise self.fail(
                where, f"{kind} acts on a station's connections: name a station, not a line"
            )
        rate = self.count(entry, "rate", where, 10**12)
        if kind is FaultKind.BANDWIDTH and not rate:
            raise self.fail(f"{where}.rate", "required for bandwidth: bytes a second, at least 1")
        made = Fault(
            kind=kind,
            channel=channel,
            start=start,
            until=until,
            probability=_or(self.number(entry, "probability", where, 0.0, 1.0), 1.0),
            delay=self.delay_range(entry, where, kind),
            copies=_count_or(self.count(entry, "copies", where, 100), 1),
            bits=_count_or(self.count(entry, "bits", where, 512), 1),
            forge_key=ForgeKey(forge_key),
            skew=self.convert(f"{where}.skew", entry.get("skew", 0), parse_signed_duration),
            up=self.duration_or(entry, "up", where, 60.0),
            down=self.duration_or(entry, "down", where, 60.0),
            topic=topic,
            stream=Stream(self.choice(entry, "stream", where, tuple(Stream), "both")),
            rate=rate or 0,
            size=_count_or(self.count(entry, "size", where, 1 << 20), 16)
            if kind is FaultKind.SLICER
            else 0,
            after=self.duration(entry, "after", where),
            **names,
        )
        if kind is FaultKind.FLAP and made.up + made.down <= 0:
            raise self.fail(f"{where}.up", "a flap's up and down times cannot both be 0")
        return made

    def fault_cost(self, faults: list[Fault]) -> None:
        """Refuse faults that together would turn one message into more copies than a
        run can carry (duplicates of duplicates of replays...): each copy meets every
        later fault, so the copies multiply."""
        copies = 1
        for index, fault in enumerate(faults):
            if fault.kind is FaultKind.DUPLICATE:
                copies *= 1 + fault.copies
            elif fault.kind in (FaultKind.REPLAY, FaultKind.FORGE):
                copies *= 2
            if copies > MAX_COPIES_PER_MESSAGE:
                raise self.fail(
                    f"faults[{index}]",
                    f"with the faults before it, one message could become {copies} copies"
                    f" (at most {MAX_COPIES_PER_MESSAGE})",
                )

    def delay_range(
        self, entry: Mapping[str, Any], where: str, kind: FaultKind
    ) -> tuple[float, float]:
        defaults = {
            FaultKind.REPLAY: (600.0, 600.0),
            FaultKind.REORDER: (0.0, 30.0),
            FaultKind.SLICER: (0.001, 0.001),
        }
        if "delay" not in entry:
            return defaults.get(kind, (0.0, 0.0))
        value = entry["delay"]
        if isinstance(value, Mapping):
            spot = self.table(value, f"{where}.delay")
            if set(spot) != {"low", "high"}:
                raise self.fail(f"{where}.delay", "a range is { low = ..., high = ... }")
            low = self.convert(f"{where}.delay.low", spot["low"], parse_duration)
            high = self.convert(f"{where}.delay.high", spot["high"], parse_duration)
            if high < low:
                raise self.fail(f"{where}.delay.high", "must not be below low")
            return (low, high)
        fixed = self.convert(f"{where}.delay", value, parse_duration)
        return (fixed, fixed)

    def party_table(
        self,
        entry: Mapping[str, Any],
        key: str,
        where: str,
        parties: Mapping[str, object],
        words: tuple[str, ...],
    ) -> dict[str, str]:
        """``view = { RU = "disputed" }``: party -> one of ``words``."""
        if key not in entry:
            return {}
        table = self.table(entry[key], f"{where}.{key}")
        found = {}
        for party in table:
            spot = f"{where}.{key}.{party}"
            if party not in parties:
                raise self.fail(spot, f"not a party ({', '.join(parties)})")
            found[party] = self.choice(table, party, f"{where}.{key}", words)
        if not found:
            raise self.fail(f"{where}.{key}", "name at least one party")
        return found

    def expectations(
        self,
        value: object,
        incidents: Mapping[str, ScriptEvent],
        parties: Mapping[str, object],
    ) -> tuple[Expectation, ...]:
        if not isinstance(value, list):
            raise self.fail("expect", "must be an array of tables ([[expect]])")
        result = []
        outcomes = (*OUTCOMES.values(), "open")
        for index, raw in enumerate(value):
            where = f"expect[{index}]"
            entry = self.table(raw, where, TABLE_KEYS["expect"])
            incident = self.text(entry, "incident", where)
            if incident != "*" and incident not in incidents:
                raise self.fail(f"{where}.incident", f"no event opens {incident!r}")
            checks = TABLE_KEYS["expect"] - {"incident", "description"}
            if not checks & set(entry):
                raise self.fail(where, f"expects nothing: give one of {', '.join(sorted(checks))}")
            late = entry.get("late_notice")
            if late is not None and not isinstance(late, bool):
                raise self.fail(f"{where}.late_notice", "must be true or false")
            reason = entry.get("dispute_reason")
            views = self.party_table(entry, "view", where, parties, (*outcomes, "none", "mixed"))
            answers = self.party_table(entry, "answer", where, parties, ANSWER_WORDS)
            expectation = Expectation(
                incident=incident,
                description="",
                outcome=self.choice(entry, "outcome", where, outcomes)
                if "outcome" in entry
                else None,
                within=self.duration(entry, "within", where),
                max_fallbacks=self.count(entry, "max_fallbacks", where, 10),
                min_fallbacks=self.count(entry, "min_fallbacks", where, 10),
                channel=self.channel(entry["channel"], f"{where}.channel")
                if "channel" in entry
                else None,
                late_notice=late,
                dispute_reason=None
                if reason is None
                else self.convert(f"{where}.dispute_reason", reason, DisputeReason),
                views=views,
                answers=answers,
            )
            text = self.text(entry, "description", where, "") or describe(expectation)
            result.append(replace(expectation, description=text))
        return tuple(result)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _count_or(value: int | None, default: int) -> int:
    return default if value is None or value < 1 else value


def fault_reader(source: str) -> _Reader:
    """A reader of ``[[faults]]`` tables for ``source`` (`hotline.faultfile` reads fault
    plans with the scenario loader's own checks)."""
    return _Reader(source)
