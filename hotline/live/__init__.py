"""The live side: hotline on real MQTT brokers.

One room of three (`hotline.core` is the protocol, `hotline.sim` the simulator): the
`Station` client library (station.py) and the post's durable store (store.py), the MQTT
link under it (mqtt.py), scenario files run live (exercise.py), the TLS identities and
ACL of the secure broker profile (brokerauth.py), and the fault proxy that puts a
scenario's failed calls on real traffic (proxy/).

The names below are loaded on first use, so that a module of this package (the
certificates' brokerauth.py, say) comes without the MQTT client, the simulator and
the map the others bring.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hotline.live.exercise import LiveExercise, run_live
    from hotline.live.mqtt import BrokerAddress, ConnectionFailed, TlsFiles, TransportError
    from hotline.live.proxy import FaultProxy
    from hotline.live.station import IncidentHandle, Posted, Station, Unsent, UnsentMessages

#: where each name lives
_HOMES: Final = {
    "BrokerAddress": "hotline.live.mqtt",
    "ConnectionFailed": "hotline.live.mqtt",
    "FaultProxy": "hotline.live.proxy",
    "IncidentHandle": "hotline.live.station",
    "LiveExercise": "hotline.live.exercise",
    "Posted": "hotline.live.station",
    "Station": "hotline.live.station",
    "TlsFiles": "hotline.live.mqtt",
    "TransportError": "hotline.live.mqtt",
    "Unsent": "hotline.live.station",
    "UnsentMessages": "hotline.live.station",
    "run_live": "hotline.live.exercise",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hotline.live' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "BrokerAddress",
    "ConnectionFailed",
    "FaultProxy",
    "IncidentHandle",
    "LiveExercise",
    "Posted",
    "Station",
    "TlsFiles",
    "TransportError",
    "Unsent",
    "UnsentMessages",
    "run_live",
]
