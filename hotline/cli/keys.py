"""``hotline keys``: generate station keys; list, revoke and (logged) unrevoke keys."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hotline.cli.common import COMMANDS, EXIT_OK, UserError, channel_list, instant, now_or
from hotline.core.errors import UntrustedKey
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import check_station_id
from hotline.core.signing import StationKey
from hotline.entropy import new_seed
from hotline.keyfiles import load_keyring, load_log, save_keyring, write_private_key
from hotline.timestamps import format_instant


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``keys`` command group."""
    group = commands.add_parser("keys", help=COMMANDS["keys"].help)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    generate = actions.add_parser(
        "generate",
        help="create a station key; add its public half to a keyring",
        description="Create an Ed25519 key for a station, write the private key (mode 0600) "
        "and add the public half to a keyring, creating the keyring if needed.",
    )
    generate.add_argument("--station", required=True, help="station id, e.g. US-CAOC")
    generate.add_argument("--party", required=True, help="owning party, e.g. US")
    generate.add_argument(
        "--channels", type=channel_list, required=True, help="channels, e.g. air,general-officer"
    )
    generate.add_argument("--keyring", type=Path, required=True, help="keyring file to update")
    generate.add_argument(
        "--out", type=Path, help="private key file (default: STATION.key beside the keyring)"
    )
    generate.add_argument("--not-before", type=instant, help="first valid time")
    generate.add_argument("--not-after", type=instant, help="expiry time")
    generate.add_argument("--force", action="store_true", help="overwrite an existing key file")
    generate.set_defaults(run=run_generate)

    listing = actions.add_parser("list", help="list the keys of a keyring")
    listing.add_argument("--keyring", type=Path, required=True)
    listing.add_argument("--now", type=instant, help="judge validity at this time")
    listing.set_defaults(run=run_list)

    revoke = actions.add_parser("revoke", help="mark a key revoked in a keyring")
    revoke.add_argument("key_id", help="key id (hex, or a unique prefix of it)")
    revoke.add_argument("--keyring", type=Path, required=True)
    revoke.add_argument("--at", type=instant, help="revoked from this time (default: now)")
    revoke.add_argument("--reason", default="", help="why, for the keyring's log")
    unrevoke = actions.add_parser(
        "unrevoke",
        help="undo a revocation (logged in the keyring, with the reason given)",
        description="Undo a key's revocation: the one way a revocation moves later. The "
        "act is logged in the keyring file (when, which key, the revocation undone, why), "
        "and `keys list` shows the log.",
    )
    unrevoke.add_argument("key_id", help="key id (hex, or a unique prefix of it)")
    unrevoke.add_argument("--keyring", type=Path, required=True)
    unrevoke.add_argument("--reason", required=True, help="why it is undone (logged)")
    unrevoke.set_defaults(run=run_unrevoke)
    revoke.set_defaults(run=run_revoke)


def _load_or_empty(path: Path) -> Keyring:
    return load_keyring(path) if path.exists() else Keyring()


def run_generate(args: argparse.Namespace) -> int:
    """Create the key, write it, add the public half to the keyring."""
    try:
        check_station_id(args.station, "--station")
        check_station_id(args.party, "--party")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not args.channels:
        raise UserError("--channels: name at least one channel")
    keyring = _load_or_empty(args.keyring)
    key = StationKey(new_seed(), args.station)
    try:
        trusted = TrustedKey(
            public_key=key.public_key,
            party=args.party,
            station=args.station,
            channels=frozenset(args.channels),
            not_before=args.not_before,
            not_after=args.not_after,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    out = args.out or args.keyring.with_name(f"{args.station}.key")
    try:
        write_private_key(out, key, args.party, overwrite=args.force)
    except FileExistsError:
        raise UserError(f"{out}: exists (use --force to replace it)") from None
    save_keyring(args.keyring, keyring.with_key(trusted))
    print(f"station   {key.station} ({args.party})")
    print(f"key id    {key.key_id.hex()}")
    print(f"channels  {', '.join(sorted(trusted.channels))}")
    print(f"private   {out} (mode 0600: keep it on the station)")
    print(f"public    added to {args.keyring} ({len(keyring) + 1} keys)")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    """Print one line per key with its status now."""
    keyring = load_keyring(args.keyring)
    now = now_or(args.now)
    for key in sorted(keyring, key=lambda k: (k.station, k.key_id)):
        try:
            key.check_usable(now)
            status = "valid"
        except UntrustedKey as exc:
            status = str(exc.reason)
        window = " .. ".join(
            "-" if t is None else format_instant(t) for t in (key.not_before, key.not_after)
        )
        print(
            f"{key.key_id.hex()}  {key.station:<20} {key.party:<6} "
            f"{','.join(sorted(key.channels)):<28} {status:<18} {window}"
        )
    for entry in load_log(args.keyring):
        print(
            f"log: {entry.get('done_at')} {entry.get('act')} {entry.get('key_id')} "
            f"({entry.get('station')}), revoked from {entry.get('revoked_at')}: "
            f"{entry.get('reason') or '(no reason given)'}"
        )
    return EXIT_OK


def _one_key(keyring: Keyring, key_id: str, path: Path) -> TrustedKey:
    """The one key whose id is or starts with ``key_id``."""
    prefix = key_id.lower()
    matches = [key for key in keyring if key.key_id.hex().startswith(prefix)]
    if len(matches) != 1:
        found = "no key" if not matches else f"{len(matches)} keys"
        raise UserError(f"{path}: {found} with id starting {prefix!r}")
    return matches[0]


def run_revoke(args: argparse.Namespace) -> int:
    """Revoke one key, found by id or unique id prefix."""
    keyring = load_keyring(args.keyring)
    key = _one_key(keyring, args.key_id, args.keyring)
    at = now_or(args.at)
    if key.revoked_at is not None and at >= key.revoked_at:
        raise UserError(
            f"{key.key_id.hex()} ({key.station}) is already revoked from "
            f"{format_instant(key.revoked_at)}: a revocation only moves earlier "
            "(`keys unrevoke` undoes one, logged)"
        )
    logged = _act("revoke", key, at, args.reason)
    save_keyring(args.keyring, keyring.revoke(key.key_id, at), logged=logged)
    print(f"revoked {key.key_id.hex()} ({key.station}) from {format_instant(at)}")
    return EXIT_OK


def run_unrevoke(args: argparse.Namespace) -> int:
    """Undo one key's revocation, logged."""
    keyring = load_keyring(args.keyring)
    key = _one_key(keyring, args.key_id, args.keyring)
    if key.revoked_at is None:
        raise UserError(f"{key.key_id.hex()} ({key.station}) is not revoked")
    if not args.reason.strip():
        raise UserError("--reason: say why the revocation is undone (it is logged)")
    logged = _act("unrevoke", key, key.revoked_at, args.reason)
    save_keyring(args.keyring, keyring.unrevoke(key.key_id), logged=logged)
    print(
        f"the revocation of {key.key_id.hex()} ({key.station}) from "
        f"{format_instant(key.revoked_at)} is undone; logged in {args.keyring}"
    )
    return EXIT_OK


def _act(act: str, key: TrustedKey, revoked_at: float, reason: str) -> dict[str, str]:
    """A log entry of the keyring."""
    return {
        "act": act,
        "key_id": key.key_id.hex(),
        "station": key.station,
        "revoked_at": format_instant(revoked_at),
        "done_at": format_instant(time.time()),
        "reason": reason,
    }
