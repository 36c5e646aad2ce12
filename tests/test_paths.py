"""Full paths through the protocol, with two or three endpoints wired in memory."""

from __future__ import annotations

import pytest

from hotline.core.endpoint import StationEndpoint
from hotline.core.events import Closed, NoticeReceived, Rejected
from hotline.core.incident import Notice, State
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from tests.harness import T0, Net, make_doctrine

STRIKE = Notice(activity="strike", starts_at=T0 + 3 * 3600, area={"lat": 35.2, "lon": 40.2})
FLASH = Precedence.FLASH  # 600 s per call by default


def ack(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
    ep.acknowledge(event.incident.id, net.now, channel=event.incident.channel)


def notify(
    net: Net,
    party: str = "US",
    channel: Channel = Channel.AIR,
    parties: list[str] | None = None,
) -> str:
    endpoint = net.endpoints[party]
    incident = endpoint.notify(
        channel=channel, precedence=FLASH, notice=STRIKE, now=net.now, parties=parties
    )
    return incident.id


def test_notify_then_ack() -> None:
    net = Net.of(["US", "RU"], on_notice={"RU": ack})
    inc = notify(net)
    net.run()
    mine = net.endpoints["US"].originated(inc)
    theirs = net.endpoints["RU"].answering(inc)
    assert (mine.state, theirs.state) == (State.ACKNOWLEDGED, State.ACKNOWLEDGED)
    assert mine.closed_at == T0 + 4.0  # notice and ack each take 2 s
    assert mine.path == [Channel.AIR]
    assert (mine.attempts, mine.fallbacks) == (1, 0)
    kinds = [env.kind for _, _, env in net.sent]
    assert kinds == [Kind.NOTIFY, Kind.ACK]
    assert net.sent[1][2].ref == net.endpoints["US"].originated(inc)._latest_notice()


def test_notify_standby_then_ack() -> None:
    def standby(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        ep.standby(event.incident.id, net.now)

    net = Net.of(["US", "RU"], on_notice={"RU": standby})
    inc = notify(net)
    net.run(until=T0 + 500)
    mine = net.endpoints["US"].originated(inc)
    assert mine.state is State.STANDBY
    assert mine.deadline == T0 + 4.0 + 600  # the standby restarted the clock
    net.endpoints["RU"].acknowledge(inc, net.now)
    net.run()
    assert mine.outcome == "acknowledged"
    assert mine.closed_at == T0 + 502
    assert [s.input for s in mine.history] == ["notify", "standby", "ack"]


def test_standby_does_not_close_the_call() -> None:
    def standby(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        ep.standby(event.incident.id, net.now, channel=event.incident.channel)

    net = Net.of(["US", "RU"], on_notice={"RU": standby})
    inc = notify(net)
    net.run()
    mine = net.endpoints["US"].originated(inc)
    # standby on air, no final answer: the retry, then the general officers' line, stays silent
    assert mine.state is State.UNRESOLVED
    assert [s.input for s in mine.history][:3] == ["notify", "standby", "retry"]
    assert mine.closed_at is not None
    assert mine.closed_at <= T0 + mine.doctrine.bound(Channel.AIR, FLASH)


def test_dispute_escalates_to_general_officers_who_acknowledge() -> None:
    def disavow(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        if event.incident.channel is Channel.AIR:
            ep.dispute(event.incident.id, DisputeReason.NOT_OUR_FORCES, net.now)
        else:
            ep.acknowledge(event.incident.id, net.now, channel=event.incident.channel)

    net = Net.of(["US", "RU"], on_notice={"RU": disavow})
    inc = notify(net)
    net.run()
    mine = net.endpoints["US"].originated(inc)
    assert mine.state is State.ACKNOWLEDGED
    assert mine.path == [Channel.AIR, Channel.GENERAL_OFFICER]
    assert mine.fallbacks == 1
    assert mine.escalation == "dispute"
    assert mine.disputes == [("RU-HMEIMIM", DisputeReason.NOT_OUR_FORCES)]
    escalation = next(env for _, _, env in net.sent if env.kind is Kind.ESCALATE)
    assert escalation.sender == "US-CJCS"
    assert escalation.recipients == ("RU-GENSTAFF",)
    assert escalation.body["escalated_from"] == "air"
    air_view = net.endpoints["RU"].answering(inc, Channel.AIR)
    go_view = net.endpoints["RU"].answering(inc, Channel.GENERAL_OFFICER)
    # the air view held the dispute; the originator's closing message brought it round
    assert (air_view.state, air_view.closed_by) == (State.ACKNOWLEDGED, Kind.CLOSE)
    assert go_view.state is State.ACKNOWLEDGED


def test_silence_retries_then_falls_back_then_unresolved() -> None:
    net = Net.of(["US", "RU"])
    inc = notify(net)
    net.run()
    mine = net.endpoints["US"].originated(inc)
    assert mine.state is State.UNRESOLVED
    assert mine.outcome == "unresolved"
    kinds = [(env.kind, env.channel) for _, party, env in net.sent if party == "US"]
    assert kinds == [
        (Kind.NOTIFY, Channel.AIR),
        (Kind.NOTIFY, Channel.AIR),  # one retry
        (Kind.ESCALATE, Channel.GENERAL_OFFICER),
        (Kind.ESCALATE, Channel.GENERAL_OFFICER),
        # silence may be an answer lost on the way: each station is told how it ended
        (Kind.CLOSE, Channel.AIR),
        (Kind.CLOSE, Channel.GENERAL_OFFICER),
    ]
    assert mine.closed_at == T0 + 4 * 600
    assert [s.input for s in mine.history] == [
        "notify",
        "retry",
        "fallback",
        "escalate",
        "retry",
        "fallback",
        "give-up",
        "confirm",  # both stations confirm the outcome
        "confirm",
    ]
    assert mine.settled
    assert mine.closed_at <= T0 + mine.doctrine.bound(Channel.AIR, FLASH)
    closed = net.events("US", Closed)
    assert [(c.incident, c.outcome) for c in closed] == [(inc, "unresolved")]


def test_an_ack_lost_in_flight_is_repeated_for_the_retry() -> None:
    net = Net.of(["US", "RU"], on_notice={"RU": ack})
    inc = notify(net)
    net.cut.add(Channel.AIR)  # the notice and the first ack vanish...
    net.pump()
    net.cut.clear()
    net.run()
    # ...the notice was sent again at the deadline, and RU had never seen it: now it does.
    mine = net.endpoints["US"].originated(inc)
    assert mine.state is State.ACKNOWLEDGED
    assert mine.attempts == 2


def test_retry_crossing_an_ack_gets_the_ack_repeated() -> None:
    net = Net.of(["US", "RU"], latency=400.0, on_notice={"RU": ack})
    inc = notify(net)  # FLASH deadline 600 s < 800 s round trip: the retry crosses the ack
    net.run()
    mine = net.endpoints["US"].originated(inc)
    assert mine.state is State.ACKNOWLEDGED
    acks = [env for _, party, env in net.sent if party == "RU" and env.kind is Kind.ACK]
    assert len(acks) == 2  # the first ack, and the same answer repeated for the retry
    assert acks[0].ref != acks[1].ref  # each bound to the notice it answers
    assert not net.events("US", Rejected)  # the duplicate ack is absorbed, not refused


def test_withdraw_closes_both_views() -> None:
    net = Net.of(["US", "RU"])
    inc = notify(net)
    net.run(until=T0 + 100)
    net.endpoints["US"].withdraw(inc, net.now, text="strike cancelled")
    net.run()
    assert net.endpoints["US"].originated(inc).state is State.WITHDRAWN
    assert net.endpoints["RU"].answering(inc).state is State.WITHDRAWN
    assert net.endpoints["RU"].answering(inc).closed_at == T0 + 102


def test_general_officers_resolve_with_mutual_actions() -> None:
    def talk(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        if event.incident.channel is Channel.GENERAL_OFFICER:
            ep.resolve(
                event.incident.id,
                {"RU": "fall back", "US": "draw off slightly"},
                net.now,
                channel=Channel.GENERAL_OFFICER,
            )

    doctrine = make_doctrine(channels={"ground": {"retries": 0}})
    net = Net.of(["US", "RU"], doctrine, on_notice={"RU": talk})
    inc = notify(net, channel=Channel.GROUND)
    net.run()
    mine = net.endpoints["US"].originated(inc)
    assert mine.state is State.RESOLVED
    assert mine.resolution == {"actions": {"RU": "fall back", "US": "draw off slightly"}}
    assert mine.path == [Channel.GROUND, Channel.GENERAL_OFFICER]


def test_resolve_is_refused_on_a_line_that_does_not_resolve() -> None:
    from hotline.core.errors import IllegalTransition

    net = Net.of(["US", "RU"])
    inc = notify(net)
    net.run(until=T0 + 10)
    with pytest.raises(IllegalTransition, match="does not resolve"):
        net.endpoints["RU"].resolve(inc, {"RU": "hold"}, net.now)


def test_three_party_notice_needs_every_acknowledgement() -> None:
    acks: list[str] = []

    def slow_ack(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        acks.append(ep.party)

    net = Net.of(["TR", "US", "RU"], on_notice={"US": slow_ack, "RU": slow_ack})
    inc = notify(net, party="TR", channel=Channel.GROUND)
    net.run(until=T0 + 10)
    assert sorted(acks) == ["RU", "US"]
    net.endpoints["US"].acknowledge(inc, net.now)
    net.run(until=T0 + 20)
    mine = net.endpoints["TR"].originated(inc)
    assert mine.state is State.NOTIFIED  # one of two
    assert mine.leg.answers == {"US-GROUND": Kind.ACK}
    net.endpoints["RU"].acknowledge(inc, net.now)
    net.run()
    assert mine.outcome == "acknowledged"
    assert [s.input for s in mine.history] == ["notify", "partial-ack", "ack"]


def test_three_party_retry_and_fallback_address_only_the_silent() -> None:
    net = Net.of(["TR", "US", "RU"], on_notice={"US": ack})
    inc = notify(net, party="TR", channel=Channel.GROUND)
    net.run()
    mine = net.endpoints["TR"].originated(inc)
    sent = [(env.kind, env.channel, env.recipients) for _, party, env in net.sent if party == "TR"]
    assert sent == [
        (Kind.NOTIFY, Channel.GROUND, ("US-GROUND", "RU-GROUND")),
        (Kind.NOTIFY, Channel.GROUND, ("RU-GROUND",)),
        (Kind.ESCALATE, Channel.GENERAL_OFFICER, ("RU-GENSTAFF",)),
        (Kind.ESCALATE, Channel.GENERAL_OFFICER, ("RU-GENSTAFF",)),
        # the party that acknowledged is told the incident as a whole is unresolved,
        # and so is each silent station (its answer may have been lost)
        (Kind.CLOSE, Channel.GROUND, ("US-GROUND", "RU-GROUND")),
        (Kind.CLOSE, Channel.GENERAL_OFFICER, ("RU-GENSTAFF",)),
    ]
    assert mine.state is State.UNRESOLVED


def test_one_dispute_among_three_parties_disputes_the_incident() -> None:
    def disagree(ep: StationEndpoint, event: NoticeReceived, net: Net) -> None:
        ep.dispute(
            event.incident.id,
            DisputeReason.LOCATION_CONFLICT,
            net.now,
            channel=event.incident.channel,
        )

    doctrine = make_doctrine(["TR", "US", "RU"], channels={"ground": {"on_dispute": "accept"}})
    net = Net.of(["TR", "US", "RU"], doctrine, on_notice={"US": ack, "RU": disagree})
    inc = notify(net, party="TR", channel=Channel.GROUND)
    net.run()
    mine = net.endpoints["TR"].originated(inc)
    assert mine.outcome == "disputed"
    assert mine.disputes == [("RU-GROUND", DisputeReason.LOCATION_CONFLICT)]


def test_late_notice_is_flagged_on_both_sides() -> None:
    net = Net.of(["US", "RU"])
    hasty = Notice(activity="strike", starts_at=T0 + 50)  # doctrine wants 2 h for strikes
    incident = net.endpoints["US"].notify(
        channel=Channel.AIR, precedence=FLASH, notice=hasty, now=net.now
    )
    net.run(until=T0 + 5)
    assert incident.late_notice
    received = net.events("RU", NoticeReceived)
    assert received[0].late


def test_link_down_falls_back_at_once() -> None:
    net = Net.of(["US", "RU"], on_notice={"RU": ack})
    inc = notify(net)
    net.cut.add(Channel.AIR)
    net.pump()
    net.endpoints["US"].link_down(Channel.AIR, net.now + 1)
    net.run()
    mine = net.endpoints["US"].originated(inc)
    assert mine.escalation == "link-down"
    assert mine.state is State.ACKNOWLEDGED
    assert mine.path == [Channel.AIR, Channel.GENERAL_OFFICER]
