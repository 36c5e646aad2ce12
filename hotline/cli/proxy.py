"""``hotline proxy``: the fault proxy between MQTT clients and a broker, and its control.

hotline proxy --listen 127.0.0.1:PORT --broker mqtt://HOST:PORT [--faults FILE.toml]
              [--seed N] [--control 127.0.0.1:PORT] [--time-scale X] [--client ID=STATIONS]
hotline proxy faults list   --control http://127.0.0.1:PORT
hotline proxy faults add    --control URL kind=drop channel=air probability=0.3
hotline proxy faults remove --control URL ID
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hotline.cli.common import COMMANDS, EXIT_OK, UserError
from hotline.faultfile import FaultFile, fault_table, load_fault_plan
from hotline.faults import FaultKind, ForgeKey
from hotline.live.proxy import Applied, FaultProxy, ProxyError
from hotline.outputs import write_output


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``proxy`` command."""
    run = commands.add_parser(
        "proxy",
        help=COMMANDS["proxy"].help,
        description="Sit between MQTT clients (hotline posts or any other) and a broker, "
        "and apply a fault plan to what they publish: the same [[faults]] tables and seed "
        "as a simulated run. Every fault applied is printed as it happens; the counts are "
        "printed (or written with --json) when the proxy stops (Ctrl-C). Add and remove "
        "faults while it runs with `hotline proxy faults` and --control.",
    )
    run.add_argument(
        "--listen", default="127.0.0.1:0", metavar="HOST:PORT",
        help="where clients connect (default 127.0.0.1 on a free port, printed)",
    )  # fmt: skip
    run.add_argument("--broker", metavar="URL", help="the broker: mqtt://HOST:PORT")
    run.add_argument(
        "--faults", type=Path, metavar="FILE",
        help="the plan: a file of [[faults]] tables (with seed and [clients]), or a scenario "
        "file (its faults, seed and [network])",
    )  # fmt: skip
    run.add_argument("--seed", type=int, help="seed of the draws (default: the plan's)")
    run.add_argument(
        "--control", metavar="HOST:PORT",
        help="serve the JSON control API here (loopback only; port 0: a free one, printed)",
    )  # fmt: skip
    run.add_argument(
        "--time-scale", type=float, default=1.0, metavar="X",
        help="exercise seconds per real second: fault windows and delays are in exercise "
        "time (default 1)",
    )  # fmt: skip
    run.add_argument(
        "--client", action="append", default=[], metavar="ID=STATION[,STATION]",
        help="the stations a client (by client id or user name) hosts, for station faults "
        "(a client is also known by the inboxes it subscribes to)",
    )  # fmt: skip
    run.add_argument(
        "--json", metavar="PATH", help="write the counts here when stopping (- for stdout)"
    )
    run.add_argument("-q", "--quiet", action="store_true", help="do not print each fault applied")
    run.add_argument(
        "--username", help="user name of the proxy's own connection to the broker (it "
        "publishes the copies the line delays or adds)",
    )  # fmt: skip
    run.add_argument("--password", help="its password")
    actions = run.add_subparsers(dest="action", metavar="ACTION")
    faults = actions.add_parser("faults", help="list, add or remove faults of a running proxy")
    verbs = faults.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, text in (
        ("list", "the running plan"),
        ("add", "add a fault: KEY=VALUE pairs of a [[faults]] table (values read as TOML)"),
        ("remove", "remove a fault by its id"),
    ):
        command = verbs.add_parser(verb, help=text, description=text)
        command.add_argument(
            "--control", required=True, metavar="URL", help="http://127.0.0.1:PORT"
        )
        if verb == "add":
            command.add_argument("fields", nargs="+", metavar="KEY=VALUE")
        elif verb == "remove":
            command.add_argument("id", type=int)
    run.set_defaults(run=proxy_command)


def proxy_command(args: argparse.Namespace) -> int:
    """Run the proxy, or talk to a running one."""
    if args.action == "faults":
        return _control(args)
    if not args.broker:
        raise UserError("--broker: required to run the proxy (mqtt://HOST:PORT)")
    if not 0 < args.time_scale <= 100_000:
        raise UserError(f"--time-scale: {args.time_scale} is not in (0, 100000]")
    plan = load_fault_plan(args.faults) if args.faults else FaultFile(())
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise UserError(f"--seed: {args.seed} is not in 0 .. 2**63-1")
    clients = {name: list(stations) for name, stations in plan.clients.items()}
    for given in args.client:
        name, _, stations = given.partition("=")
        if not name or not stations:
            raise UserError(f"--client: {given!r} is not ID=STATION[,STATION]")
        clients.setdefault(name, []).extend(s.strip() for s in stations.split(",") if s.strip())
    if args.json and args.json != "-":
        _check_writable(Path(args.json), args.faults)
    proxy = FaultProxy(
        args.broker,
        listen=_address(args.listen, "--listen"),
        faults=plan.faults,
        seed=plan.seed if args.seed is None else args.seed,
        network=plan.network or None,
        doctrine=plan.doctrine,
        time_scale=args.time_scale,
        clients=clients,
        control=None if args.control is None else _address(args.control, "--control"),
        on_applied=None if args.quiet else _print_applied,
        username=args.username,
        password=args.password,
    )
    counts = asyncio.run(_serve(proxy))
    text = json.dumps(counts, indent=2) + "\n"
    if args.json == "-" or not args.json:
        sys.stdout.write(text)
    else:
        inputs = [args.faults] if args.faults else []
        write_output(Path(args.json), text.encode(), force=True, inputs=inputs)
    return EXIT_OK


async def _serve(proxy: FaultProxy) -> dict[str, Any]:
    try:
        await proxy.start()
    except ProxyError as exc:
        raise UserError(str(exc)) from None
    print(f"proxy: clients connect to {proxy.url}; the broker is {proxy.broker.url}", flush=True)
    if proxy.control_url:
        print(f"proxy: control API at {proxy.control_url}", flush=True)
    for identifier, fault in proxy.faults():
        print(f"proxy: fault {identifier}: {json.dumps(fault_table(fault))}", flush=True)
    for identifier, fault in proxy.faults():
        if fault.kind is FaultKind.FORGE and fault.forge_key is not ForgeKey.ATTACKER:
            print(
                f"proxy: note: fault {identifier} forges with a station's real key "
                f"({fault.forge_key}), which a standalone proxy does not hold: it forges "
                'nothing (forge_key = "attacker" signs with the proxy\'s own key)',
                flush=True,
            )
    if not proxy.clock_reachable:
        print(
            "proxy: note: clock-skew faults act on a post's own clock, which a proxy cannot "
            "reach: not applied here (a live exercise applies them)",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await proxy.close()
    return proxy.counts()


def _print_applied(record: Applied) -> None:
    print(record.line(), flush=True)


def _address(text: str, flag: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65_535:
        raise UserError(f"{flag}: {text!r} is not HOST:PORT (e.g. 127.0.0.1:1884)")
    return host, int(port)


def _check_writable(path: Path, plan: Path | None) -> None:
    if path.is_dir():
        raise UserError(f"--json: {path} is a directory")
    if not path.parent.is_dir():
        raise UserError(f"--json: {path.parent} does not exist")
    if plan is not None and path.exists() and path.samefile(plan):
        raise UserError(f"--json: {path} is the plan; write elsewhere")


# -- talking to a running proxy ---------------------------------------------------------


def _control(args: argparse.Namespace) -> int:
    base = args.control.rstrip("/")
    if not base.startswith("http://"):
        raise UserError(f"--control: {args.control!r} is not an address like http://127.0.0.1:PORT")
    if args.verb == "list":
        answer = _call(base, "GET", "/faults")
        for fault in answer["faults"]:
            print(json.dumps(fault))
        if not answer["faults"]:
            print("no faults: every copy passes untouched")
    elif args.verb == "add":
        table = _fields(args.fields)
        answer = _call(base, "POST", "/faults", table)
        print(f"added fault {answer['id']}: {json.dumps(answer)}")
    else:
        answer = _call(base, "DELETE", f"/faults/{args.id}")
        print(f"removed fault {args.id}: {json.dumps(answer['removed'])}")
    return EXIT_OK


def _fields(pairs: list[str]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"{pair!r} is not KEY=VALUE (e.g. kind=drop probability=0.3)")
        try:
            table[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            table[key] = value  # a bare word is a string
    return table


def _call(base: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError):
            raise UserError(f"{base}: {json.loads(exc.read())['error']}") from None
        raise UserError(f"{base}: {exc}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"--control: cannot reach the proxy's control API at {base}: {reason}"
        ) from None
