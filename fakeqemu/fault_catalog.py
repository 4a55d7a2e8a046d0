"""Every fault kind, trigger and built-in scenario: names, fields and what each does.

One source of truth: ``fakeqemu faults`` prints it, ``fakeqemu serve --help`` and the
pytest marker's help name the kinds and scenarios from it, the validator
(:mod:`fakeqemu.model.fault_spec`) checks descriptions against its field tables, and
the model backend plays the scenarios' timelines.  Standard library only and no
dataclasses: ``fakeqemu serve`` reads it before its greeting.
"""

from __future__ import annotations

from typing import Any

#: Field types: how a value is checked (see fakeqemu.model.fault_spec).
TEXT, INTEGER, NUMBER, SIZE, OBJECT, TIMES, CHOICE = (
    "text",
    "integer",
    "number",
    "size",
    "object",
    "times",
    "choice",
)

TRANSPORT, QMP, MIGRATION = "transport", "qmp", "migration"
LEVELS = (TRANSPORT, QMP, MIGRATION)

#: Where a transport toxic acts.
TARGETS = ("monitor", "migration")


def _field(kind: str, description: str, *, required: bool = False, default: Any = None) -> Any:
    return {"type": kind, "description": description, "required": required, "default": default}


_TARGET = _field(
    CHOICE,
    "monitor (every monitor connection, unix and TCP) or migration (the stream to the peer)",
    default="monitor",
)
_DURATION = _field(
    NUMBER, "seconds of the fake's clock it lasts once triggered (default: until removed)"
)
_TIMES = _field(TIMES, 'how many requests it affects: a number or "always"', default=1)
_COMMAND = _field(TEXT, "the QMP command it acts on", required=True)

#: Fields every fault may have.
COMMON_FIELDS: dict[str, Any] = {
    "kind": _field(TEXT, "one of the kinds below", required=True),
    "trigger": _field(OBJECT, "when it starts (see the triggers); default now", default="now"),
}

#: kind -> level, what it does, its own fields.
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "latency": {
        "level": TRANSPORT,
        "summary": "each reply (or migration write) leaves ms milliseconds after what caused it",
        "fields": {
            "ms": _field(NUMBER, "added delay", required=True),
            "target": _TARGET,
            "duration": _DURATION,
        },
    },
    "bandwidth": {
        "level": TRANSPORT,
        "summary": "writes go out at most bytes-per-second (a size: 1K, 4M)",
        "fields": {
            "bytes-per-second": _field(SIZE, "the limit", required=True),
            "target": _TARGET,
            "duration": _DURATION,
        },
    },
    "slicer": {
        "level": TRANSPORT,
        "summary": "writes are cut into size-byte pieces, delay-ms apart",
        "fields": {
            "size": _field(INTEGER, "bytes per piece", default=1),
            "delay-ms": _field(NUMBER, "pause between pieces", default=0),
            "target": _TARGET,
            "duration": _DURATION,
        },
    },
    "hang": {
        "level": TRANSPORT,
        "summary": "nothing is answered or written (requests wait unrun) until it ends or"
        " is removed",
        "fields": {"target": _TARGET, "duration": _DURATION},
    },
    "reset": {
        "level": TRANSPORT,
        "summary": "the connection is reset (RST) at once; a monitor then serves its next client",
        "fields": {"target": _TARGET},
    },
    "close-after": {
        "level": TRANSPORT,
        "summary": "the connection is closed after bytes more bytes are written",
        "fields": {
            "bytes": _field(INTEGER, "bytes still written", required=True),
            "target": _TARGET,
        },
    },
    "error": {
        "level": QMP,
        "summary": "command is answered with an error of class and desc instead of running",
        "fields": {
            "command": _COMMAND,
            "class": _field(TEXT, "the error class", default="GenericError"),
            "desc": _field(TEXT, "the error text", required=True),
            "times": _TIMES,
        },
    },
    "delay": {
        "level": QMP,
        "summary": "the reply to command (and what follows it on that monitor) waits ms",
        "fields": {
            "command": _COMMAND,
            "ms": _field(NUMBER, "the delay", required=True),
            "times": _TIMES,
        },
    },
    "event": {
        "level": QMP,
        "summary": "an event (any name, any data) is sent: now, or before or after command's reply",
        "fields": {
            "event": _field(TEXT, "the event's name", required=True),
            "data": _field(OBJECT, "the event's data (none: no data member)"),
            "command": _field(TEXT, "send it around this command's reply"),
            "when": _field(CHOICE, "before or after the reply", default="after"),
            "times": _TIMES,
        },
    },
    "reorder": {
        "level": QMP,
        "summary": "events command raises come after its reply instead of before, as QEMU"
        " sends events raised from its migration thread",
        "fields": {
            "command": _COMMAND,
            "event": _field(TEXT, "only this event (default: every event)"),
            "times": _TIMES,
        },
    },
    "query-migrate-without-ram": {
        "level": QMP,
        "summary": "query-migrate answers an active migration without ram (the window after"
        " the status turns active and before the first stats, which clients must survive)",
        "fields": {"times": _TIMES},
    },
    "migration-fail": {
        "level": MIGRATION,
        "summary": "the migration fails with error-desc desc (source or destination)",
        "fields": {"desc": _field(TEXT, "the error-desc", required=True)},
    },
    "destination-dies": {
        "level": MIGRATION,
        "summary": "a source's destination dies: the stream is reset and the source fails"
        " as QEMU does (Unable to write to socket: Connection reset by peer); in"
        " postcopy-active it pauses instead (postcopy-paused), as QEMU's cannot tell",
        "fields": {},
    },
    "source-dies": {
        "level": MIGRATION,
        "summary": "a destination's source dies mid-stream: the load fails as QEMU's does,"
        " and the process exits unless exit-on-error was false; in postcopy-active it"
        " pauses instead (postcopy-paused)",
        "fields": {},
    },
    "link-break": {
        "level": MIGRATION,
        "summary": "the migration stream breaks (reset) on this side: a precopy migration"
        " fails; a postcopy-active one pauses both sides in postcopy-paused, counters kept,"
        " until migrate-recover {uri} on the destination and migrate {uri, resume: true}"
        " on the source take it on to completed (migrate-pause does the same from QMP)",
        "fields": {},
    },
    "link-stall": {
        "level": MIGRATION,
        "summary": "the link carries nothing: remaining stays, mbps drops, until it ends",
        "fields": {"duration": _DURATION},
    },
}

#: Faults QEMU has that the fake does not model, with the reason: listed, never accepted.
NOT_MODELLED: dict[str, str] = {}

TRIGGERS: dict[str, str] = {
    "now": '"now" or no trigger: at once',
    "call": '{"call": N, "command": C}: at the Nth call of C from now (C defaults to the'
    " fault's command); a QMP fault then affects that call",
    "status": '{"status": S}: when this fake\'s migration reaches status S',
    "percent": '{"percent": P}: when P percent of RAM is transferred (100 x (1 - remaining/total))',
    "after": '{"after": S}: S seconds of the fake\'s clock after the fault was added',
}

#: What a scenario step may set, with its meaning.  Rates are sizes per second, or a
#: percentage of the bandwidth in force (max-bandwidth, or the postcopy one).
SCENARIO_FIELDS: dict[str, str] = {
    "dirty-rate": "bytes per second the guest dirties (a size, or a percentage of the bandwidth)",
    "link-bandwidth": "bytes per second the link carries (a size or a percentage; 0: no limit)",
    "zero-share": "share of the pages not sent yet that are zero, 0 to 1",
    "working-set": "share of RAM the guest keeps writing, 0 to 1: the most that a bitmap sync"
    " finds dirty (1: anywhere)",
}
#: When a scenario step starts (one of them; none: at the start of the migration).
SCENARIO_TRIGGERS: dict[str, str] = {
    "at": "seconds after the migration started",
    "at-percent": "once this percentage of RAM is transferred",
    "after": "seconds after the previous step started",
}

_STEADY = {"dirty-rate": "10%", "working-set": 1.0}


def _stall(percent: float) -> list[dict[str, Any]]:
    left = round(1 - percent / 100, 6)
    return [dict(_STEADY), {"at-percent": percent, "dirty-rate": "400%", "working-set": left}]


#: name -> (what a tool sees, its timeline).  ``stall-at:PERCENT`` takes its number.
SCENARIOS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "converge": (
        "a guest dirtying a tenth of the bandwidth: every pass cuts remaining, it completes",
        [dict(_STEADY)],
    ),
    "never-converge": (
        "a guest dirtying faster than the link: each pass finds as much dirty as before;"
        " only auto-converge, a higher downtime-limit or postcopy ends it",
        [{"dirty-rate": "150%", "working-set": 1.0}],
    ),
    "stall-at:PERCENT": (
        "converges until PERCENT of RAM is sent, then the guest keeps (100-PERCENT)% of RAM"
        " dirty: remaining at each pass plateaus there until downtime-limit lets it switch over",
        _stall(60),
    ),
    "stall-then-recover": (
        "stalls at 50% for 10 s of the migration's time, then converges",
        [*_stall(50), {"after": 10, **_STEADY}],
    ),
    "bandwidth-collapse": (
        "the link drops to a tenth of the bandwidth at 30%: mbps falls, and the guest's"
        " writes now match what the link carries",
        [dict(_STEADY), {"at-percent": 30, "link-bandwidth": "10%"}],
    ),
    "dirty-burst": (
        "at 50% the guest writes three times faster than the link for 6 s: remaining"
        " rises again for a few passes, then converges",
        [dict(_STEADY), {"at-percent": 50, "dirty-rate": "300%"}, {"after": 6, **_STEADY}],
    ),
}


def builtin_scenario(name: str) -> list[dict[str, Any]]:
    """The timeline of a built-in scenario (``stall-at:60`` included); KeyError names them."""
    head, colon, argument = name.partition(":")
    if head == "stall-at" and colon:
        try:
            percent = float(argument)
        except ValueError:
            raise KeyError(f"stall-at:PERCENT takes a number, got {argument!r}") from None
        if not 0 < percent < 100:
            raise KeyError(f"stall-at:PERCENT takes a percentage between 0 and 100, got {percent}")
        return _stall(percent)
    if name in SCENARIOS and ":" not in name:
        return [dict(step) for step in SCENARIOS[name][1]]
    raise KeyError(f"unknown scenario {name!r}; built-in scenarios: {', '.join(SCENARIOS)}")


def fault_kind_names() -> str:
    return ", ".join(FAULT_KINDS)


def scenario_names() -> str:
    return ", ".join(SCENARIOS)


def describe() -> str:
    """Everything above as text: what ``fakeqemu faults`` prints."""
    lines = ['Faults: JSON objects {"kind": ..., "trigger": ..., ...}', ""]
    for level in LEVELS:
        lines.append(f"{level} faults:")
        for name, kind in FAULT_KINDS.items():
            if kind["level"] != level:
                continue
            lines.append(f"  {name}: {kind['summary']}")
            for field, spec in kind["fields"].items():
                need = "required" if spec["required"] else f"default {spec['default']!r}"
                if not spec["required"] and spec["default"] is None:
                    need = "optional"
                lines.append(f"      {field} ({spec['type']}, {need}): {spec['description']}")
        lines.append("")
    if NOT_MODELLED:
        lines.append("not modelled:")
        lines += [f"  {name}: {why}" for name, why in NOT_MODELLED.items()]
        lines.append("")
    lines += ["triggers:"]
    lines += [f"  {name}: {text}" for name, text in TRIGGERS.items()]
    lines += ["", "scenarios (--scenario NAME, or a timeline as JSON or TOML):"]
    lines += [f"  {name}: {text}" for name, (text, _) in SCENARIOS.items()]
    lines += ["", 'a timeline is a list of steps (or {"steps": [...]}); a step sets:']
    lines += [f"  {name}: {text}" for name, text in SCENARIO_FIELDS.items()]
    lines += ["  and starts (one of these; none: when the migration starts):"]
    lines += [f"  {name}: {text}" for name, text in SCENARIO_TRIGGERS.items()]
    return "\n".join(lines)
