"""Exercise simulator throughput and scale, against baselines measured in the same run.

    python benchmarks/sim.py [--incidents N] [--scale 1000,10000,100000]

1. Signed throughput: delivered messages per second of a signed exercise (every message
   really signed and verified), against the bound 1 / (t_sign + t_verify) of raw Ed25519
   on the same kind of bytes, measured now. Target >= 0.7.
2. Protocol-only: the same workload with ``signing = "none"`` against an equivalent
   notify / acknowledge / timeout model written in SimPy (a process per incident, the
   answer racing a timeout), in incidents per second. Target >= 1.0.
3. Scale: 1k, 10k and 100k incidents in one run each (protocol-only), each in a fresh
   process: cost per incident (flat within 25% is the target) and peak memory per
   incident (peak RSS above an empty run, divided by the incidents).
4. Geometry: the protocol-only workload with every notice at a place of its own (no two
   alike, so nothing the map remembers helps), run with an agreed map (a line with a
   buffer, a zone, two parties' positions: every notice judged) and without one, in
   incidents per second. Target >= 0.8.

Every loop is bounded by the incident count; nothing touches the network.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import simpy
from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair

import hotline
from hotline.sim.exercise import Exercise, run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import parse_scenario

LATENCY = 1.0
ANSWER_DELAY = 60.0
DEADLINE = 600.0  # FLASH
EVERY = 10.0


def workload(incidents: int, signing: str) -> str:
    """A scenario: one notice every 10 s, each acknowledged after 60 s, 1 s on the wire."""
    days = int(incidents * EVERY / 86_400) + 2
    return f"""
[scenario]
name = "bench"
duration = "{days}d"
signing = "{signing}"

[parties.US]
air = "US-CAOC"
general-officer = "US-CJCS"

[parties.RU]
air = "RU-HMEIMIM"
general-officer = "RU-CGS"

[network.air]
latency = "{LATENCY}s"

# six calls are being answered at any moment (one every 10 s, each for 60 s): enough
# desks that none waits, as in the SimPy model, which has no desks
[doctrine.channels.air]
desks = 8

[[responders]]
station = "RU-HMEIMIM"
action = "ack"
delay = "{ANSWER_DELAY}s"

[[events]]
at = "0s"
originator = "US-CAOC"
activity = "flight"
precedence = "flash"
area = {{ lat = 35.2, lon = 40.1, radius_km = 5.0 }}
repeat = {incidents}
every = "{EVERY}s"
"""


GEOMETRY = """
[[geometry.lines]]
name = "river"
points = [[40.02, 35.55], [40.17, 35.42], [40.252, 35.36], [40.37, 35.25], [40.52, 35.10]]
sides = { east = "US", west = "RU" }
buffer_km = 5

[[geometry.zones]]
name = "plant"
kind = "restricted-operations"
owner = "RU"
polygon = [[40.10, 35.20], [40.16, 35.20], [40.16, 35.26], [40.10, 35.26], [40.10, 35.20]]

[[geometry.positions]]
party = "RU"
name = "garrison"
point = [40.14, 35.33]

[[geometry.positions]]
party = "US"
name = "outpost"
point = [40.40, 35.38]
"""


def geometry_workload(incidents: int, with_map: bool) -> str:
    """The protocol-only workload, each notice an event of its own at its own place."""
    text = workload(1, "none").split("[[events]]")[0]
    events = []
    for n in range(incidents):
        lon, lat = 40.0 + (n % 60) * 0.01, 35.0 + (n // 60) * 0.002
        events.append(
            f'[[events]]\nat = {n * EVERY}\noriginator = "US-CAOC"\nactivity = "flight"\n'
            f'precedence = "flash"\n'
            f"where = {{ circle = [{lon:.4f}, {lat:.4f}], radius_km = 2.0 }}\n"
        )
    days = int(incidents * EVERY / 86_400) + 2
    text = text.replace('duration = "2d"', f'duration = "{days}d"')
    return text + (GEOMETRY if with_map else "") + "\n".join(events)


def timed(text: str, incidents: int) -> tuple[float, Exercise, dict[str, Any]]:
    """Run a workload: its seconds, the run, and its result (every incident acknowledged)."""
    scenario = parse_scenario(text, "bench")
    start = time.perf_counter()
    exercise = run_exercise(scenario, record=False)
    elapsed = time.perf_counter() - start
    result = build_result(exercise)
    assert result["outcomes"] == {"acknowledged": incidents}, result["outcomes"]
    return elapsed, exercise, result


def run_geometry(incidents: int, with_map: bool) -> float:
    """Seconds to run the geometry workload, with the map or without."""
    elapsed, _, result = timed(geometry_workload(incidents, with_map), incidents)
    assert all("geometry" in i for i in result["incidents"]) is with_map
    return elapsed


def run_hotline(incidents: int, signing: str) -> tuple[float, int]:
    """Seconds to run the workload, and messages delivered."""
    elapsed, exercise, _ = timed(workload(incidents, signing), incidents)
    return elapsed, exercise.tally.delivered


class SimpyMessage(NamedTuple):
    """A message of the SimPy model: what a hotline envelope carries that the model uses."""

    kind: str
    channel: str
    sender: str
    recipient: str
    incident: str


class SimpyIncident:
    """What the SimPy model records per incident: the fields of the exercise result."""

    __slots__ = ("answered", "attempts", "closed_at", "fallbacks", "opened_at", "path", "state")

    def __init__(self, env: simpy.Environment, opened_at: float) -> None:
        self.opened_at = opened_at
        self.closed_at: float | None = None
        self.state = "new"
        self.attempts = 0
        self.fallbacks = 0
        self.path: list[str] = []
        self.answered = env.event()


SIMPY_TRANSITIONS = {
    ("new", "notify"): "notified",
    ("notified", "retry"): "notified",
    ("notified", "ack"): "acknowledged",
    ("notified", "fallback"): "fallback",
    ("fallback", "escalate"): "notified",
    ("fallback", "give-up"): "unresolved",
}
SIMPY_LINES = {"air": ("US-CAOC", "RU-HMEIMIM"), "general-officer": ("US-CJCS", "RU-CGS")}


class SimpyModel:
    """The same protocol as a SimPy model written the idiomatic way.

    Stations are processes reading their inbox (a ``simpy.Store``); messages are objects
    sent through a network process with the line's latency; each incident is a process
    that notifies, waits for the acknowledgement or the deadline, retries once per line
    and climbs the air -> general-officer ladder, moving through a transition table and
    recording outcome, close time, calls and fallbacks; a responder answers after 60 s.
    The workload and outputs are those of the hotline run of `workload`.
    """

    def __init__(self, incidents: int) -> None:
        self.env = env = simpy.Environment()
        self.inboxes = {s: simpy.Store(env) for pair in SIMPY_LINES.values() for s in pair}
        self.records: dict[str, SimpyIncident] = {}
        self.counts = {"sent": 0, "delivered": 0}
        for sender, recipient in SIMPY_LINES.values():
            env.process(self.originator(sender))
            env.process(self.responder(recipient))
        for index in range(incidents):
            env.process(self.incident(index))

    def send(self, message: SimpyMessage) -> None:
        self.env.process(self.network(message))

    def network(self, message: SimpyMessage) -> simpy.events.ProcessGenerator:
        self.counts["sent"] += 1
        yield self.env.timeout(LATENCY)
        self.counts["delivered"] += 1
        yield self.inboxes[message.recipient].put(message)

    def answer_later(self, message: SimpyMessage) -> simpy.events.ProcessGenerator:
        yield self.env.timeout(ANSWER_DELAY)
        m = message
        self.send(SimpyMessage("ack", m.channel, m.recipient, m.sender, m.incident))

    def responder(self, name: str) -> simpy.events.ProcessGenerator:
        while True:
            message = yield self.inboxes[name].get()
            if message.kind in ("notify", "escalate"):
                self.env.process(self.answer_later(message))

    def originator(self, name: str) -> simpy.events.ProcessGenerator:
        while True:
            message = yield self.inboxes[name].get()
            record = self.records[message.incident]
            if (
                message.kind == "ack"
                and record.state == "notified"
                and not record.answered.triggered
            ):
                record.answered.succeed()

    def incident(self, index: int) -> simpy.events.ProcessGenerator:
        env = self.env
        yield env.timeout(index * EVERY)
        name = f"US-CAOC:{index + 1}"
        record = self.records[name] = SimpyIncident(env, env.now)
        for level, line in enumerate(SIMPY_LINES):
            sender, recipient = SIMPY_LINES[line]
            record.state = SIMPY_TRANSITIONS[(record.state, "escalate" if level else "notify")]
            record.fallbacks += 1 if level else 0
            record.path.append(line)
            for call in range(2):  # the call and one retry
                if call:
                    record.state = SIMPY_TRANSITIONS[(record.state, "retry")]
                record.attempts += 1
                kind = "escalate" if level else "notify"
                self.send(SimpyMessage(kind, line, sender, recipient, name))
                result = yield record.answered | env.timeout(DEADLINE)
                if record.answered in result:
                    record.state = SIMPY_TRANSITIONS[(record.state, "ack")]
                    record.closed_at = env.now
                    return
            record.state = SIMPY_TRANSITIONS[(record.state, "fallback")]
        record.state = SIMPY_TRANSITIONS[(record.state, "give-up")]
        record.closed_at = env.now


def run_simpy(incidents: int) -> float:
    """Seconds to run the SimPy model of the workload."""
    model = SimpyModel(incidents)
    start = time.perf_counter()
    model.env.run(until=incidents * EVERY + 10 * DEADLINE)
    elapsed = time.perf_counter() - start
    assert all(r.state == "acknowledged" for r in model.records.values())
    assert len(model.records) == incidents
    assert model.counts["delivered"] == 2 * incidents
    return elapsed


def raw_crypto_bound(samples: int = 2000) -> float:
    """Messages per second if signing and verifying each message were all the work, with
    the library hotline signs with (libsodium), called as hotline calls it."""
    public, secret = crypto_sign_seed_keypair(bytes(range(32)))
    payloads = [b"\x8c" + index.to_bytes(4, "big") * 60 for index in range(samples)]
    start = time.perf_counter()
    signatures = [crypto_sign(p, secret)[:64] for p in payloads]
    sign = time.perf_counter() - start
    start = time.perf_counter()
    for payload, signature in zip(payloads, signatures, strict=True):
        crypto_sign_open(signature + payload, public)
    verify = time.perf_counter() - start
    return samples / (sign + verify)


def peak_rss_kib() -> int:
    """Peak resident memory of this process's own address space, KiB.

    Linux keeps ``ru_maxrss`` across ``execve``, so a child started by a big parent
    would report the parent's peak: read ``VmHWM``, which starts afresh with the new
    address space, and fall back to ``ru_maxrss`` where /proc is missing.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(incidents: int) -> None:
    """Run one scale point and print its measurements as JSON (called in a fresh process)."""
    if incidents == 0:
        parse_scenario(workload(1, "none"), "bench")
        print(json.dumps({"seconds": 0.0, "peak_kib": peak_rss_kib()}))
        return
    elapsed, _ = run_hotline(incidents, "none")
    print(json.dumps({"seconds": elapsed, "peak_kib": peak_rss_kib()}))


def scale_point(incidents: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(incidents)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    ).stdout
    measured: dict[str, float] = json.loads(output)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--scale", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return

    build = "compiled with mypyc" if hotline.COMPILED else "pure Python"
    print(f"hotline {hotline.__version__}, {build}")
    count = args.incidents
    bound = max(raw_crypto_bound() for _ in range(args.rounds))
    signed = min(run_hotline(count, "ed25519")[0] for _ in range(args.rounds))
    delivered = run_hotline(count, "ed25519")[1]
    signed_rate = delivered / signed
    print(f"signed exercise: {count} incidents, {delivered} messages in {signed:.2f} s")
    print(
        f"  {signed_rate:,.0f} delivered msgs/s; raw Ed25519 sign+verify bound {bound:,.0f} msgs/s"
    )

    protocol = min(run_hotline(count, "none")[0] for _ in range(args.rounds))
    simpy_time = min(run_simpy(count) for _ in range(args.rounds))
    print(
        f"protocol-only: hotline {count / protocol:,.0f} incidents/s, "
        f"SimPy model {count / simpy_time:,.0f} incidents/s"
    )

    plain = min(run_geometry(count, False) for _ in range(args.rounds))
    mapped = min(run_geometry(count, True) for _ in range(args.rounds))
    print(
        f"geometry: {count / plain:,.0f} incidents/s without a map, "
        f"{count / mapped:,.0f} with every notice judged against one "
        f"({(mapped - plain) / count * 1e6:.1f} us a notice)"
    )

    sizes = [int(s) for s in args.scale.split(",") if s]
    baseline = scale_point(0)["peak_kib"]
    print(f"{'incidents':>10} {'seconds':>9} {'us/incident':>12} {'KiB/incident':>13}")
    per_incident = []
    for size in sizes:
        point = scale_point(size)
        cost = point["seconds"] / size * 1e6
        memory = (point["peak_kib"] - baseline) / size
        per_incident.append((cost, memory))
        print(f"{size:>10} {point['seconds']:>9.2f} {cost:>12.1f} {memory:>13.2f}")
    costs = [cost for cost, _ in per_incident]
    spread = max(costs) / min(costs) - 1

    print(f"RESULT sim_signed_throughput_ratio {signed_rate / bound:.3f} ratio")
    print(f"RESULT sim_protocol_vs_simpy_ratio {simpy_time / protocol:.3f} ratio")
    print(f"RESULT sim_scale_cost_spread {spread:.3f} ratio")
    print(f"RESULT sim_peak_memory_per_incident {per_incident[-1][1]:.2f} KiB")
    print(f"RESULT sim_geometry_cost_ratio {plain / mapped:.3f} ratio")


if __name__ == "__main__":
    main()
