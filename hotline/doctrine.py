"""Loading doctrine: the packaged defaults, merged with a scenario's overrides."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from hotline.core.channels import Doctrine

DEFAULT_DOCTRINE_FILE = "doctrine.toml"


def default_doctrine_text() -> str:
    """The packaged default doctrine file, comments and all."""
    return resources.files("hotline.data").joinpath(DEFAULT_DOCTRINE_FILE).read_text()


@cache
def default_doctrine() -> Doctrine:
    """The default doctrine (hotline/data/doctrine.toml), parsed once."""
    return Doctrine.from_mapping(tomllib.loads(default_doctrine_text()), DEFAULT_DOCTRINE_FILE)


def doctrine_with(overrides: Mapping[str, Any], source: str = "doctrine") -> Doctrine:
    """The default doctrine with ``overrides`` (same shape as the file) merged over it."""
    return default_doctrine().with_overrides(overrides, source)
