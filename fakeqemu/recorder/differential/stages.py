"""The migration-command sequence of one release, built from its introspection.

Nothing here lists cases: the commands are those whose name says ``migrat``
(plus HMP's ``info migrate*``), the parameters and capabilities are the members
and enum values of their argument types, and each member gets values of its own
type (in range, at the bounds of C integer kinds and of QEMU's checks, past
them), one value of every other JSON type, ``null``, and an unknown member
beside it.  A fixed seed picks the random parts.  State carries over from probe
to probe, so the order is part of the data.

URIs are the one thing introspection cannot give (it says ``str``): they come
from the tables below, with ``@DIR@`` standing for a directory the runner picks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakeqemu.profiles import Profile
from fakeqemu.recorder.differential.sequence import SEED, Probe, ProbeSequence
from fakeqemu.recorder.differential.values import DIRECTORY, INTEGERS

#: Unusable ``migrate`` URIs: bad scheme, bad address, nobody listening.  Not here:
#: ``vsock:1:1`` (QEMU stays in ``setup`` until cancelled, for as long as the kernel
#: takes), ``exec:`` (it would start a program).
OUTGOING_URIS = (
    "",
    "bogus",
    "bogus:x",
    "tcp:",
    "tcp:127.0.0.1",
    "tcp:[::1",
    "tcp:127.0.0.1:1",
    "unix:",
    f"unix:{DIRECTORY}/nobody.sock",
    "fd:nosuchfd",
    "file:/nonexistent-dir/vm.state",
)
#: ``migrate-incoming`` URIs QEMU refuses before it tries to listen.
BAD_INCOMING_URIS = ("", "bogus:x", "tcp:", "tcp:[::1")
#: URIs QEMU fails to listen on, and one it takes oddly (port 99999 listens on 34463).
#: From 8.x a failure to listen leaves the destination in ``setup`` for good, and a
#: listener is for good too, so each goes to a spare ``-incoming defer`` VM of its own.
UNLISTENABLE_URIS = (
    "tcp:127.0.0.1:notaport",
    "tcp:192.0.2.1:1",
    "unix:/nonexistent-dir/x.sock",
    "fd:nosuchfd",
    "file:/nonexistent-dir/vm.state",
    "unix:",
    "tcp:127.0.0.1:99999",
)
REFUSED = "tcp:127.0.0.1:1"
INCOMING = f"unix:{DIRECTORY}/incoming.sock"
#: Channel kinds sent only in broken forms: ``exec`` would start a program, ``vsock``
#: stays in ``setup`` as long as the kernel likes, ``rdma`` needs hardware (and the
#: fakes migrate over tcp and unix only).
NOT_STARTED = frozenset({"exec", "vsock", "rdma"})
#: How many random multi-member ``migrate-set-parameters`` calls (which check wins).
PARAMETER_MIXES = 40
#: How many random sets of three to five capabilities.
CAPABILITY_MIXES = 40
Stage = Callable[[ProbeSequence], None]


def initial_queries(seq: ProbeSequence) -> None:
    for side in ("src", "dst"):
        seq.queries(side)


def parameters(seq: ProbeSequence) -> None:
    """Every member of migrate-set-parameters alone, then random mixes of integers."""
    defaults = seq.profile.migrate_parameter_defaults
    command = "migrate-set-parameters"
    for member in seq.members(command):
        name, type_name = member["name"], member["type"]
        for value in seq.values.valid(type_name, name):
            seq.send("src", command, {name: value})
        for value in seq.values.wrong_types(type_name):
            seq.send("src", command, {name: value})
        info = seq.schema.types[type_name]
        if info["meta-type"] == "enum":
            seq.send("src", command, {name: "no-such-value"})
        if info["meta-type"] == "array" and seq.schema.types[info["element-type"]].get("members"):
            for broken in seq.values.broken_objects(info["element-type"]):
                seq.send("src", command, {name: [broken]})
        seq.send("src", command, {name: seq.values.valid(type_name, name)[0], "no-such-member": 1})
        seq.send("src", "query-migrate-parameters")
        seq.hmp("src", "info migrate_parameters")
        if name in defaults:
            seq.send("src", command, {name: defaults[name]})
    integers = [m["name"] for m in seq.members(command) if m["type"] == "int"]
    for _ in range(PARAMETER_MIXES):
        names = seq.rng.sample(integers, seq.rng.randint(2, 3))
        seq.send("src", command, {name: seq.rng.choice(INTEGERS) for name in names})
    seq.send("src", "query-migrate-parameters")
    seq.send("src", command, defaults)
    seq.send("src", "query-migrate-parameters")


def _set_caps(seq: ProbeSequence, side: str, names: list[str], state: bool) -> None:
    entries = [{"capability": name, "state": state} for name in names]
    seq.send(side, "migrate-set-capabilities", {"capabilities": entries})


def capabilities(seq: ProbeSequence) -> None:
    """Each capability on and off on both sides; every pair on the source; broken lists."""
    names = seq.capability_names()
    for side in ("src", "dst"):
        for name in names:
            _set_caps(seq, side, [name], True)
            seq.hmp(side, "info migrate_capabilities")
            _set_caps(seq, side, [name], False)
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            _set_caps(seq, "src", [first, second], True)
            _set_caps(seq, "src", [first, second], False)
    # Several at once: which of migrate_caps_check()'s complaints comes first.
    for _ in range(CAPABILITY_MIXES):
        mix = seq.rng.sample(names, seq.rng.randint(3, 5))
        _set_caps(seq, "src", mix, True)
        _set_caps(seq, "src", mix, False)
    command = "migrate-set-capabilities"
    caps_type = seq.member_type(command, "capabilities")
    element = seq.element_type(command, "capabilities")
    assert caps_type is not None
    assert element is not None
    seq.send("src", command, {"capabilities": []})
    for wrong in seq.values.wrong_types(caps_type):
        seq.send("src", command, {"capabilities": wrong})
    for broken in seq.values.broken_objects(element):
        seq.send("src", command, {"capabilities": [broken]})
    seq.send("src", command, {"capabilities": [{"capability": "no-such-value", "state": True}]})
    _set_caps(seq, "src", [names[0], names[0]], True)
    seq.send("src", command, {"capabilities": [{"capability": names[0], "state": False}]})
    seq.send("src", "query-migrate-capabilities")


def _arguments_for(seq: ProbeSequence, command: str) -> list[dict[str, Any] | None]:
    """Valid and broken argument objects of a command without URIs."""
    arg_type = seq.schema.commands[command].get("arg-type")
    if arg_type is None:
        return [None, {"no-such-member": 1}]
    base = seq.values.objects(arg_type)[0]
    found: list[dict[str, Any] | None] = [
        {**base, member["name"]: value}
        for member in seq.members(command)
        for value in seq.values.valid(member["type"], member["name"])
    ]
    found += list(seq.values.broken_objects(arg_type))
    return found


def other_commands(seq: ProbeSequence) -> None:
    """The other migration commands, with no migration running, on both sides."""
    skip = {"migrate", "migrate-incoming", "migrate-set-parameters", "migrate-set-capabilities"}
    for command in seq.migration_commands():
        if command in skip or command.startswith("query-"):
            continue
        for side in ("src", "dst"):
            for arguments in _arguments_for(seq, command):
                if arguments is not None and "uri" in arguments:
                    arguments = {**arguments, "uri": REFUSED}
                seq.send(side, command, arguments)


def _channels(seq: ProbeSequence, command: str) -> list[list[dict[str, Any]]]:
    """``channels`` values: a main channel of each address kind, two mains, none, and
    broken channels.  Not sent: a list without a main channel (``cpr`` alone), which
    ends QEMU 10.0 and 11.1 (no reply, the process is gone)."""
    element = seq.element_type(command, "channels")
    if element is None:
        return []
    members = {m["name"]: m["type"] for m in seq.schema.types[element]["members"]}
    addresses = [
        addr
        for addr in seq.values.objects(members["addr"])
        if addr["transport"] not in NOT_STARTED and addr.get("type") not in NOT_STARTED
    ]
    kinds = seq.values.valid(members["channel-type"])
    main = {"channel-type": kinds[0], "addr": addresses[0]}
    found = [[{"channel-type": kinds[0], "addr": addr}] for addr in addresses]
    found += [[main, main], []]
    found += [[broken] for broken in seq.values.broken_objects(element)]
    return found


def incoming(seq: ProbeSequence) -> None:
    """migrate-incoming: unusable addresses, then the one the live stage migrates to."""
    command = "migrate-incoming"
    seq.send("src", command, {"uri": INCOMING})
    for uri in BAD_INCOMING_URIS:
        seq.send("dst", command, {"uri": uri})
    for number, uri in enumerate(UNLISTENABLE_URIS):
        spare = f"aux{number}"
        seq.send(spare, command, {"uri": uri})
        seq.send(spare, command, {"uri": UNLISTENABLE_URIS[0]})
        seq.send(spare, command, {"uri": BAD_INCOMING_URIS[1]})
        seq.send(spare, "query-migrate")
        seq.hmp(spare, "info migrate")
    seq.send("dst", command, {})
    if seq.member_type(command, "channels") is not None:
        seq.send("dst", command, {"uri": INCOMING, "channels": []})
    seq.send("dst", command, {"uri": BAD_INCOMING_URIS[1], "no-such-member": 1})
    good: dict[str, Any] = {"uri": INCOMING}
    if seq.member_type(command, "exit-on-error") is not None:
        # Keep the destination up after the live stage's cancel, to ask it about it.
        good["exit-on-error"] = False
    seq.send("dst", command, good)
    seq.send("dst", command, good)
    seq.queries("dst")


def outgoing(seq: ProbeSequence) -> None:
    """migrate to unusable addresses, with every optional member, and by ``channels``."""
    command = "migrate"
    for side in ("src", "dst"):
        _set_caps(seq, side, ["events"], True)
    for uri in OUTGOING_URIS:
        seq.send("src", command, {"uri": uri})
        seq.send("src", "query-migrate")
    seq.hmp("src", "info migrate")
    for member in seq.members(command):
        if member["name"] in ("uri", "channels"):
            continue
        for value in seq.values.valid(member["type"], member["name"]):
            seq.send("src", command, {"uri": REFUSED, member["name"]: value})
        for value in seq.values.wrong_types(member["type"])[:2]:
            seq.send("src", command, {"uri": REFUSED, member["name"]: value})
    for channels in _channels(seq, command):
        seq.send("src", command, {"channels": channels})
    seq.send("src", command, {})
    if seq.member_type(command, "channels") is not None:
        seq.send("src", command, {"uri": REFUSED, "channels": _channels(seq, command)[0]})
    seq.queries("src")


def live(seq: ProbeSequence) -> None:
    """A migration to the destination held in ``pre-switchover``, commands meanwhile, a cancel.

    An idle ``-S`` guest migrates in milliseconds, and QEMU's own rate limit does not
    keep it in ``active`` for a predictable time; ``pause-before-switchover`` does.
    """
    _set_caps(seq, "src", ["pause-before-switchover"], True)
    seq.send("src", "migrate", {"uri": INCOMING})
    seq.queries("src", volatile=True)
    seq.queries("dst", volatile=True)
    _set_caps(seq, "src", ["events"], True)
    seq.send("src", "migrate", {"uri": INCOMING})
    seq.send("src", "migrate-set-parameters", {"downtime-limit": 301})
    seq.send("src", "migrate-continue", {"state": "active"})
    for command in ("migrate-pause", "migrate-start-postcopy"):
        seq.send("src", command)
    seq.send("src", "migrate-recover", {"uri": REFUSED})
    seq.send("src", "migrate_cancel")
    seq.queries("src", volatile=True)
    seq.queries("dst")


STAGES: tuple[Stage, ...] = (
    initial_queries,
    parameters,
    capabilities,
    other_commands,
    incoming,
    outgoing,
    live,
)


def generate(profile: Profile, seed: int = SEED) -> list[Probe]:
    seq = ProbeSequence(profile, seed)
    for stage in STAGES:
        stage(seq)
    return seq.probes
