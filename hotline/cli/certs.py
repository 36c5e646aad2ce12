"""``hotline certs``: TLS certificates and the ACL of the secure broker profile."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from hotline.cli.common import COMMANDS, EXIT_OK, UserError
from hotline.keyfiles import load_keyring
from hotline.live.brokerauth import BrokerAuthError, issue, posts_from_keyring


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``certs`` command group."""
    group = commands.add_parser("certs", help=COMMANDS["certs"].help)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    issuing = actions.add_parser(
        "issue",
        help="create a CA, broker and per-post certificates, and the broker ACL",
        description="From a keyring, write into DIR a certificate authority (reused if "
        "present), the broker's certificate, one client certificate per post and a "
        "mosquitto ACL: each post reads only its stations' inboxes and writes only to "
        "inboxes on their channels. Every station is its own post unless grouped "
        "with --post.",
    )
    issuing.add_argument("--keyring", type=Path, required=True, help="the stations to certify")
    issuing.add_argument("--dir", type=Path, required=True, help="where to write the files")
    issuing.add_argument(
        "--post",
        action="append",
        default=[],
        metavar="NAME=STATION,STATION",
        help="one connection hosting several stations (repeatable)",
    )
    issuing.add_argument("--days", type=int, default=365, help="validity (default 365)")
    issuing.set_defaults(run=run_issue)


def _posts(values: list[str]) -> dict[str, list[str]]:
    posts: dict[str, list[str]] = {}
    for value in values:
        name, sep, stations = value.partition("=")
        members = [s.strip() for s in stations.split(",") if s.strip()]
        if not sep or not name.strip() or not members:
            raise UserError(f"--post {value!r}: expected NAME=STATION[,STATION...]")
        if name.strip() in posts:
            raise UserError(f"--post {name.strip()}: named twice")
        posts[name.strip()] = members
    return posts


def run_issue(args: argparse.Namespace) -> int:
    """Write the files; print one line per post with what it may read and write."""
    if args.days < 1:
        raise UserError("--days: must be at least 1")
    keyring = load_keyring(args.keyring)
    try:
        posts = posts_from_keyring(keyring, _posts(args.post))
    except BrokerAuthError as exc:
        raise UserError(f"{args.keyring}: {exc}") from None
    if not posts:
        raise UserError(f"{args.keyring}: no stations to certify")
    now = datetime.datetime.now(datetime.UTC)
    issue(args.dir, posts, now=now, days=args.days)
    print(f"wrote {args.dir}/: ca.crt, server.crt, acl and {len(posts)} client certificates")
    for post in posts:
        print(f"  {post.name:<16} reads {', '.join(post.reads())}")
        print(f"  {'':<16} writes {', '.join(post.writes())}")
    return EXIT_OK
