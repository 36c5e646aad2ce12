"""Doctrine as data: the shipped defaults, overrides, and errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.core.channels import DisputePolicy, Doctrine, DoctrineError
from hotline.core.names import Channel, Precedence
from hotline.doctrine import default_doctrine, default_doctrine_text, doctrine_with


def test_defaults_follow_the_domain_timing_facts() -> None:
    doctrine = default_doctrine()
    air = doctrine[Channel.AIR]
    # ACP handling times: FLASH 10 min, IMMEDIATE 30 min, PRIORITY 3 h, ROUTINE 6 h
    assert [air.deadline(p) for p in Precedence] == [600, 1800, 10_800, 21_600]
    assert doctrine.ladder(Channel.AIR) == (Channel.AIR, Channel.GENERAL_OFFICER)
    assert doctrine.ladder(Channel.GROUND) == (Channel.GROUND, Channel.GENERAL_OFFICER)
    assert doctrine.ladder(Channel.GENERAL_OFFICER) == (Channel.GENERAL_OFFICER,)
    assert doctrine.min_lead_time("patrol") == 86_400  # about a day ahead
    assert doctrine.min_lead_time("strike") == 7_200
    assert doctrine.min_lead_time("picnic") is None
    assert doctrine[Channel.GENERAL_OFFICER].resolves
    assert not air.resolves
    assert doctrine[Channel.GENERAL_OFFICER].on_dispute is DisputePolicy.ACCEPT
    # each line: (1 call + 1 retry + 2 standbys) x 600 s at FLASH
    assert doctrine.bound(Channel.AIR, Precedence.FLASH) == 2 * 4 * 600


def test_every_default_value_says_where_it_comes_from() -> None:
    text = default_doctrine_text()
    for source in ("ACP", "Incidents at Sea", "a day ahead", "two hours", "March 2018"):
        assert source in text


def test_overrides_merge_over_the_defaults() -> None:
    doctrine = doctrine_with(
        {
            "precedence": {"flash": 300},
            "channels": {
                "ground": {"retries": 3, "deadlines": {"routine": 100}, "stations": {"US": "US-G"}},
                "air": {"fallback": "none"},
            },
            "lead_times": {"convoy": 3600},
        }
    )
    assert doctrine[Channel.AIR].deadline(Precedence.FLASH) == 300
    assert doctrine[Channel.GROUND].deadline(Precedence.ROUTINE) == 100
    assert doctrine[Channel.GROUND].deadline(Precedence.IMMEDIATE) == 1800
    assert doctrine[Channel.GROUND].retries == 3
    assert doctrine[Channel.GROUND].stations == {"US": "US-G"}
    assert doctrine.ladder(Channel.AIR) == (Channel.AIR,)
    assert doctrine.min_lead_time("convoy") == 3600
    assert doctrine.min_lead_time("strike") == 7200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"colour": 1}, "colour"),
        ({"precedence": {"urgent": 5}}, "precedence.urgent"),
        ({"precedence": {"flash": -1}}, "precedence.flash"),
        ({"precedence": {"flash": "soon"}}, "precedence.flash"),
        ({"channels": {"sea": {}}}, "channels.sea"),
        ({"channels": {"air": {"retries": -1}}}, "channels.air.retries"),
        ({"channels": {"air": {"retries": True}}}, "channels.air.retries"),
        ({"channels": {"air": {"fallback": "sea"}}}, "channels.air.fallback"),
        ({"channels": {"air": {"fallback": "air"}}}, "channels.air.fallback"),
        (
            {"channels": {"general-officer": {"fallback": "air"}}},
            "channels.general-officer.fallback",
        ),
        ({"channels": {"air": {"on_dispute": "shrug"}}}, "channels.air.on_dispute"),
        ({"channels": {"air": {"resolves": "yes"}}}, "channels.air.resolves"),
        ({"channels": {"air": {"stations": {"US": "US/CAOC"}}}}, "channels.air.stations.US"),
        ({"channels": {"air": {"stations": {"US": "X", "RU": "X"}}}}, "channels.air.stations"),
        ({"channels": {"air": {"pace": 1}}}, "channels.air.pace"),
        ({"lead_times": {"strike": "early"}}, "lead_times.strike"),
    ],
)
def test_bad_overrides_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(DoctrineError) as caught:
        doctrine_with(overrides)
    assert caught.value.field == field


def test_a_complete_doctrine_needs_every_deadline() -> None:
    with pytest.raises(DoctrineError) as caught:
        Doctrine.from_mapping({"precedence": {"flash": 1}})
    assert caught.value.field == "precedence.immediate"
