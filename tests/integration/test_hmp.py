"""human-monitor-command: QEMU's listings, its complaint for unknown commands, and the fake's."""

from __future__ import annotations

import json

import pytest

from fakeqemu.fake.config import FakeQemuConfig
from tests.support.recordings import RECORDINGS, VERSIONS
from tests.support.strict import make_fake


def hmp(version: str, line: str) -> str:
    fake = make_fake(FakeQemuConfig(profile=version, start_paused=True))
    session = fake.open_session()
    request = {"execute": "human-monitor-command", "arguments": {"command-line": line}}
    session.receive_data(b'{"execute":"qmp_capabilities"}' + json.dumps(request).encode())
    reply = session.data_to_send().split(b"\r\n")[2]
    fake.close_session(session)
    text: str = json.loads(reply)["return"]
    return text


@pytest.mark.parametrize("version", VERSIONS)
def test_help_and_info_list_what_the_release_has(version: str) -> None:
    recorded = json.loads((RECORDINGS / version / "hmp.json").read_text())
    assert hmp(version, "help") == recorded["help"]
    assert hmp(version, "info") == recorded["info"]


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_commands_get_qemus_words(version: str) -> None:
    # Observed on real 7.2, 10.0 and 11.1.
    assert hmp(version, "info foo") == "unknown command: 'info foo'\r\n"
    assert hmp(version, "foo bar") == "unknown command: 'foo'\r\n"
    assert hmp(version, "") == ""
    assert hmp(version, "  info   status  ") == "VM status: paused (prelaunch)\r\n"


def test_a_real_command_the_fake_lacks_says_so() -> None:
    assert hmp("11.1", "info name") == "fakeqemu: HMP command 'info name' is not implemented\r\n"
