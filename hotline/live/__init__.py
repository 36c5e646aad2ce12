"""The live side: hotline on real MQTT brokers.

One room of three (`hotline.core` is the protocol, `hotline.sim` the simulator): the
`Station` client library (station.py) and the post's durable store (store.py), the MQTT
link under it (mqtt.py), scenario files run live (exercise.py), the TLS identities and
ACL of the secure broker profile (brokerauth.py).
"""

from hotline.live.exercise import LiveExercise, run_live
from hotline.live.mqtt import BrokerAddress, TlsFiles, TransportError
from hotline.live.station import IncidentHandle, Station

__all__ = [
    "BrokerAddress",
    "IncidentHandle",
    "LiveExercise",
    "Station",
    "TlsFiles",
    "TransportError",
    "run_live",
]
