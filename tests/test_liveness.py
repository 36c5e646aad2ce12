"""Liveness: whatever happened before, with no further input every open incident view
reaches a terminal state, within the bound its doctrine gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline.core.endpoint import StationEndpoint
from hotline.core.events import NoticeReceived
from hotline.core.incident import Notice, Role
from hotline.core.names import Channel, DisputeReason, Precedence
from tests.harness import T0, Decide, Net, make_doctrine

BEHAVIOURS = ["silent", "ack", "standby", "standby-then-ack", "dispute"]


def responder(behaviour: str) -> Decide:
    def decide(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        incident, channel = event.incident, event.incident.channel
        if behaviour == "ack":
            ep.acknowledge(incident.id, net.now, channel=channel)
        elif behaviour.startswith("standby"):
            ep.standby(incident.id, net.now, channel=channel)
        elif behaviour == "dispute":
            ep.dispute(incident.id, DisputeReason.LOCATION_CONFLICT, net.now, channel=channel)

    return decide


@given(
    parties=st.sampled_from([["US", "RU"], ["TR", "US", "RU"]]),
    behaviours=st.lists(st.sampled_from(BEHAVIOURS), min_size=2, max_size=2),
    channel=st.sampled_from(list(Channel)),
    precedence=st.sampled_from(list(Precedence)),
    latency=st.floats(0.1, 900.0),
    cut=st.sets(st.sampled_from(list(Channel)), max_size=2),
    dispute_policy=st.sampled_from(["escalate", "accept", "hold"]),
    notices=st.integers(1, 3),
)
def test_every_incident_ends_within_its_bound(
    *,
    parties: list[str],
    behaviours: list[str],
    channel: Channel,
    precedence: Precedence,
    latency: float,
    cut: set[Channel],
    dispute_policy: str,
    notices: int,
) -> None:
    doctrine = make_doctrine(parties, channels={"air": {"on_dispute": dispute_policy}})
    decide = {p: responder(b) for p, b in zip(parties[1:], behaviours, strict=False)}
    net = Net.of(parties, doctrine, latency=latency, cut=cut, on_notice=decide)
    originator = net.endpoints[parties[0]]
    for index in range(notices):
        originator.notify(
            channel=channel,
            precedence=precedence,
            notice=Notice(activity="patrol", starts_at=T0 + 86_400),
            now=net.now + index,
        )
    net.run(max_steps=100_000)
    for endpoint in net.endpoints.values():
        assert endpoint.next_deadline() is None
        for incident in endpoint.incidents():
            assert not incident.is_open, (incident.id, incident.role, incident.state)
            assert incident.closed_at is not None
            if incident.role is Role.ORIGINATOR:
                bound = doctrine.bound(channel, precedence)
            else:
                bound = doctrine[incident.channel].leg_bound(precedence)
            assert incident.closed_at - incident.opened_at <= bound + 1e-6
