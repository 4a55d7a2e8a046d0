"""Mutations applied to what fakes really send: each keeps its mutated contract.

A migration between two threaded fakes is recorded once per profile and shape (the
replies and events drift may change, as sent); every mutation and every pair is then
applied to those messages as a fake would apply it, and each result is checked
against the contract that knows the mutation, so a report never blames a tool for
the fake's own mistake.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from fakeqemu.contracts.validator import problems
from fakeqemu.drift.catalog import mutations_for, pairs_for
from fakeqemu.drift.mutation import Mutation, parse_drift
from fakeqemu.drift.paths import copy_message, target_of
from fakeqemu.drift.transform import Drift
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.testing.drift_run import DriftRun, Traced
from fakeqemu.testing.settings import FakeSettings
from fakeqemu.testing.threaded import FakeQemuPair, threaded_fakes
from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES
from tests.support.drift_tools import connected, free_port, migrate, query_migrate

CONTRACTS = [(profile, shape) for profile in PROFILE_NAMES for shape in SHAPES]


def migrate_with(profile: str, shape: str, run: DriftRun) -> dict[str, dict[str, Any]]:
    """A whole migration under ``run``; what each side last answered to query-migrate."""
    settings = FakeSettings.from_keywords(profile=profile, shape=shape, speed=50)
    with threaded_fakes(settings, [run.attach]) as group:
        pair = FakeQemuPair(group.start("source"), group.start("destination"))
        # Clients that stay connected get the events (MIGRATION_PASS with `events` on).
        uri = f"tcp:127.0.0.1:{free_port()}"
        with (
            connected(pair.source.address) as source,
            connected(pair.destination.address) as destination,
        ):
            events = [{"capability": "events", "state": True}]
            source.execute("migrate-set-capabilities", capabilities=events)
            destination.execute("migrate-incoming", uri=uri)
            source.execute("migrate", uri=uri)
            pair.destination.wait_for_migration("completed")
            pair.source.wait_for_migration("completed")
        # Twice each: an enum: mutation shows its value in the first reply only.
        return {
            role: [query_migrate(handle.address) for _ in range(2)][-1]
            for role, handle in (("source", pair.source), ("destination", pair.destination))
        }


@cache
def recorded(profile: str, shape: str) -> tuple[Traced, ...]:
    run = DriftRun(record=True)
    migrate_with(profile, shape, run)
    return tuple(run.trace)


def replay(
    mutations: tuple[Mutation, ...], profile: str, shape: str
) -> tuple[list[tuple[str | None, str, dict[str, Any]]], dict[Mutation, set[str]]]:
    """The messages ``mutations`` make of the recording, each with its name and role."""
    changed: dict[Mutation, set[str]] = {}
    drifts: dict[str, Drift] = {}
    sent = []
    for key, role, name, message in recorded(profile, shape):
        drift = drifts.setdefault(
            key,
            Drift(
                mutations,
                profile=profile,
                shape=shape,
                role=role,
                on_change=lambda m, where: changed.setdefault(m, set()).add(where),
            ),
        )
        target = target_of(name, message)
        fresh = copy_message(target, message) if target else message
        sent += [(name, role, out) for out in drift(name, fresh)]
    return sent, changed


def runs(profile: str, shape: str) -> list[tuple[Mutation, ...]]:
    singles = mutations_for(profile, shape)
    # shape: mutations change the machine, not the messages: test_shape_mutation_live.
    return [(m,) for m in singles if m.kind != "shape"] + list(pairs_for(singles))


@pytest.mark.parametrize(("profile", "shape"), CONTRACTS)
def test_every_mutated_message_keeps_the_mutated_contract(profile: str, shape: str) -> None:
    broken = []
    for mutations in runs(profile, shape):
        sent, _ = replay(mutations, profile, shape)
        drift = Drift(mutations, profile=profile, shape=shape, role="source")
        for name, role, message in sent:
            drift.role = role
            found = drift.problems(message, command=name)
            if found:
                broken.append(f"{'+'.join(map(str, mutations))} {role}: {found[0]}")
    assert broken == []


def test_the_plain_contract_would_blame_the_tool_for_a_mutation() -> None:
    """Strict mode must know the mutation: the shipped contract rejects what it sends."""
    for text in ("add:ram.x-drift", "enum:status=x-drift", "type:ram.total=float"):
        sent, changed = replay(parse_drift(text), "11.1", "new")
        assert changed, text
        rejected = [
            message
            for name, role, message in sent
            if problems(message, profile="11.1", shape="new", command=name, role=role)
        ]
        assert rejected, text


@pytest.mark.parametrize(("profile", "shape"), CONTRACTS)
def test_the_recording_has_the_events(profile: str, shape: str) -> None:
    names = {name for _, _, name, _ in recorded(profile, shape)}
    assert {"MIGRATION", "MIGRATION_PASS", "query-migrate"} <= names


def test_what_a_mutation_changes_is_reported_where_it_happened() -> None:
    _, changed = replay(parse_drift("drop:ram.dirty-sync-count"), "11.1", "new")
    # The patched destination sends ram without it already: only the source's count.
    assert changed == {Mutation.parse("drop:ram.dirty-sync-count"): {"source completed"}}
    _, changed = replay(parse_drift("drop:ram.multifd-bytes"), "11.1", "new")
    assert changed[Mutation.parse("drop:ram.multifd-bytes")] == {"source completed"}
    _, changed = replay(parse_drift("add:vfio.x-drift"), "11.1", "new")
    assert changed == {}  # no vfio in these replies: unexercised
    for text, where in (
        ("add:MIGRATION_PASS.x-drift", "MIGRATION_PASS event"),
        ("type:MIGRATION_PASS.pass=uint64", "MIGRATION_PASS event"),
        ("add:MIGRATION.x-drift", "MIGRATION event"),
    ):
        _, changed = replay(parse_drift(text), "11.1", "new")
        assert changed == {Mutation.parse(text): {where}}


def test_enum_values_appear_once_as_the_first_status_a_client_sees() -> None:
    sent, _ = replay(parse_drift("enum:status=failing"), "10.0", "old")
    statuses = [m["return"]["status"] for name, _, m in sent if name == "query-migrate"]
    assert statuses == ["failing", "completed", "failing", "completed"]  # once per fake


def test_the_values_of_one_enumeration_take_turns_in_one_run() -> None:
    drift = parse_drift("enum:status=failing+enum:status=x-drift")
    sent, changed = replay(drift, "10.0", "old")
    statuses = [m["return"]["status"] for name, _, m in sent if name == "query-migrate"]
    assert statuses == ["failing", "x-drift", "failing", "x-drift"]  # two replies per fake
    assert set(changed) == set(drift)


def test_live_drift_on_two_fakes() -> None:
    run = DriftRun(parse_drift("drop:ram.dirty-sync-count+add:x-drift"))
    last = migrate_with("11.1", "new", run)
    assert "dirty-sync-count" not in last["source"]["ram"]
    assert last["source"]["x-drift"] == 1
    assert last["destination"]["x-drift"] == 1
    assert run.violations() == []
    assert set(map(str, run.exercised)) == {"drop:ram.dirty-sync-count", "add:x-drift"}


@pytest.mark.parametrize(("before", "after"), [("old", "new"), ("new", "old")])
def test_shape_mutation_live(before: str, after: str) -> None:
    """The seed patch as a mutation: the machine answers in the other shape, and the
    replies keep that shape's contract (the run's strict monitor finds nothing)."""
    run = DriftRun(parse_drift(f"shape:{before}->{after}"))
    last = migrate_with("11.1", before, run)
    assert ("ram" in last["destination"]) == (after == "new")
    assert run.violations() == []
    assert run.exercised[Mutation("shape", f"{before}->{after}")] >= {"destination completed"}


def test_release_mutation_sends_the_other_release_s_members() -> None:
    run = DriftRun(parse_drift("release:11.1->7.2"))
    last = migrate_with("11.1", "old", run)
    assert last["source"]["ram"]["skipped"] == 0  # 7.2 has it, 11.1 dropped it
    assert "compression" in last["source"]
    assert run.violations() == []


def test_strict_mode_blames_the_fake_for_what_the_mutation_does_not_explain() -> None:
    """The run's monitor holds each message to the mutated contract: the mutation's own
    change passes, anything else the fake gets wrong is reported, naming the drift."""
    run = DriftRun(parse_drift("add:ram.x-drift"))

    def also_break(fake: FakeQemu) -> None:
        def bogus(name: str | None, message: dict[str, Any]) -> list[dict[str, Any]]:
            ram = message.get("return", {}).get("ram") if name == "query-migrate" else None
            if isinstance(ram, dict):
                message = {**message, "return": {**message["return"], "ram": {**ram, "b": 1}}}
            return [message]

        fake.session_observers.append(lambda session: session.message_transforms.append(bogus))

    settings = FakeSettings.from_keywords(profile="11.1", shape="new", speed=50)
    with threaded_fakes(settings, [run.attach, also_break]) as group:
        pair = FakeQemuPair(group.start("source"), group.start("destination"))
        migrate(pair)
        query_migrate(pair.source.address)
    found = "\n".join(map(str, run.violations()))
    assert "fakeqemu 11.1/new drifted by add:ram.x-drift sent a query-migrate" in found
    problem = found.split("\n")[1]  # the first problem of the first message
    assert problem.startswith("  $.return.ram: Additional properties are not allowed ('b' was")
    assert "x-drift" not in problem  # the mutation's own member is allowed
