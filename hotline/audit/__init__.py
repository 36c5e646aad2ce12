"""Audit: the tamper-evident journal, its checks, and evidence bundles for disputes."""
