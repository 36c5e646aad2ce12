"""protocol/states.md, generated from the incident transition table.

The table in `hotline.core.incident` is the single source of truth; this module renders
it as a mermaid state diagram and as tables. ``hotline states -o protocol/states.md``
rewrites the file, and a test fails when the committed file is not current.
"""

from __future__ import annotations

from collections import defaultdict

from hotline.core.incident import CAUSED_BY, OUTCOMES, TERMINAL, TRANSITIONS, Input, Role, State

INPUT_MEANING = {
    Input.NOTIFY: "the notice, first call on a line",
    Input.RETRY: "the notice again: the deadline passed with calls left on this line",
    Input.STANDBY: "received, working on it; restarts the deadline (up to max_standbys times)",
    Input.ACK: "acknowledged, bound to the notice's digest (by every addressee)",
    Input.PARTIAL_ACK: "one addressee of several acknowledged; the others are awaited",
    Input.DISPUTE: "an answer that is not a yes, with a reason code",
    Input.FALLBACK: "this line failed: calls exhausted, dispute escalated, link down, or chosen",
    Input.ESCALATE: "the notice goes to the next line of the ladder",
    Input.GIVE_UP: "no next line, or nobody left to address on it",
    Input.ACCEPT: "the originator takes the dispute as the final answer",
    Input.WITHDRAW: "the originator cancels its notice",
    Input.RESOLVE: "agreed mutual actions end the exchange (on a line whose doctrine resolves)",
    Input.LAPSE: "a responder's line stayed quiet past the originator's bound for that line",
    Input.LATE_ACK: "an ack from a line the incident has left: under late_answer = close it "
    "closes the incident, and the escalation above is told to stand down",
    Input.LATE_ANSWER: "an answer from a line left behind, or after the end: recorded, no effect",
    Input.CORRECT: "a responder amends an answer it gave earlier; on record, the outcome stands",
    Input.CONFIRM: "a station confirms the originator's closing message",
    Input.CLOSE_ACKNOWLEDGED: "the originator's `close`: the incident ended acknowledged",
    Input.CLOSE_DISPUTED: "the originator's `close`: the incident ended disputed",
    Input.CLOSE_UNRESOLVED: "the originator's `close`: the incident ended unresolved",
    Input.CLOSE_WITHDRAWN: "the originator's `withdraw` (or `close` withdrawn)",
    Input.CLOSE_RESOLVED: "the originator's `resolve` (or `close` resolved)",
}


def _node(state: State) -> str:
    return state.value.replace("-", "_")


def render() -> str:
    """The whole of protocol/states.md."""
    lines = [
        "# Incident states",
        "",
        "<!-- Generated from hotline/core/incident.py by `hotline states -o protocol/states.md`."
        " Do not edit by hand. -->",
        "",
        "One transition table drives both views of an incident: the originator's (the station",
        "that sent the notice, across every line the incident visits) and each responder's",
        "(one addressed station, on one line). Each input is produced by one side — the",
        '"caused by" column — and fed to both views: the originator feeds `ack` to its view',
        "when the ack arrives, the responder when it sends it. Any (state, input) pair not",
        "listed is illegal: a local call raises `IllegalTransition`, and a received message is",
        "refused with reason `illegal-transition`.",
        "",
        "The originator's view holds the incident's outcome. When it ends, every station",
        "whose own view would hold another outcome (from what that station said: an ack",
        "or a resolution), every station that disputed (its view stays open), and every",
        "station it heard no final answer from (silence may be an answer lost on the way)",
        "is sent a closing message, `close`, `withdraw` or",
        "`resolve`; its view takes it from whatever state it is in (the `close-*` inputs)",
        "and answers `confirm`. Closing messages go again at the line's deadline until",
        "confirmed, as notices do (protocol/PROTOCOL.md, section 12.8).",
        "",
        "```mermaid",
        "stateDiagram-v2",
        f"    [*] --> {_node(State.NEW)}",
    ]
    grouped: dict[tuple[State, State], list[str]] = defaultdict(list)
    for (before, event), after in TRANSITIONS.items():
        grouped[(before, after)].append(event.value)
    for (before, after), events in grouped.items():
        lines.append(f"    {_node(before)} --> {_node(after)}: {', '.join(events)}")
    for state in State:
        if state in TERMINAL:
            lines.append(f"    {_node(state)} --> [*]")
    lines += [
        "```",
        "",
        "## Transitions",
        "",
        "| state | input | next state | caused by |",
        "|---|---|---|---|",
    ]
    for (before, event), after in TRANSITIONS.items():
        roles = " or ".join(sorted(role.value for role in CAUSED_BY[event]))
        lines.append(f"| `{before}` | `{event}` | `{after}` | {roles} |")
    lines += ["", "## Inputs", "", "| input | caused by | meaning |", "|---|---|---|"]
    for event in Input:
        roles = " or ".join(sorted(role.value for role in CAUSED_BY[event]))
        lines.append(f"| `{event}` | {roles} | {INPUT_MEANING[event]} |")
    lines += [
        "",
        "## Terminal states and outcomes",
        "",
        "The outcome is the name an exercise reports; a view not in a terminal state is `open`.",
        "",
        "| state | outcome |",
        "|---|---|",
    ]
    for state in State:
        if state in TERMINAL:
            lines.append(f"| `{state}` | `{OUTCOMES[state]}` |")
    only = {
        role: sorted(e.value for e, roles in CAUSED_BY.items() if roles == {role}) for role in Role
    }
    lines += [
        "",
        "## Who may cause what",
        "",
        f"- originator only: {', '.join(f'`{e}`' for e in only[Role.ORIGINATOR])}",
        f"- responder only: {', '.join(f'`{e}`' for e in only[Role.RESPONDER])}",
        "- either side: `resolve`",
        "",
    ]
    return "\n".join(lines)
