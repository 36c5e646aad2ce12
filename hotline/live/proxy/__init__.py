"""The fault proxy: a scenario's failed calls applied to real MQTT traffic.

packets.py reads and writes MQTT 3.1.1 and 5 packets; decisions.py judges each copy a
client publishes by the fault plan and the network (no IO); session.py carries one
client's connection through; links.py applies connection faults to a direction of it;
injector.py publishes the copies the line delays or adds; server.py is `FaultProxy`;
control.py its JSON control API over HTTP.
"""

from hotline.live.proxy.decisions import Applied, LineModel
from hotline.live.proxy.errors import ProxyError
from hotline.live.proxy.server import FaultProxy

__all__ = ["Applied", "FaultProxy", "LineModel", "ProxyError"]
