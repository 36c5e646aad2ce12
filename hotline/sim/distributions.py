"""Delay distributions for links and responders, sampled from the run's one RNG."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline.sim.durations import parse_duration


@dataclass(frozen=True, slots=True)
class Fixed:
    """Always the same delay."""

    value: float

    def sample(self, rng: random.Random) -> float:
        """The delay, in seconds."""
        return self.value

    @property
    def mean(self) -> float:
        """The expected delay."""
        return self.value

    @property
    def upper(self) -> float:
        """The longest delay."""
        return self.value

    @property
    def lower(self) -> float:
        """The shortest delay."""
        return self.value


@dataclass(frozen=True, slots=True)
class Uniform:
    """A delay spread evenly between ``low`` and ``high``."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        """A delay, in seconds."""
        return rng.uniform(self.low, self.high)

    @property
    def mean(self) -> float:
        """The expected delay."""
        return (self.low + self.high) / 2

    @property
    def upper(self) -> float:
        """The longest delay."""
        return self.high

    @property
    def lower(self) -> float:
        """The shortest delay."""
        return self.low


@dataclass(frozen=True, slots=True)
class LogNormal:
    """A long-tailed delay: ``median`` seconds typical, ``sigma`` the spread of its log."""

    median: float
    sigma: float

    def sample(self, rng: random.Random) -> float:
        """A delay, in seconds."""
        return rng.lognormvariate(math.log(self.median), self.sigma)

    @property
    def mean(self) -> float:
        """The expected delay."""
        return self.median * math.exp(self.sigma**2 / 2)

    @property
    def upper(self) -> float:
        """The longest delay but one in a thousand (its 99.9th percentile: it has no
        longest)."""
        return self.median * math.exp(3.090232 * self.sigma)

    @property
    def lower(self) -> float:
        """The shortest delay but one in a thousand (its 0.1th percentile)."""
        return self.median * math.exp(-3.090232 * self.sigma)


Distribution = Fixed | Uniform | LogNormal


def parse_distribution(value: object) -> Distribution:
    """A distribution from a duration (fixed) or a table with ``kind``.

    Forms: ``"90s"``; ``{kind = "fixed", value = "90s"}``;
    ``{kind = "uniform", low = "1m", high = "5m"}``;
    ``{kind = "lognormal", median = "2m", sigma = 0.6}``.

    Raises:
        ValueError: naming the sub-field (``low: ...``) where it can.
    """
    if not isinstance(value, Mapping):
        return Fixed(parse_duration(value))
    table: Mapping[str, Any] = value
    kind = table.get("kind")
    expected = {"fixed": {"value"}, "uniform": {"low", "high"}, "lognormal": {"median", "sigma"}}
    if kind not in expected:
        raise ValueError(f"kind: {kind!r} is not one of fixed, uniform, lognormal")
    unknown = sorted(set(table) - expected[kind] - {"kind"})
    if unknown:
        raise ValueError(f"{unknown[0]}: not a field of a {kind} distribution")
    missing = sorted(expected[kind] - set(table))
    if missing:
        raise ValueError(f"{missing[0]}: required for a {kind} distribution")
    try:
        if kind == "fixed":
            return Fixed(parse_duration(table["value"]))
        if kind == "uniform":
            low, high = parse_duration(table["low"]), parse_duration(table["high"])
            if high < low:
                raise ValueError("high: must not be below low")
            return Uniform(low, high)
        median, sigma = parse_duration(table["median"]), table["sigma"]
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if median <= 0:
        raise ValueError("median: must be positive")
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0 <= sigma <= 5:
        raise ValueError("sigma: must be a number from 0 to 5")
    return LogNormal(median, float(sigma))
