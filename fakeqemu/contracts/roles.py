"""Which ``query-migrate`` members a source or a destination reports, state by state.

``qmp_query_migrate()`` fills the destination's part, then the source's
(migration/migration.c).  Introspection says only that every member is
optional; what each side really sends in each state is stated here, from
qemu-facts §2.2 (``fill_source_migration_info``) and §2.5
(``fill_destination_migration_info``), and checked against the recordings.
Member lists are intersected with the release's own ``MigrationInfo``, so a
member a release lacks is never required of it.

Statuses a release has but these tables do not classify (11.1's ``failing``)
get a permissive rule: any member that side ever reports, nothing required
beyond ``status``.  Their behaviour has not been observed in ``query-migrate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fakeqemu.contracts.qapi_types import Schema
from fakeqemu.profiles.patch import (
    DESTINATION_REPORTED,
    PATCH_DESTINATION_COMPLETED,
    PATCH_OPTIONAL_STATS,
    PATCH_SOURCE_COMPLETED_OMITS,
)

#: Members only the destination part fills; a pure source never sends them.
DESTINATION_ONLY = (
    "socket-address",
    "postcopy-blocktime",
    "postcopy-vcpu-blocktime",
    "postcopy-latency",
    "postcopy-latency-dist",
    "postcopy-vcpu-latency",
    "postcopy-non-vcpu-latency",
)
#: fill_destination_postcopy_migration_info(): only once ``completed``.
DESTINATION_COMPLETED_ONLY = DESTINATION_ONLY[1:]
#: Reported in any state that reports a status (blocked-reasons even without one).
ALWAYS_ALLOWED = ("status", "error-desc", "blocked-reasons")

#: Source states in which populate_time_info() and populate_ram_info() run.
SOURCE_RUNNING = (
    "active",
    "cancelling",
    "pre-switchover",
    "device",
    "postcopy-device",
    "postcopy-active",
    "postcopy-paused",
    "postcopy-recover-setup",
    "postcopy-recover",
)
#: Source states that report only the status (and an error, if one was recorded).
SOURCE_QUIET = ("setup", "failed", "cancelled", "wait-unplug", "colo")
#: A source in ``none`` returns before setting ``status``.
SOURCE_NEVER = ("none",)
#: Never in a completed source reply: the downtime is final, 7.2's ``disk`` stops at
#: completion, and 11.1's top-level ``remaining`` is gone once completed (recorded).
SOURCE_COMPLETED_NEVER = ("expected-downtime", "disk", "remaining")

#: States a destination is never in, or never reports (``postcopy-recover-setup`` is
#: dropped from the switch on purpose).
DESTINATION_NEVER = ("none", "postcopy-recover-setup", "pre-switchover", "device", "wait-unplug")


@dataclass(frozen=True)
class MigrationTypes:
    """The facts about one release and shape that the rules need."""

    #: ``MigrationInfo`` members, in declaration order.
    info_members: Sequence[str]
    #: ``MigrationStatus`` values, in declaration order.
    statuses: Sequence[str]
    #: ``MigrationStats`` members that are not optional in this shape.
    stats_required: Sequence[str]
    shape: str


@dataclass(frozen=True)
class StateRule:
    """What one side reports in some states: a ``$defs`` entry of a role schema."""

    name: str
    description: str
    #: Statuses the rule covers; empty for the reply without ``status``.
    statuses: tuple[str, ...]
    allowed: tuple[str, ...]
    required: tuple[str, ...] = ()
    #: Extra narrowing of members that are allowed (``ram``, ``total-time``...).
    members: dict[str, Schema] = field(default_factory=dict)
    extra: Schema = field(default_factory=dict)


def _present(names: Sequence[str], types: MigrationTypes) -> tuple[str, ...]:
    return tuple(name for name in types.info_members if name in names)


def source_rules(types: MigrationTypes) -> list[StateRule]:
    source_members = tuple(m for m in types.info_members if m not in DESTINATION_ONLY)
    running_ram: Schema = {}
    completed_ram: Schema = {"properties": {"remaining": {"const": 0}}}
    if types.shape == "new":
        # populate_ram_info() sets every has_* member, so a source still sends them all ...
        running_ram = {"required": list(PATCH_OPTIONAL_STATS)}
        kept = [m for m in PATCH_OPTIONAL_STATS if m not in PATCH_SOURCE_COMPLETED_OMITS]
        completed_ram["required"] = kept
        # ... except dirty-pages-rate once completed (its has_ is set only before that).
        for omitted in PATCH_SOURCE_COMPLETED_OMITS:
            completed_ram["properties"][omitted] = False
    else:
        completed_ram["properties"]["dirty-pages-rate"] = {"const": 0}
    running = tuple(s for s in SOURCE_RUNNING if s in types.statuses)
    quiet = tuple(s for s in SOURCE_QUIET if s in types.statuses)
    classified = {*SOURCE_RUNNING, *SOURCE_QUIET, *SOURCE_NEVER, "completed"}
    other = tuple(s for s in types.statuses if s not in classified)
    rules = [
        StateRule(
            "source-without-status",
            "A source that never migrated reports at most its blockers.",
            (),
            _present(("blocked-reasons",), types),
        ),
        StateRule(
            "source-quiet",
            "A source in these states reports its status, and an error if one was recorded.",
            quiet,
            _present(ALWAYS_ALLOWED, types),
            ("status",),
        ),
        StateRule(
            "source-running",
            "A running source reports times, RAM stats and either expected-downtime or downtime.",
            running,
            source_members,
            ("status", "setup-time", "total-time", "ram"),
            {"ram": running_ram} if running_ram else {},
            {"oneOf": [{"required": ["expected-downtime"]}, {"required": ["downtime"]}]},
        ),
        StateRule(
            "source-completed",
            "A completed source reports final times, downtime and RAM stats, nothing remaining.",
            ("completed",),
            tuple(m for m in source_members if m not in SOURCE_COMPLETED_NEVER),
            ("status", "setup-time", "total-time", "downtime", "ram"),
            {"ram": completed_ram},
        ),
    ]
    if other:
        rules.append(
            StateRule(
                "source-unclassified",
                "A status whose query-migrate reply was never observed: any source member.",
                other,
                source_members,
                ("status",),
            )
        )
    return rules


def destination_rules(types: MigrationTypes) -> list[StateRule]:
    plain = _present(("socket-address", *ALWAYS_ALLOWED), types)
    completed_allowed = _present((*plain, *DESTINATION_COMPLETED_ONLY), types)
    completed_required: tuple[str, ...] = ("status",)
    completed_members: dict[str, Schema] = {}
    description = (
        "A completed destination reports its status and, with postcopy-blocktime on, blocktimes."
    )
    if types.shape == "new":
        completed_allowed = _present((*completed_allowed, *PATCH_DESTINATION_COMPLETED), types)
        completed_required = ("status", "ram")
        # fill_destination_migration_info() fills the mandatory members and leaves the
        # source-only ones unset; remaining is set to 0.
        completed_members["ram"] = {
            "required": list(types.stats_required),
            "properties": {
                "remaining": {"const": 0},
                **dict.fromkeys(PATCH_OPTIONAL_STATS, False),
            },
        }
        # has_total_time only if the incoming side measured a total time > 0.
        completed_members["total-time"] = {"minimum": 1}
        description = (
            "A completed destination reports its status, received RAM stats, total-time if"
            " measured and, with postcopy-blocktime on, blocktimes (seed patch)."
        )
    reported = tuple(s for s in DESTINATION_REPORTED if s in types.statuses and s != "completed")
    classified = {*DESTINATION_REPORTED, *DESTINATION_NEVER}
    other = tuple(s for s in types.statuses if s not in classified)
    rules = [
        StateRule(
            "destination-without-status",
            "A destination in state none reports at most its listening addresses and blockers.",
            (),
            _present(("socket-address", "blocked-reasons"), types),
        ),
        StateRule(
            "destination-reported",
            "An incoming migration in these states reports its status and listening addresses.",
            reported,
            plain,
            ("status",),
        ),
        StateRule(
            "destination-completed",
            description,
            ("completed",),
            completed_allowed,
            completed_required,
            completed_members,
        ),
    ]
    if other:
        rules.append(
            StateRule(
                "destination-unclassified",
                "A status whose query-migrate reply was never observed: status and addresses.",
                other,
                plain,
                ("status",),
            )
        )
    return rules


def never_reported(role: str, types: MigrationTypes) -> tuple[str, ...]:
    never = SOURCE_NEVER if role == "source" else DESTINATION_NEVER
    return tuple(s for s in types.statuses if s in never)


def rule_schema(rule: StateRule, types: MigrationTypes) -> Schema:
    """A rule as JSON Schema: forbidden members are ``false``, narrowed ones refined."""
    properties: Schema = {}
    for name in types.info_members:
        if name == "status" and not rule.statuses:
            continue  # the rule applies only when status is missing
        if name not in rule.allowed:
            properties[name] = False
        elif name in rule.members:
            properties[name] = rule.members[name]
    schema: Schema = {"description": rule.description, "properties": properties}
    if rule.required:
        schema["required"] = list(rule.required)
    schema.update(rule.extra)
    return schema


def role_schema(role: str, types: MigrationTypes) -> tuple[Schema, dict[str, Schema]]:
    """The dispatcher on ``status`` for ``return``, and the ``$defs`` it refers to."""
    rules = source_rules(types) if role == "source" else destination_rules(types)
    defs: dict[str, Schema] = {}
    branches: list[Schema] = []
    for rule in rules:
        if rule.name.endswith("-without-status"):
            condition: Schema = {"not": {"required": ["status"]}}
        elif rule.statuses:
            condition = {
                "required": ["status"],
                "properties": {"status": {"enum": list(rule.statuses)}},
            }
        else:
            continue  # this release has none of the rule's states
        defs[rule.name] = rule_schema(rule, types)
        branches.append({"if": condition, "then": {"$ref": f"#/$defs/{rule.name}"}})
    never = never_reported(role, types)
    if never:
        name = f"{role}-never-reported"
        defs[name] = {
            "description": f"A {role} never reports these statuses.",
            "properties": {"status": {"not": {"enum": list(never)}}},
        }
        branches.append({"$ref": f"#/$defs/{name}"})
    return {"allOf": branches}, defs
