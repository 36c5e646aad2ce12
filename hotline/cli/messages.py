"""``hotline inspect`` (decode and verify one message) and ``hotline sign`` (make one)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from hotline.cli.common import (
    COMMANDS,
    EXIT_OK,
    EXIT_REJECTED,
    UserError,
    channel,
    instant,
    now_or,
    read_input,
)
from hotline.core.errors import InvalidEnvelope, MalformedMessage, RejectedMessage
from hotline.core.jsonform import body_from_json, envelope_to_json
from hotline.core.names import Kind, Precedence
from hotline.core.signing import split_signed
from hotline.core.verifier import Verifier
from hotline.core.wire import Envelope, decode_envelope
from hotline.entropy import new_message_id
from hotline.keyfiles import load_keyring, load_private_key
from hotline.outputs import write_output
from hotline.timestamps import format_instant


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``inspect`` and ``sign`` subcommands."""
    inspect = commands.add_parser(
        "inspect",
        help=COMMANDS["inspect"].help,
        description="Decode and verify one signed message; print the envelope and the verdict "
        "as JSON. Exit 0 valid, 3 rejected (with the reason code), 2 unreadable input.",
    )
    inspect.add_argument("file", nargs="?", default="-", help="message file, or - for stdin")
    inspect.add_argument("--keyring", type=Path, required=True, help="keyring file (JSON)")
    inspect.add_argument("--now", type=instant, help="verify as of this time (default: now)")
    inspect.add_argument("--channel", type=channel, help="channel the message arrived on")
    inspect.add_argument("--hex", action="store_true", help="input is hex text, not raw bytes")
    inspect.set_defaults(run=run_inspect)

    sign = commands.add_parser(
        "sign",
        help=COMMANDS["sign"].help,
        description="Build an envelope, sign it with a station's private key and write the "
        "signed bytes.",
    )
    sign.add_argument("--key", type=Path, required=True, help="private key file of the sender")
    sign.add_argument("--channel", type=channel, required=True)
    sign.add_argument("--kind", choices=[k.value for k in Kind], default=Kind.NOTIFY.value)
    sign.add_argument("--to", required=True, help="recipient station ids, comma-separated")
    sign.add_argument("--incident", required=True, help="incident id")
    sign.add_argument(
        "--precedence", choices=[p.value for p in Precedence], default=Precedence.PRIORITY.value
    )
    sign.add_argument("--ref", help="hex digest of the message answered (ack, standby, dispute)")
    sign.add_argument("--body", default="{}", help='body as JSON (bytes as {"$bin": hex})')
    sign.add_argument(
        "--seq",
        type=int,
        help="sender sequence number (default: sender time in ms x 1000, which keeps "
        "increasing across restarts)",
    )
    sign.add_argument("--at", type=instant, help="sender time (default: now)")
    sign.add_argument("-o", "--output", default="-", help="output file, or - for stdout")
    sign.add_argument("--force", action="store_true", help="replace an existing output file")
    sign.add_argument("--hex", action="store_true", help="write hex text instead of raw bytes")
    sign.set_defaults(run=run_sign)


def run_inspect(args: argparse.Namespace) -> int:
    """Print the decoded envelope and the verdict; 0 valid, 3 rejected."""
    raw = read_input(args.file)
    if args.hex:
        try:
            raw = bytes.fromhex(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise UserError(f"{args.file}: --hex given but the input is not hex text") from None
    keyring = load_keyring(args.keyring)
    now = now_or(args.now)
    report: dict[str, Any] = {"now": format_instant(now), "size": len(raw)}
    try:
        verified = Verifier(keyring).verify(raw, now, channel=args.channel)
    except RejectedMessage as exc:
        report.update(
            verdict="rejected", reason=str(exc.reason), detail=exc.detail, **_unverified_view(raw)
        )
        code = EXIT_REJECTED
    else:
        report.update(
            verdict="valid",
            key_id=verified.key.key_id.hex(),
            party=verified.key.party,
            digest=verified.digest.hex(),
            envelope=envelope_to_json(verified.envelope),
            sent_at=format_instant(verified.envelope.sent_at),
        )
        code = EXIT_OK
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return code


def _unverified_view(raw: bytes) -> dict[str, Any]:
    """What can be shown of a rejected message, clearly marked as unverified."""
    try:
        parts = split_signed(raw)
    except MalformedMessage:
        return {}
    view: dict[str, Any] = {"key_id": parts.key_id.hex()}
    with contextlib.suppress(MalformedMessage):
        view["unverified_envelope"] = envelope_to_json(decode_envelope(parts.envelope_bytes))
    return view


def run_sign(args: argparse.Namespace) -> int:
    """Write one signed message."""
    key = load_private_key(args.key)
    try:
        body = body_from_json(json.loads(args.body))
    except ValueError as exc:
        raise UserError(f"--body: not JSON ({exc})") from None
    except RecursionError:
        raise UserError("--body: nested too deeply (a body holds at most 8 levels)") from None
    if not isinstance(body, dict):
        raise UserError(f"--body: must be a JSON object, not {type(body).__name__}")
    sent_at_ms = int(now_or(args.at) * 1000)
    try:
        envelope = Envelope(
            id=new_message_id(),
            channel=args.channel,
            kind=Kind(args.kind),
            sender=key.station,
            recipients=tuple(s.strip() for s in args.to.split(",") if s.strip()),
            incident=args.incident,
            ref=None if args.ref is None else _hex_digest(args.ref),
            seq=args.seq if args.seq is not None else sent_at_ms * 1000,
            sent_at_ms=sent_at_ms,
            precedence=Precedence(args.precedence),
            body=body,
        )
    except InvalidEnvelope as exc:
        raise UserError(f"envelope field {exc.field}: {exc.detail}") from None
    signed = key.sign(envelope)
    output = signed.hex().encode() + b"\n" if args.hex else signed
    if args.output == "-":
        sys.stdout.buffer.write(output)
        sys.stdout.buffer.flush()
    else:
        write_output(Path(args.output), output, force=args.force)
    return EXIT_OK


def _hex_digest(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UserError(f"--ref: {text!r} is not hex") from None
