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

import simpy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hotline.sim.exercise import run_exercise
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


def run_hotline(incidents: int, signing: str) -> tuple[float, int]:
    """Seconds to run the workload, and messages delivered."""
    scenario = parse_scenario(workload(incidents, signing), "bench")
    start = time.perf_counter()
    exercise = run_exercise(scenario, record=False)
    elapsed = time.perf_counter() - start
    result = build_result(exercise)
    assert result["outcomes"] == {"acknowledged": incidents}, result["outcomes"]
    return elapsed, exercise.tally.delivered


class SimpyIncident:
    """What the SimPy model records per incident: the fields of the exercise result."""

    __slots__ = ("attempts", "closed_at", "fallbacks", "opened_at", "outcome", "path")

    def __init__(self, opened_at: float) -> None:
        self.opened_at = opened_at
        self.closed_at: float | None = None
        self.outcome = "open"
        self.attempts = 0
        self.fallbacks = 0
        self.path = ["air"]


def run_simpy(incidents: int) -> float:
    """The same protocol as a SimPy model a designer would write; seconds to run.

    Equivalent to the hotline run of `workload`: a notice every 10 s, 1 s on the wire,
    the operator answers after 60 s, a FLASH deadline of 600 s, one retry per line and
    the air -> general-officer ladder; it records each incident's outcome, close time,
    calls and fallbacks, and counts messages, as the exercise result does.
    """
    env = simpy.Environment()
    ladder = ["air", "general-officer"]
    answering = {"air": True, "general-officer": True}
    messages = {"sent": 0, "delivered": 0}
    records: list[SimpyIncident] = []

    def deliver() -> simpy.events.ProcessGenerator:
        messages["sent"] += 1
        yield env.timeout(LATENCY)
        messages["delivered"] += 1

    def responder(line: str, answer: simpy.Event) -> simpy.events.ProcessGenerator:
        yield env.process(deliver())  # the notice travels
        if not answering[line]:
            return
        yield env.timeout(ANSWER_DELAY)  # the operator answers
        yield env.process(deliver())  # the ack travels
        if not answer.triggered:
            answer.succeed()

    def incident(index: int) -> simpy.events.ProcessGenerator:
        yield env.timeout(index * EVERY)
        record = SimpyIncident(env.now)
        records.append(record)
        for level, line in enumerate(ladder):
            if level:
                record.fallbacks += 1
                record.path.append(line)
            answer = env.event()
            for _ in range(2):  # the call and one retry
                record.attempts += 1
                env.process(responder(line, answer))
                result = yield answer | env.timeout(DEADLINE)
                if answer in result:
                    record.outcome, record.closed_at = "acknowledged", env.now
                    return
        record.outcome, record.closed_at = "unresolved", env.now

    for index in range(incidents):
        env.process(incident(index))
    start = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - start
    assert all(r.outcome == "acknowledged" for r in records)
    assert len(records) == incidents
    assert messages["delivered"] == 2 * incidents
    return elapsed


def raw_crypto_bound(samples: int = 2000) -> float:
    """Messages per second if signing and verifying each message were all the work."""
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = key.public_key()
    payloads = [b"\x8c" + index.to_bytes(4, "big") * 60 for index in range(samples)]
    start = time.perf_counter()
    signatures = [key.sign(p) for p in payloads]
    sign = time.perf_counter() - start
    start = time.perf_counter()
    for payload, signature in zip(payloads, signatures, strict=True):
        public.verify(signature, payload)
    verify = time.perf_counter() - start
    return samples / (sign + verify)


def peak_rss_kib() -> int:
    """Peak resident memory of this process (Linux reports KiB)."""
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
        f"protocol-only: hotline {count / protocol:,.0f} incidents/s, SimPy model {count / simpy_time:,.0f} incidents/s"
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


if __name__ == "__main__":
    main()
