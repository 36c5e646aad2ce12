"""A JSON Schema of scenario files, for editors (``hotline schema scenario``).

The loader (`hotline.sim.scenario`) is the authority; this schema describes the same
tables and keys (a test holds the key sets equal) so an editor can complete and check
a scenario as it is typed. Rules that span tables (a station must belong to a party,
an expectation must name a notified incident) are the loader's alone.
"""

from __future__ import annotations

from typing import Any

from hotline.core.incident import OUTCOMES
from hotline.core.names import Channel, DisputeReason, Precedence
from hotline.faults import FaultKind, ForgeKey, Stream
from hotline.geo.agreed import ZoneKind
from hotline.sim.scenario import ACTIONS, ANSWER_WORDS, EVENT_ACTIONS, SIGNING

DURATION: dict[str, Any] = {
    "description": 'seconds, or a string of number+unit parts: 90, "90s", "10m", "1h30m"',
    "oneOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"},
    ],
}
DISTRIBUTION: dict[str, Any] = {
    "description": "a fixed duration, or a table with kind fixed/uniform/lognormal",
    "oneOf": [
        DURATION,
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "value"],
            "properties": {"kind": {"const": "fixed"}, "value": DURATION},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "low", "high"],
            "properties": {"kind": {"const": "uniform"}, "low": DURATION, "high": DURATION},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "median", "sigma"],
            "properties": {
                "kind": {"const": "lognormal"},
                "median": DURATION,
                "sigma": {"type": "number", "minimum": 0, "maximum": 5},
            },
        },
    ],
}
STATION = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
INCIDENT = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}
CHANNEL = {"enum": [c.value for c in Channel]}
PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
ACTIONS_TABLE = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "party -> what it does (agreed mutual actions)",
}
POINT = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[lat, lon] in degrees (WGS 84)",
}
LONLAT: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 3,
    "description": "[longitude, latitude] in degrees (WGS 84, GeoJSON order)",
}
LONLATS: dict[str, Any] = {"type": "array", "items": LONLAT, "minItems": 2}
KM: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 20000}
WHERE: dict[str, Any] = {
    "description": "where, in GeoJSON order, as the protocol carries it: { point = [lon, lat] }, "
    "{ circle = [lon, lat], radius_km }, { polygon = [[lon, lat], ...] } (a closed ring), "
    "or { route = [[lon, lat], ...], width_km } (entry first, exit last)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "point": LONLAT,
        "circle": LONLAT,
        "radius_km": KM,
        "polygon": {**LONLATS, "minItems": 4},
        "route": LONLATS,
        "width_km": KM,
    },
}
AREA: dict[str, Any] = {
    "description": "where: a point or circle { lat, lon, radius_km, note }, or a route "
    "{ route = [[lat, lon], ...], width_km, note }",
    "oneOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["lat", "lon"],
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                "radius_km": {"type": "number", "exclusiveMinimum": 0, "maximum": 20000},
                "note": {"type": "string"},
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["route"],
            "properties": {
                "route": {"type": "array", "items": POINT, "minItems": 2},
                "width_km": {"type": "number", "exclusiveMinimum": 0, "maximum": 20000},
                "note": {"type": "string"},
            },
        },
    ],
}
_VIEWS = [*OUTCOMES.values(), "open", "none", "mixed"]


def _d(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "description": description}


PROPERTIES: dict[str, dict[str, dict[str, Any]]] = {
    "scenario": {
        "name": _d(INCIDENT, "short name, reported in results"),
        "description": _d({"type": "string"}, "what the scenario models"),
        "start": _d(
            {"type": "string"},
            "exercise time 0, RFC 3339 with offset (default 2026-01-01T00:00:00Z)",
        ),
        "seed": _d(
            {"type": "integer", "minimum": 0}, "seed of the run's RNG (overridden by --seed)"
        ),
        "duration": _d(DURATION, "the run stops here at the latest (default 7d)"),
        "signing": _d(
            {"enum": list(SIGNING)},
            "ed25519 (default): every message signed and verified; none: protocol-only "
            "timing studies, envelopes handed over in memory, never encoded or signed",
        ),
    },
    "verifier": {
        "max_age": _d(DURATION, "a message older than this is stale (default 1h)"),
        "max_skew": _d(DURATION, "clock difference tolerated (default 2m)"),
    },
    "network": {
        "latency": _d(DISTRIBUTION, "delay of each message copy (default 1s)"),
        "loss": _d(PROBABILITY, "chance each copy is lost"),
        "outages": _d(
            {
                "type": "array",
                "items": {"type": "array", "items": DURATION, "minItems": 2, "maxItems": 2},
            },
            "[start, end] windows when the bearer carries nothing",
        ),
        "detect_outages": _d(
            {"type": "boolean"}, "a sender finds the line down and falls back at once"
        ),
    },
    "responders": {
        "station": _d(STATION, "the answering station"),
        "action": _d({"enum": list(ACTIONS)}, "what the operator answers"),
        "answers": _d(
            {"type": "array", "items": {"enum": list(ACTIONS)}, "minItems": 1},
            "instead of action: the answers the operator may give (a run draws one per "
            "call; `hotline explore` tries each)",
        ),
        "delay": _d(DISTRIBUTION, "time to answer (default 60s)"),
        "final_delay": _d(DISTRIBUTION, "standby-then-ack: from standby to ack (default 10m)"),
        "reason": _d({"enum": [r.value for r in DisputeReason]}, "dispute reason"),
        "probability": _d(PROBABILITY, "chance that each call is picked up (default 1)"),
        "misroute": _d(PROBABILITY, "chance a call first reaches the wrong officer"),
        "misroute_delay": _d(DISTRIBUTION, "how long the wrong officer takes to hand it on"),
        "from": _d(DURATION, "rule applies to calls ringing from this exercise time (shifts)"),
        "until": _d(DURATION, "...until this exercise time"),
        "activity": _d({"type": "string"}, "rule applies only to notices of this activity"),
        "text": _d({"type": "string"}, "free text sent with the answer"),
        "actions": _d(ACTIONS_TABLE, "resolve: the agreed mutual actions"),
        "dispute_near_km": _d(
            KM,
            "on the agreed map: dispute (too-close) a notice whose area comes this near the "
            "station's party's positions, before the rule's action",
        ),
        "dispute_in_zone": _d(
            {"type": "boolean"},
            "on the agreed map: dispute (inside-agreed-zone) a notice whose area enters a zone "
            "the party owns or shares",
        ),
        "location_wrong_km": _d(
            KM,
            "dispute (location-wrong) a notice placed further than this from where the "
            "activity really is (the event's actual)",
        ),
    },
    "events": {
        "at": _d(DURATION, "exercise time of the event"),
        "action": _d(
            {"enum": list(EVENT_ACTIONS)},
            "notify (default); protest (stop what is under way), report (after the fact), "
            "relay (for a party through another's line); withdraw, escalate, resolve or "
            "correct an incident; suspend or resume a line (a declaration)",
        ),
        "originator": _d(STATION, "the notifying station"),
        "channel": _d(CHANNEL, "the line (default: the originator's only line)"),
        "to": _d(
            {"type": "array", "items": STATION, "minItems": 1},
            "parties to notify (default: all others)",
        ),
        "incident": _d(
            INCIDENT,
            "incident id (default ORIGINATOR:N); withdraw/escalate/resolve/correct name it",
        ),
        "activity": _d({"type": "string"}, "strike, flight, patrol, movement, exercise..."),
        "area": AREA,
        "where": WHERE,
        "actual": _d(LONLAT, "where the activity really is, [lon, lat]: judged against the notice"),
        "starts_in": _d(DURATION, "the activity starts this long after the notice"),
        "lasts": _d(DURATION, "how long the activity lasts"),
        "precedence": _d({"enum": [p.value for p in Precedence]}, "default priority"),
        "text": _d({"type": "string"}, "free text"),
        "actions": _d(ACTIONS_TABLE, "resolve: the agreed mutual actions"),
        "repeat": _d({"type": "integer", "minimum": 1}, "copies of this notice, `every` apart"),
        "every": _d(DURATION, "interval between repeated notices"),
        "reason": _d(
            {"type": "string"},
            "escalate: why (default manual); correct to a dispute: its dispute reason",
        ),
        "for": _d({"type": "string"}, "relay: the party the notice is finally meant for"),
        "station": _d(STATION, "correct, suspend, resume: the station that acts"),
        "answer": _d({"enum": ["ack", "dispute"]}, "correct: the answer it now gives"),
    },
    "faults": {
        "kind": _d({"enum": [k.value for k in FaultKind]}, "what goes wrong"),
        "channel": _d(CHANNEL, "only on this line (default: every line)"),
        "sender": _d(STATION, "only copies sent by this station (a direction)"),
        "recipient": _d(STATION, "only copies sent to this station"),
        "station": _d(STATION, "station-down, clock-skew: the station concerned"),
        "start": _d(DURATION, "exercise time the fault begins (default 0)"),
        "until": _d(DURATION, "exercise time it ends (default: never)"),
        "probability": _d(PROBABILITY, "chance it fires for each matching copy (default 1)"),
        "delay": _d(
            {
                "oneOf": [
                    DURATION,
                    {"type": "object", "properties": {"low": DURATION, "high": DURATION}},
                ]
            },
            "delay, duplicate, forge: extra delay; reorder: hold-back window (default 0-30s); "
            "replay: time until the replay (default 10m); latency: added to each packet on "
            "the connection (real time); slicer: pause between pieces (default 1ms); "
            "slow-close: how long a closing connection lingers; a duration or { low, high }",
        ),
        "copies": _d({"type": "integer", "minimum": 1}, "duplicate: extra copies (default 1)"),
        "bits": _d({"type": "integer", "minimum": 1}, "corrupt: bits flipped (default 1)"),
        "forge_key": _d(
            {"enum": [k.value for k in ForgeKey]},
            "forge: the attacker's own key, another station's, or a key from another line",
        ),
        "skew": _d(
            {"oneOf": [{"type": "number"}, {"type": "string"}]},
            'clock-skew: how far the station\'s clock is ahead, e.g. "5m" or "-90s"',
        ),
        "up": _d(DURATION, "flap: time the bearer stays up in each cycle (default 60s)"),
        "down": _d(DURATION, "flap: time it stays down (default 60s)"),
        "topic": _d(
            {"type": "string"},
            "only copies published to a topic this MQTT filter matches (+ and # wildcards; a "
            "copy's topic is its recipient's inbox, hotline/v2/LINE/STATION)",
        ),
        "stream": _d(
            {"enum": [s.value for s in Stream]},
            "connection faults: upstream (client to broker), downstream, or both (default)",
        ),
        "rate": _d({"type": "integer", "minimum": 1}, "bandwidth: bytes a second"),
        "size": _d({"type": "integer", "minimum": 1}, "slicer: average piece, bytes (default 16)"),
        "after": _d(
            DURATION,
            "reset-peer: real time from the fault taking a connection to its reset (default "
            "at once); stall: until the stalled connection is closed (default: never)",
        ),
    },
    "expect": {
        "incident": _d({"type": "string"}, "an incident id, or * for every incident"),
        "outcome": _d({"enum": [*OUTCOMES.values(), "open"]}, "how it must end"),
        "within": _d(DURATION, "closed at most this long after the notice"),
        "max_fallbacks": _d({"type": "integer", "minimum": 0}, "at most this many fallbacks"),
        "min_fallbacks": _d({"type": "integer", "minimum": 0}, "at least this many fallbacks"),
        "channel": _d(CHANNEL, "the line it ends on"),
        "late_notice": _d({"type": "boolean"}, "flagged (or not) for short lead time"),
        "dispute_reason": _d(
            {"enum": [r.value for r in DisputeReason]}, "the first dispute's reason"
        ),
        "view": _d(
            {"type": "object", "additionalProperties": {"enum": _VIEWS}},
            "party -> the outcome its own record holds (none: it holds no view; mixed: "
            'its lines disagree), e.g. { RU = "disputed" }',
        ),
        "answer": _d(
            {"type": "object", "additionalProperties": {"enum": list(ANSWER_WORDS)}},
            "addressed party -> its last answer on record (none: it never answered), "
            'e.g. { TR = "acknowledged" }',
        ),
        "description": _d({"type": "string"}, "how the result names this expectation"),
    },
    "explore": {
        "symmetric": _d(
            {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "groups of parties `hotline explore` may treat as interchangeable (the same "
            'lines, rules and script but for their names), e.g. [["RED", "GREEN"]]: it '
            "then counts two states that differ only by swapping them as one",
        ),
    },
    "replay": {
        "property": _d({"type": "string"}, "the property the path violates"),
        "steps": _d(
            {"type": "array", "items": {"type": "string"}},
            "every step of the path, as `hotline explore` printed it",
        ),
        "max_loss": _d({"type": "integer", "minimum": 0}, "the losses the path may take"),
        "max_duplicates": _d({"type": "integer", "minimum": 0}, "the duplicates it may take"),
        "max_reorder": _d({"type": "integer", "minimum": 0}, "the overtakings it may take"),
    },
}
GEOMETRY_PROPERTIES: dict[str, dict[str, Any]] = {
    "geometry": {
        "file": _d({"type": "string"}, "a GeoJSON file of lines, zones and positions (RFC 7946), "
                   "relative to the scenario"),
    },
    "lines": {
        "name": _d({"type": "string"}, "its name"),
        "points": _d(LONLATS, "the line, [[lon, lat], ...]: it is drawn on past its ends"),
        "sides": _d(
            {"type": "object", "additionalProperties": False, "minProperties": 1,
             "properties": {c: {"type": "string"} for c in ("east", "west", "north", "south")}},
            "the party operating on each side: { east = \"US\", west = \"RU\" }",
        ),
        "buffer_km": _d(KM, "a band either side that counts as reaching the line (default 0)"),
        "note": _d({"type": "string"}, "free text"),
    },
    "zones": {
        "name": _d({"type": "string"}, "its name"),
        "kind": _d({"enum": [kind.value for kind in ZoneKind]}, "what it is for"),
        "owner": _d({"type": "string"}, "the party it belongs to, or joint"),
        "polygon": _d({**LONLATS, "minItems": 4}, "one closed ring, [[lon, lat], ...]"),
        "note": _d({"type": "string"}, "free text"),
    },
    "positions": {
        "name": _d({"type": "string"}, "its name"),
        "party": _d({"type": "string"}, "whose forces"),
        "point": _d(LONLAT, "where they are, [lon, lat]"),
        "track": _d(
            {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                         "properties": {"at": DURATION, "point": LONLAT}}},
            "or where they move: [{ at = \"0s\", point = [lon, lat] }, ...] over exercise time",
        ),
        "note": _d({"type": "string"}, "free text"),
    },
}  # fmt: skip
REQUIRED = {
    "scenario": ["name"],
    "faults": ["kind"],
    "responders": ["station"],
    "events": ["at"],
    "expect": ["incident"],
    "replay": ["steps"],
}


def _table(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": PROPERTIES[name],
    }
    if name in REQUIRED:
        schema["required"] = REQUIRED[name]
    return schema


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    lines = {c.value: STATION for c in Channel}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hotline scenario",
        "description": "A channel exercise for `hotline exercise run` (TOML).",
        "type": "object",
        "additionalProperties": False,
        "required": ["scenario", "parties"],
        "properties": {
            "scenario": _table("scenario"),
            "parties": {
                "type": "object",
                "description": "party -> its station on each line",
                "minProperties": 2,
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": lines,
                    "minProperties": 1,
                },
            },
            "doctrine": {
                "type": "object",
                "description": "overrides of hotline/data/doctrine.toml (same shape)",
            },
            "verifier": _table("verifier"),
            "network": {
                "type": "object",
                "additionalProperties": False,
                "properties": {c.value: _table("network") for c in Channel},
            },
            "responders": {"type": "array", "items": _table("responders")},
            "events": {"type": "array", "items": _table("events")},
            "expect": {"type": "array", "items": _table("expect")},
            "faults": {"type": "array", "items": _table("faults")},
            "replay": _table("replay"),
            "explore": _table("explore"),
            "geometry": _geometry_schema(),
        },
    }


def _geometry_schema() -> dict[str, Any]:
    """``[geometry]``: the agreed map (hotline.geo.load)."""
    properties: dict[str, Any] = dict(GEOMETRY_PROPERTIES["geometry"])
    for key in ("lines", "zones", "positions"):
        item = {
            "type": "object",
            "additionalProperties": False,
            "properties": GEOMETRY_PROPERTIES[key],
        }
        properties[key] = {"type": "array", "items": item}
    return {"type": "object", "additionalProperties": False, "properties": properties}


_TABLE_INTRO = {
    "scenario": ("[scenario]", "The run: its name, clock and randomness."),
    "verifier": (
        "[verifier]",
        "Receiver limits of every station (protocol/PROTOCOL.md, section 6).",
    ),
    "network": (
        "[network.<channel>]",
        "Each line's network. Unlisted lines: 1 s latency, no loss.",
    ),
    "responders": (
        "[[responders]]",
        "How a station answers. The first rule for the station matching the call's time "
        "and activity decides; a station without one stays silent.",
    ),
    "events": ("[[events]]", "The script: what each party does, and when."),
    "expect": ("[[expect]]", "What must come out; `hotline exercise run` exits 1 if one fails."),
    "explore": (
        "[explore]",
        "What `hotline explore` may assume of the scenario. A simulated run ignores it.",
    ),
    "replay": (
        "[replay]",
        "A path `hotline explore` found, every choice pinned (it writes this table into "
        "each counterexample): `hotline exercise run` takes exactly these steps instead of "
        "drawing, and reports what they come to.",
    ),
    "faults": (
        "[[faults]]",
        "Failed calls to inject, drawn from the run's seed. Each matching copy of a message "
        "meets each fault in order, so faults compose. corrupt, forge and replay need signed "
        "messages. latency, bandwidth, reset-peer, stall, slicer, slow-close and broker-down "
        "act on the TCP connections of a live run (the fault proxy), and only there: a "
        "simulated run lists them as not simulated.",
    ),
}


def _kind(schema: dict[str, Any]) -> str:
    if schema is AREA:
        return "table"
    if schema is DURATION or schema.get("oneOf") == DURATION["oneOf"]:
        return "duration"
    if schema is DISTRIBUTION or schema.get("oneOf") == DISTRIBUTION["oneOf"]:
        return "duration or distribution"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if schema.get("pattern") == STATION["pattern"]:
        return "station id"
    if schema.get("pattern") == INCIDENT["pattern"]:
        return "identifier"
    return str(schema.get("type", "value"))


def scenario_reference() -> str:
    """docs/scenarios.md: every table and key of a scenario file, from this schema."""
    lines = [
        "# Scenario files",
        "",
        "<!-- Generated by `hotline schema scenario --markdown`. Do not edit by hand. -->",
        "",
        "A scenario is a TOML file describing one channel exercise. `examples/tutorial.toml`",
        "walks through one; `hotline schema scenario` prints a JSON Schema for editors;",
        "`hotline exercise check FILE` validates a file and names the first broken field.",
        "",
        'Durations are seconds (`90`) or number+unit strings (`"90s"`, `"10m"`, `"1h30m"`,',
        "units ms, s, m, h, d). A distribution is a duration (fixed) or a table:",
        '`{ kind = "uniform", low = "1m", high = "5m" }`,',
        '`{ kind = "lognormal", median = "2m", sigma = 0.6 }` or',
        '`{ kind = "fixed", value = "90s" }`. Exercise times count from `scenario.start`.',
        "",
        "## [parties.<party>]",
        "",
        'Each party\'s station on each line: `air = "US-CAOC"`. At least two parties; a',
        "station belongs to one party and may sit on several lines.",
        "",
        "## [doctrine]",
        "",
        "Overrides of the default doctrine (`hotline/data/doctrine.toml`), in the same",
        "shape: `[doctrine.channels.air] retries = 2`, `[doctrine.precedence] flash = 300`,",
        "`[doctrine.lead_times] convoy = 3600`. Stations come from `[parties]`.",
    ]
    tables = ("scenario", "verifier", "network", "responders", "events", "expect", "faults")
    for table in (*tables, "explore", "replay"):
        heading, intro = _TABLE_INTRO[table]
        required = set(REQUIRED.get(table, ()))
        lines += ["", f"## {heading}", "", intro, "", "| key | type | meaning |", "|---|---|---|"]
        for key, schema in PROPERTIES[table].items():
            mark = " (required)" if key in required else ""
            description = schema.get("description", "")
            lines.append(f"| `{key}`{mark} | {_kind(schema)} | {description} |")
    for table, (heading, intro) in _GEOMETRY_INTRO.items():
        lines += ["", f"## {heading}", "", intro, "", "| key | type | meaning |", "|---|---|---|"]
        for key, schema in GEOMETRY_PROPERTIES[table].items():
            lines.append(f"| `{key}` | {_kind(schema)} | {schema.get('description', '')} |")
    return "\n".join(lines) + "\n"


_GEOMETRY_INTRO = {
    "geometry": (
        "[geometry]",
        "The agreed map every notice's area (an event's `where`) is judged against by the "
        "doctrine's `[geometry]` rules: its verdicts go in each incident's `geometry`, the "
        "timeline and the journal. Coordinates are [longitude, latitude] in degrees (WGS 84, "
        "GeoJSON order). A map is given here, in a GeoJSON file (`file`), or both.",
    ),
    "lines": (
        "[[geometry.lines]]",
        "A deconfliction line: which party operates on which side, and a buffer. In a "
        'GeoJSON file: a LineString feature with `"hotline": "line"` and these properties.',
    ),
    "zones": (
        "[[geometry.zones]]",
        "A zone with an owner (a party, or joint) and a kind. In a GeoJSON file: a Polygon "
        'feature with `"hotline": "zone"`.',
    ),
    "positions": (
        "[[geometry.positions]]",
        "A party's declared position, fixed or moving. In a GeoJSON file: a Point (or a "
        'LineString with `"times"`, exercise seconds per point) with `"hotline": "position"`.',
    ),
}
