"""`FaultProxy`: failed calls on a live line, for any MQTT client, from a fault plan.

Theory of operation. The proxy listens on a loopback port and opens, for each client
that connects, a connection of its own to the broker (`hotline.live.proxy.session`).
It reads MQTT 3.1.1 and 5 in both directions and applies the same ``[[faults]]`` as
the simulator, with the same seed, to what clients publish:

* copy faults (drop, delay, duplicate, reorder, corrupt, forge, replay, partition,
  flap) and the scenario's ``[network]`` (latency, loss, outages) are judged per PUBLISH
  by `LineModel` (`hotline.live.proxy.decisions`); copies it delays or adds go out
  through the proxy's own connection (`hotline.live.proxy.injector`);
* ``station-down`` cuts the connections of the clients hosting the station and refuses
  their CONNECT (server unavailable) until its window ends; copies to and from the
  station are dropped meanwhile, as in simulation;
* connection faults act on whole connections, as Toxiproxy's toxics do: latency,
  bandwidth, slicer, stall, slow-close (`hotline.live.proxy.links`), reset-peer (a TCP
  RST) and broker-down (every connection cut, the port refusing new ones, the injector
  waiting);
* clock-skew is a post's clock, which no proxy can reach: a live exercise applies it
  to the skewed post; a standalone proxy says it cannot.

Windows (``start``, ``until``) are exercise seconds: the proxy's ``clock``, by default
real seconds since it started times ``time_scale``. Delays the plan draws are exercise
seconds too (a live run at ``time_scale`` 1200 waits a twelve-hundredth as long).
Faults are added and removed while it runs (`add_fault`, `remove_fault`, or the JSON
control API in `hotline.live.proxy.control`). Every fault applied is an `Applied`
record, logged (logger ``hotline.proxy``), kept (the last ``log_size``), passed to
``on_applied``, and counted as the simulator counts (`counts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from hotline.core.channels import Doctrine
from hotline.core.names import Channel
from hotline.core.signing import StationKey
from hotline.faults import CONNECTION_FAULTS, Fault, FaultKind
from hotline.live.mqtt import BrokerAddress
from hotline.live.proxy.control import ControlServer
from hotline.live.proxy.decisions import Applied, LineModel, Verdict, peek
from hotline.live.proxy.errors import ProxyError
from hotline.live.proxy.injector import Injector
from hotline.live.proxy.packets import Publish
from hotline.live.proxy.session import ClientSide, Session
from hotline.sim.model import Link

log = logging.getLogger("hotline.proxy")

#: how often the proxy looks at its faults' windows (real seconds)
TICK = 0.02


class FaultProxy:
    """A fault-injecting MQTT proxy (see the module doc).

    Args:
        broker: the broker behind the proxy (``mqtt://HOST:PORT``).
        listen: the address clients connect to (port 0: any free one).
        faults: the plan, in order of application.
        seed: the run's seed; each copy's draws derive from it.
        network: each line's latency, loss and outages (a scenario's ``[network]``).
        doctrine: answer deadlines, for copies held in an outage.
        clock: exercise seconds now (default: real seconds since start x time_scale).
        time_scale: exercise seconds per real second.
        clients: client id or user name -> the stations that client hosts (a client
            is also known by the inboxes it subscribes to).
        keys: private keys a forger may use (another station's real key).
        lines: the lines each station sits on (for the other-channel forger).
        attacker: the forger's own key (default: a fresh one).
        on_applied: called with every fault applied.
        on_line_down: called with (sender, line) when a copy finds its line down and
            the network detects outages (a live exercise tells the sending post).
        max_packet: the largest MQTT packet passed on (a larger one is malformed).
        log_size: how many applied faults `log` keeps.
        control: serve the control API (`hotline.live.proxy.control`) on this loopback
            address (port 0: any free one; see `control_url`).
        model: judge copies by this line model (its plan, seed and network) instead of
            one made of the arguments above: proxies in front of a cluster's nodes
            share one, so each copy is decided once, in one order of ordinals.
        message_clock: the exercise time of a message's signed send time (Unix
            seconds) and its sender, by which a hotline message is judged (default:
            its offset from the proxy's start, times ``time_scale``).
        username, password: the credentials of the proxy's own connection to the
            broker, which publishes the copies the line delays or adds (the broker
            sees them come from that connection, not from their senders).
    """

    def __init__(
        self,
        broker: str | BrokerAddress,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        faults: Sequence[Fault] = (),
        seed: int = 0,
        network: Mapping[Channel, Link] | None = None,
        doctrine: Doctrine | None = None,
        clock: Callable[[], float] | None = None,
        time_scale: float = 1.0,
        clients: Mapping[str, Iterable[str]] | None = None,
        keys: Mapping[str, StationKey] | None = None,
        lines: Mapping[str, frozenset[Channel]] | None = None,
        attacker: StationKey | None = None,
        on_applied: Callable[[Applied], None] | None = None,
        on_line_down: Callable[[str, Channel], None] | None = None,
        max_packet: int = 1 << 20,
        log_size: int = 10_000,
        control: tuple[str, int] | None = None,
        model: LineModel | None = None,
        message_clock: Callable[[float, str], float] | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.broker = broker if isinstance(broker, BrokerAddress) else BrokerAddress.parse(broker)
        if self.broker.tls:
            raise ProxyError(
                f"{self.broker.url}: the proxy speaks plain MQTT to its broker (put it in "
                "front of a plain listener, or of a TLS-terminating one)"
            )
        self.listen = listen
        self.clients = {name: frozenset(stations) for name, stations in (clients or {}).items()}
        self.time_scale = time_scale
        self.max_packet = max_packet
        self.on_applied = on_applied
        self.on_line_down = on_line_down
        self.rng = random.Random(f"hotline proxy connections|{seed}")
        self.model = model or LineModel(
            faults,
            seed=seed,
            network=network,
            doctrine=doctrine,
            keys=keys,
            lines=lines,
            attacker=attacker or StationKey(random.randbytes(32), "ATTACKER"),
        )
        self._faults: dict[int, Fault] = dict(enumerate(self.model.faults, start=1))
        self._next_fault = len(self._faults) + 1
        self._clock = clock
        self._message_clock = message_clock
        self._credentials = (username, password)
        self._wall_origin = 0.0
        self.sessions: set[Session] = set()
        self.log: deque[Applied] = deque(maxlen=log_size)
        self.applied_count = 0  # faults applied since the start (the log keeps the last)
        self.control = None if control is None else ControlServer(self, *control)
        self.events: Counter[str] = Counter()  # connections cut, refused, reset, malformed...
        self.forwarded = 0  # copies passed to the broker as their clients sent them
        self._holding: set[asyncio.TimerHandle] = set()  # copies waiting out an outage
        #: True: no fault acts (every copy passes untouched, no connection is cut)
        self.paused = False
        self._broker_down = False
        self._server: asyncio.Server | None = None
        self._tick: asyncio.Task[None] | None = None
        self._origin = 0.0
        self.loop: asyncio.AbstractEventLoop
        self.injector: Injector
        self.port = listen[1]

    # -- starting and stopping -----------------------------------------------------------

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Check the broker answers, listen, and start the injector.

        Raises:
            ProxyError: the broker refuses or cannot be found, or the port is taken.
        """
        self.loop = asyncio.get_running_loop()
        self._origin = self.loop.time()
        self._wall_origin = time.time()
        await self._check_broker()
        await self._listen()
        self.port = self._server.sockets[0].getsockname()[1] if self._server else self.port
        self.injector = Injector(
            self.broker, f"hotline-proxy-{self.port}-{random.randbytes(4).hex()}"
        )
        await self.injector.start()
        self._tick = asyncio.create_task(self._housekeeping(), name="hotline-proxy-tick")
        if self.control is not None:
            try:
                await self.control.start()
            except ProxyError:
                await self.close()
                raise

    @property
    def control_url(self) -> str | None:
        """Where the control API listens (``http://HOST:PORT``), if it does."""
        return None if self.control is None else self.control.url

    async def close(self) -> None:
        """Stop listening, cut every connection, and stop the injector."""
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
        if self.control is not None:
            await self.control.close()
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.cut()
        if self._holding:
            log.warning("%d copies held in an outage never reached the broker", len(self._holding))
        for handle in self._holding:
            handle.cancel()
        self._holding.clear()
        await self.injector.close()

    async def _check_broker(self) -> None:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.broker.host, self.broker.port), 10
            )
        except TimeoutError:
            raise ProxyError(f"the broker {self.broker.url} did not answer within 10 s") from None
        except OSError as exc:
            raise ProxyError(f"cannot reach the broker {self.broker.url}: {_why(exc)}") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def _listen(self) -> None:
        host, port = self.listen[0], self.port  # once chosen, the port stays the same
        try:
            self._server = await self.loop.create_server(
                lambda: ClientSide(self), host, port, reuse_address=True
            )
        except OSError as exc:
            raise ProxyError(f"cannot listen on {host}:{port}: {_why(exc)}") from None

    @property
    def url(self) -> str:
        """Where clients connect: ``mqtt://HOST:PORT``."""
        return f"mqtt://{self.listen[0]}:{self.port}"

    @property
    def clock_reachable(self) -> bool:
        """False when the plan has clock-skew faults no proxy can apply."""
        return not any(f.kind is FaultKind.CLOCK_SKEW for f in self._faults.values())

    def message_clock(self, sent_at: float, sender: str) -> float:
        """The exercise time of a message ``sender`` says it sent at ``sent_at``."""
        if self._message_clock is not None:
            return self._message_clock(sent_at, sender)
        return (sent_at - self._wall_origin) * self.time_scale

    def now(self) -> float:
        """Exercise seconds now (fault windows are in these)."""
        if self._clock is not None:
            return self._clock()
        return (self.loop.time() - self._origin) * self.time_scale

    # -- the plan, at run time -----------------------------------------------------------

    def faults(self) -> list[tuple[int, Fault]]:
        """Every fault of the plan with its id, in order of application."""
        return list(self._faults.items())

    def add_fault(self, fault: Fault) -> int:
        """Add a fault at the end of the plan; returns its id."""
        identifier = self._next_fault
        self._next_fault += 1
        self._faults[identifier] = fault
        self._replan()
        return identifier

    def remove_fault(self, identifier: int) -> Fault:
        """Remove a fault from the plan.

        Raises:
            KeyError: no fault has that id.
        """
        fault = self._faults.pop(identifier)
        self._replan()
        return fault

    def _replan(self) -> None:
        self.model.set_faults(list(self._faults.values()))
        for session in list(self.sessions):
            self._look_at(session, self.now())

    # -- copies ------------------------------------------------------------------------

    def judge(self, session: Session, topic: str, publish: Publish) -> Verdict | None:
        """What the line does with a PUBLISH ``session``'s client sent; None: untouched.

        A hotline message is judged at the time it says it was sent (a copy its post
        kept while cut off is judged by when it was sent, as in simulation), never
        later than now; anything else, now."""
        model = self.model
        if self.paused or model.passive:
            return None
        payload = publish.payload
        now, about = self.now(), peek(payload)
        sent = about.sent_at
        at = now if sent is None else min(now, max(0.0, self.message_clock(sent, about.sender)))
        sender = next(iter(session.stations)) if len(session.stations) == 1 else session.client_id
        verdict = model.judge(topic, payload, at, sender)
        for record in verdict.applied:
            self.applied(record)
        if verdict.line_down and self.on_line_down is not None:
            line = verdict.applied[0]
            if line.channel is not None:
                self.on_line_down(line.sender, Channel(line.channel))
        if verdict.hold:
            self._hold(topic, publish, sender, at, verdict.hold)
        return None if verdict.untouched else verdict

    def _hold(self, topic: str, publish: Publish, sender: str, at: float, wait: float) -> None:
        """A copy waits out its line's outage, then the line judges it again."""
        handle: asyncio.TimerHandle | None = None

        def resume() -> None:
            assert handle is not None
            self._holding.discard(handle)
            verdict = self.model.judge_held(topic, publish.payload, at + wait, sender)
            for record in verdict.applied:
                self.applied(record)
            if verdict.hold:
                self._hold(topic, publish, sender, at + wait, verdict.hold)
            for out in verdict.outgoing:
                self.inject(out.topic, out.data, publish, out.delay)

        handle = self.loop.call_later(wait / self.time_scale, resume)
        self._holding.add(handle)

    @property
    def held(self) -> int:
        """Copies the line holds: waiting out an outage, due later, or not yet
        confirmed by the broker."""
        return len(self._holding) + self.injector.held

    def inject(self, topic: str, data: bytes, publish: Publish, delay: float) -> None:
        """Publish a copy the line took, ``delay`` exercise seconds from now."""
        self.injector.publish(
            topic, data, qos=publish.qos, retain=publish.retain, after=delay / self.time_scale
        )

    def applied(self, record: Applied) -> None:
        """Log, keep and report one fault applied."""
        self.log.append(record)
        self.applied_count += 1
        log.info("%s", record.line())
        if self.on_applied is not None:
            self.on_applied(record)

    def malformed(self, session: Session, detail: str) -> None:
        """A client sent what is not MQTT: logged and counted; its connection ends."""
        self.events["malformed"] += 1
        log.warning("%s sent a malformed packet (%s): connection closed", session.name, detail)
        self.applied(
            Applied(self.now(), "closed", "malformed", "", sender=session.name, detail=detail)
        )

    def down_stations(self, stations: Iterable[str]) -> list[str]:
        """Which of ``stations`` a station-down fault has down now."""
        if self.paused:
            return []
        at = self.now()
        return sorted(s for s in stations if self.model.plan.station_down(s, at))

    def counts(self) -> dict[str, Any]:
        """What the proxy did, counted: copies, drops and injections by reason (as a
        simulated run's ``messages`` counts them), and connection events."""
        return self.model.counts.as_json() | self.traffic()

    def traffic(self) -> dict[str, Any]:
        """This proxy's own counts (its line model's may be shared): copies forwarded as
        sent, copies held, connection events."""
        return {
            "forwarded": self.forwarded,
            "held": self.held,
            "connections": dict(sorted(self.events.items())),
        }

    # -- windows -----------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            if self.paused:
                continue
            at = self.now()
            await self._broker_window(at)
            for session in list(self.sessions):
                self._look_at(session, at)

    async def _broker_window(self, at: float) -> None:
        down = any(
            f.kind is FaultKind.BROKER_DOWN and f.start <= at < f.until
            for f in self._faults.values()
        )
        if down == self._broker_down:
            return
        self._broker_down = down
        self.injector.pause(down)
        if down:
            self.events["broker-down"] += 1
            self.applied(
                Applied(at, "cut", "broker-down", "", detail="every connection, port closed")
            )
            if self._server is not None:
                self._server.close()
                self._server = None
            for session in list(self.sessions):
                session.cut()
        else:
            self.applied(Applied(at, "restored", "broker-down", "", detail="listening again"))
            try:
                await self._listen()
            except ProxyError as exc:  # the port was taken meanwhile: nothing more to serve
                log.error("after broker-down: %s", exc)

    def look_at(self, session: Session) -> None:
        """Apply the station and connection faults acting now on ``session``."""
        self._look_at(session, self.now())

    def _look_at(self, session: Session, at: float) -> None:
        """Apply the station and connection faults whose windows cover ``at``."""
        if session.closed or self.paused:
            session.acting = []
            return
        down = self.down_stations(session.stations)
        if down:
            self.events["cut"] += 1
            self.applied(
                Applied(at, "cut", "station-down", "", sender=", ".join(down), detail=session.name)
            )
            session.cut()
            return
        acting = []
        for identifier, fault in self._faults.items():
            if fault.kind not in CONNECTION_FAULTS or fault.kind is FaultKind.BROKER_DOWN:
                continue
            if not fault.start <= at < fault.until:
                continue
            if fault.station is not None and fault.station not in session.stations:
                continue
            taken = session.taken.get(identifier)
            if taken is None:
                taken = fault.probability >= 1.0 or self.rng.random() < fault.probability
                session.taken[identifier] = taken
                if taken:
                    self._took(session, fault, at)
            if taken:
                acting.append(fault)
        session.acting = acting

    def _took(self, session: Session, fault: Fault, at: float) -> None:
        """A connection fault takes a connection: say so, and start what it times."""
        kind = fault.kind
        self.events[kind.value] += 1
        self.applied(Applied(at, "took", kind.value, "", sender=session.name))
        if kind is FaultKind.RESET_PEER:
            self.loop.call_later(fault.after or 0.0, _cut_open, session, True)
        elif kind is FaultKind.STALL and fault.after is not None:
            self.loop.call_later(fault.after, _cut_open, session, False)


def _cut_open(session: Session, reset: bool) -> None:
    if not session.closed:
        session.cut(reset=reset)


def _why(exc: OSError) -> str:
    """An OS error in plain words."""
    if isinstance(exc, socket.gaierror):
        return f"no such host ({exc.strerror}; check the host name)"
    if exc.errno == errno.ECONNREFUSED:
        return "connection refused (is a broker listening there?)"
    if exc.errno == errno.EADDRINUSE:
        return "the address is in use (choose another port, or stop what listens there)"
    if isinstance(exc, OSError) and exc.errno is None and exc.args:
        return str(exc.args[-1])
    return exc.strerror or str(exc)
