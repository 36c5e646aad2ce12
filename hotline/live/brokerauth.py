"""Who may connect to a hotline broker, and what each may read and write.

The secure broker profile (brokers/secure/) wants three things, which `issue` writes
into one directory from a keyring:

* a certificate authority (``ca.crt``, ``ca.key``) that signs everything else;
* a server certificate for the broker (``server.crt``, ``server.key``), valid for
  ``localhost``, ``127.0.0.1`` and ``::1``;
* one client certificate per post (``<post>.crt``, ``<post>.key``), its common name
  the post's name, which mosquitto takes as the user name (``use_identity_as_username``);
* an ACL file (``acl``) in mosquitto's format: a post reads only the inboxes of the
  stations it hosts and writes only to inboxes on those stations' channels.

By default every station of the keyring is its own post. A post that hosts several
stations over one connection (a party's air-operations centre and chief of staff, on
one machine) is named with ``posts``: ``{"US": ["US-CAOC", "US-CJCS"]}``; its ACL is
the union of its stations'.

TLS keys are ECDSA P-256; they are not the stations' Ed25519 signing keys, which never
leave the posts. Private key files are written with mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hotline.core.keyring import Keyring
from hotline.core.names import TOPIC_PREFIX, Channel, check_station_id

SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")


class BrokerAuthError(ValueError):
    """The posts asked for do not fit the keyring."""


@dataclass(frozen=True, slots=True)
class Post:
    """One broker client: its name (the certificate's common name) and its stations."""

    name: str
    stations: Mapping[str, frozenset[Channel]]  # station -> the channels it may use

    def reads(self) -> list[str]:
        """The topics this post may read: its stations' inboxes."""
        return sorted(
            f"{TOPIC_PREFIX}/{channel.value}/{station}"
            for station, channels in self.stations.items()
            for channel in channels
        )

    def writes(self) -> list[str]:
        """The topic filters this post may write to: every inbox on its channels."""
        channels = {channel for lines in self.stations.values() for channel in lines}
        return sorted(f"{TOPIC_PREFIX}/{channel.value}/+" for channel in channels)


def posts_from_keyring(
    keyring: Keyring, posts: Mapping[str, Sequence[str]] | None = None
) -> list[Post]:
    """The posts to certify: one per station, or as grouped by ``posts``.

    Raises:
        BrokerAuthError: a station not in the keyring, one named in two posts, or a
            post name that is not a valid identifier.
    """
    channels: dict[str, set[Channel]] = {}
    for key in keyring:
        channels.setdefault(key.station, set()).update(key.channels)
    grouped: dict[str, str] = {}  # station -> post
    for name, stations in (posts or {}).items():
        _check_name(name)
        for station in stations:
            if station not in channels:
                raise BrokerAuthError(f"post {name}: station {station} is not in the keyring")
            if station in grouped:
                raise BrokerAuthError(
                    f"station {station} is in two posts: {grouped[station]} and {name}"
                )
            grouped[station] = name
    members: dict[str, dict[str, frozenset[Channel]]] = {}
    for station in sorted(channels):
        post = grouped.get(station, station)
        members.setdefault(post, {})[station] = frozenset(channels[station])
    return [Post(name, stations) for name, stations in sorted(members.items())]


def _check_name(name: str) -> None:
    try:
        check_station_id(name, "post")
    except ValueError as exc:
        raise BrokerAuthError(f"post name {name!r}: {exc}") from None


def acl_text(posts: Sequence[Post]) -> str:
    """The mosquitto ACL file for ``posts`` (nothing is allowed that is not listed)."""
    lines = ["# hotline posts: each reads its own inboxes, writes inboxes on its channels"]
    for post in posts:
        lines += ["", f"user {post.name}"]
        lines += [f"topic read {topic}" for topic in post.reads()]
        lines += [f"topic write {topic}" for topic in post.writes()]
    return "\n".join(lines) + "\n"


def issue(
    directory: Path,
    posts: Sequence[Post],
    *,
    now: datetime.datetime,
    days: int = 365,
) -> list[Path]:
    """Write the CA, the broker's and every post's certificate, and the ACL; returns them.

    An existing CA in ``directory`` is reused, so posts added later join the same trust.
    """
    directory.mkdir(parents=True, exist_ok=True)
    until = now + datetime.timedelta(days=days)
    ca_key_path, ca_cert_path = directory / "ca.key", directory / "ca.crt"
    if ca_key_path.exists() and ca_cert_path.exists():
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise BrokerAuthError(f"{ca_key_path} is not an EC private key")
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = _name("hotline certificate authority")
        ca_cert = (
            _builder(name, name, ca_key.public_key(), now, until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(ca_key_path, ca_key)
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    written = [ca_cert_path, ca_key_path]
    san = x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in SERVER_NAMES]
        + [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_ADDRESSES]
    )
    written += _leaf(directory, "server", (ca_key, ca_cert), valid=(now, until), server=san)
    for post in posts:
        written += _leaf(directory, post.name, (ca_key, ca_cert), valid=(now, until))
    acl = directory / "acl"
    acl.write_text(acl_text(posts))
    return [*written, acl]


def _leaf(
    directory: Path,
    name: str,
    authority: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    *,
    valid: tuple[datetime.datetime, datetime.datetime],
    server: x509.SubjectAlternativeName | None = None,
) -> list[Path]:
    ca_key, ca_cert = authority
    now, until = valid
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(_name(name), ca_cert.subject, key.public_key(), now, until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server is not None:
        builder = builder.add_extension(server, critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return [cert_path, key_path]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    until: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate small skews
        .not_valid_after(until)
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
