"""libvirt's capability probe, answered from the recordings byte for byte.

Every request ``fakeqemu capture libvirt`` recorded, in each accelerator mode it was
recorded in, gets exactly the line real QEMU wrote; requests about names nobody
recorded get QEMU's own error for an unknown name, or a fakeqemu error saying that
nothing was recorded for a name QEMU knows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakeqemu import FakeQemu, FakeQemuConfig
from fakeqemu.model.hardware import Hardware
from fakeqemu.profiles import get_profile
from tests.support.recordings import VERSIONS
from tests.support.strict import make_fake


def _ask(fake: FakeQemu, command: str, arguments: dict[str, Any] | None = None) -> bytes:
    session = fake.open_session(greeting_sent=True)
    session.receive_data(b'{"execute": "qmp_capabilities"}')
    session.data_to_send()
    request: dict[str, Any] = {"execute": command}
    if arguments is not None:
        request["arguments"] = arguments
    session.receive_data(json.dumps(request).encode())
    return session.data_to_send()


def _fake(version: str, mode: str) -> FakeQemu:
    machine = Hardware(machine="none", kvm=mode == "kvm")
    return make_fake(FakeQemuConfig(profile=version, start_paused=True), hardware=machine)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_recorded_probe_reply_is_answered_byte_for_byte(version: str) -> None:
    data = get_profile(version).emulator
    checked = 0
    for mode in data.probe_modes():
        fake = _fake(version, mode)
        for key, reply in data.raw["probe"][mode].items():
            command, _, arguments = key.partition(" ")
            got = _ask(fake, command, json.loads(arguments) if arguments else None)
            assert got.decode() == reply, key
            checked += 1
    assert checked >= 49


@pytest.mark.parametrize("version", VERSIONS)
def test_query_kvm_follows_the_accelerator(version: str) -> None:
    for mode, enabled in (("kvm", b"true"), ("tcg", b"false")):
        reply = _ask(_fake(version, mode), "query-kvm")
        assert reply == b'{"return": {"enabled": %s, "present": true}}\r\n' % enabled


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_names_get_qemus_errors(version: str) -> None:
    fake = _fake(version, "tcg")
    assert _ask(fake, "device-list-properties", {"typename": "no-such-device"}) == (
        b'{"error": {"class": "DeviceNotFound", "desc": "Device \'no-such-device\' not found"}}\r\n'
    )
    assert _ask(fake, "qom-list-properties", {"typename": "no-such-class"}) == (
        b'{"error": {"class": "DeviceNotFound", "desc": "Class \'no-such-class\' not found"}}\r\n'
    )
    expansion = {"type": "static", "model": {"name": "no-such-cpu"}}
    assert _ask(fake, "query-cpu-model-expansion", expansion) == (
        b'{"error": {"class": "GenericError", "desc": "CPU model \'no-such-cpu\' not found"}}\r\n'
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_a_known_name_nobody_recorded_says_so(version: str) -> None:
    reply = json.loads(_ask(_fake(version, "tcg"), "device-list-properties", {"typename": "e1000"}))
    assert reply["error"]["class"] == "GenericError"
    assert reply["error"]["desc"].startswith("fakeqemu has no recording of device-list-properties")


def test_arguments_are_matched_whatever_their_order() -> None:
    fake = _fake("7.2", "tcg")
    forward = {"type": "static", "model": {"name": "max", "props": {"migratable": False}}}
    backward = {"model": {"props": {"migratable": False}, "name": "max"}, "type": "static"}
    assert _ask(fake, "query-cpu-model-expansion", forward) == _ask(
        fake, "query-cpu-model-expansion", backward
    )
