"""The fault proxy's control API: JSON over HTTP on loopback, as Toxiproxy's API is.

    GET    /                  what this is: the proxy's and the broker's addresses
    GET    /faults            the plan: [{"id": 1, "kind": "drop", ...}, ...]
    POST   /faults            add a fault: a [[faults]] table as a JSON object -> 201 {"id": N, ...}
    DELETE /faults/N          remove fault N -> 200 the fault removed; 404 if there is none
    GET    /counts            copies, drops and injections by reason, connection events
    GET    /log?since=N       the faults applied from the N-th on: {"applied": [...], "next": M}
    GET    /connections       each client: its id, user name, stations, acting faults

Bad input gets 400 with ``{"error": "..."}`` naming the field and the reason, as the
command line does. Durations in fault tables are seconds (numbers) or strings like
``"90s"``; what the API lists gives seconds. There is no authentication: the API
listens on a loopback address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from hotline.faultfile import fault_from_table, fault_table
from hotline.live.proxy.errors import ProxyError
from hotline.sim.fields import ScenarioError

if TYPE_CHECKING:
    from hotline.live.proxy.server import FaultProxy

log = logging.getLogger("hotline.proxy")

MAX_BODY = 64 * 1024
_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ControlServer:
    """Serves the control API of ``proxy`` on ``host``:``port`` (0: any free port).

    Raises:
        ProxyError: a host that is not loopback, or a port in use (at `start`).
    """

    def __init__(self, proxy: FaultProxy, host: str = "127.0.0.1", port: int = 0) -> None:
        if not is_loopback(host):
            raise ProxyError(
                f"the control API has no authentication: it listens on loopback only, not {host}"
            )
        self.proxy = proxy
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The API's address: ``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise ProxyError(
                f"control API: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await self._request(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        except ValueError:  # a line longer than the reader's limit
            status, body = 400, {"error": "a request line or header too long"}
        data = json.dumps(body, indent=2).encode() + b"\n"
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        line = (await reader.readline()).decode("latin-1").split()
        if len(line) != 3:
            return 400, {"error": "not an HTTP request line"}
        method, target = line[0], line[1]
        length = 0
        while True:
            header = (await reader.readline()).decode("latin-1").strip()
            if not header:
                break
            name, _, value = header.partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return 400, {"error": "Content-Length is not a number"}
        if not 0 <= length <= MAX_BODY:
            return 400, {"error": f"a body of at most {MAX_BODY} bytes"}
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        return self.handle(method, url.path.rstrip("/") or "/", parse_qs(url.query), body)

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        """One request: its status and JSON answer."""
        proxy = self.proxy
        if path == "/" and method == "GET":
            return 200, {"proxy": proxy.url, "broker": proxy.broker.url, "control": self.url}
        if path == "/faults":
            if method == "GET":
                return 200, {"faults": [{"id": i, **fault_table(f)} for i, f in proxy.faults()]}
            if method == "POST":
                return self._add(body)
            return 405, {"error": "GET or POST /faults"}
        if path.startswith("/faults/"):
            if method != "DELETE":
                return 405, {"error": "DELETE /faults/ID"}
            try:
                removed = proxy.remove_fault(int(path.removeprefix("/faults/")))
            except (ValueError, KeyError):
                return 404, {"error": f"no fault {path.removeprefix('/faults/')} in the plan"}
            return 200, {"removed": fault_table(removed)}
        if method != "GET":
            return 405, {"error": f"GET {path}"}
        if path == "/counts":
            return 200, proxy.counts()
        if path == "/log":
            return self._log(query)
        if path == "/connections":
            return 200, {
                "connections": [
                    {
                        "client": s.client_id,
                        "username": s.username,
                        "stations": sorted(s.stations),
                        "acting": [f.kind.value for f in s.acting],
                    }
                    for s in sorted(proxy.sessions, key=lambda s: s.client_id)
                    if not s.closed  # its client gone, the broker still answering
                ]
            }
        return 404, {"error": f"no {path} here (see GET /)"}

    def _add(self, body: bytes) -> tuple[int, Any]:
        try:
            table = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, {"error": f"the body is not JSON ({exc})"}
        try:
            fault = fault_from_table(table, "POST /faults", "fault")
        except ScenarioError as exc:
            return 400, {"error": str(exc)}
        identifier = self.proxy.add_fault(fault)
        log.info("fault %d added: %s", identifier, fault_table(fault))
        return 201, {"id": identifier, **fault_table(fault)}

    def _log(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        proxy = self.proxy
        try:
            since = int(query.get("since", ["0"])[0])
        except ValueError:
            return 400, {"error": "since must be a whole number"}
        first = proxy.applied_count - len(proxy.log)  # the number of the oldest kept
        records = list(proxy.log)[max(0, since - first) :]
        return 200, {
            "applied": [r.as_json() for r in records],
            "next": proxy.applied_count,
            "dropped_from_log": max(0, first - since),
        }
