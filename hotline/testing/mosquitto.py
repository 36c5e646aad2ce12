"""A private mosquitto for tests and benchmarks: on a free loopback port, killable, restartable.

Never the shared broker on 1883: each test gets its own process, configuration and
persistence directory, so it can kill -9 and restart its broker at will.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mosquitto:
    """One private broker process. `start` and `kill` may be called repeatedly."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def config(self) -> Path:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        path = self.directory / "mosquitto.conf"
        path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 1\n"
            "max_packet_size 70000\n"  # a signed message is at most 64 KiB
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            "set_tcp_nodelay true\n"  # no Nagle delay on small messages
            f"log_dest file {self.directory / 'mosquitto.log'}\n"
            # started as root, mosquitto drops to user "mosquitto", which cannot write
            # this test's directory: persistence would fail silently, sessions with it
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        return path

    def start(self) -> None:
        assert MOSQUITTO, "mosquitto is not installed: apt-get install mosquitto"
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"mosquitto exited: {(self.directory / 'mosquitto.log').read_text()}"
                    ) from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start within 10 s")

    def saves(self) -> int:
        """How many times this broker has written its persistence file so far."""
        log = self.directory / "mosquitto.log"
        return log.read_text().count("Saving in-memory database") if log.exists() else 0

    def wait_for_save(self, timeout: float = 10.0) -> None:
        """Block until the broker writes its persistence again (sessions are on disk)."""
        before, deadline = self.saves(), time.monotonic() + timeout
        while self.saves() == before:
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not save its persistence in time")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no goodbye, no flush beyond what autosave wrote."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None
