"""Helpers for tests and benchmarks of code that uses hotline: a private broker."""

from hotline.testing.mosquitto import Mosquitto, free_port

__all__ = ["Mosquitto", "free_port"]
