"""The fault proxy's error: what stops it starting, said in one sentence."""

from __future__ import annotations

from hotline.core.errors import HotlineError


class ProxyError(HotlineError):
    """The proxy cannot start or cannot do what was asked (a port in use, a broker that
    refuses, a control address off loopback...)."""
