"""A private RabbitMQ node with its MQTT plugin, for running the live suite on a second
MQTT 3.1.1 broker: its own node name, ports, database and Erlang cookie, so the
machine's own RabbitMQ (if any) is never touched."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hotline.testing.mosquitto import free_port

SERVER = next(
    (
        path
        for path in ("/usr/lib/rabbitmq/bin/rabbitmq-server", shutil.which("rabbitmq-server"))
        if path and Path(path).exists()
    ),
    None,
)


def mqtt_plugin_missing() -> str | None:
    """Why a private node cannot run here, or None if it can."""
    if SERVER is None:
        return "RabbitMQ is not installed (apt-get install rabbitmq-server)"
    if next(Path("/usr/lib/rabbitmq").rglob("rabbitmq_mqtt-*"), None) is None:
        return "RabbitMQ's MQTT plugin (rabbitmq_mqtt) is not installed"
    return None


@dataclass
class RabbitMQ:
    """One private node; `start` waits until its MQTT listener answers."""

    directory: Path
    port: int = field(default_factory=free_port)  # MQTT
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        assert SERVER, mqtt_plugin_missing()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        config = self.directory / "rabbitmq.conf"
        config.write_text(
            f"listeners.tcp.default = 127.0.0.1:{free_port()}\n"
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "mqtt.allow_anonymous = true\n"
            "loopback_users = none\n"
        )
        env = {
            **os.environ,
            "HOME": str(self.directory),  # a cookie of its own
            "RABBITMQ_NODENAME": f"hotline-{self.port}@localhost",
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(config),
        }
        self.process = subprocess.Popen(
            [SERVER],
            env=env,
            stdout=(self.directory / "out.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop() ends the whole node, Erlang VM and all
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"RabbitMQ exited: see {self.directory / 'out.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"RabbitMQ did not start within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
