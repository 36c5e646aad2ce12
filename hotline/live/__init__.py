"""The live side: hotline on real MQTT brokers.

One room of three (`hotline.core` is the protocol, `hotline.sim` the simulator): the
`Station` client library (station.py) and the post's durable store (store.py), the MQTT
link under it (mqtt.py), scenario files run live (exercise.py), the TLS identities and
ACL of the secure broker profile (brokerauth.py), and the fault proxy that puts a
scenario's failed calls on real traffic (proxy/).
"""

from hotline.live.exercise import LiveExercise, run_live
from hotline.live.mqtt import BrokerAddress, ConnectionFailed, TlsFiles, TransportError
from hotline.live.proxy import FaultProxy
from hotline.live.station import IncidentHandle, Posted, Station, Unsent, UnsentMessages

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
