"""Messages at QEMU's reader limits: 64 MiB of tokens, 2M tokens, a token past the lexer's cut.

``limits.jsonl`` holds what QEMU 7.2, 10.0 and 11.1 answered; its inputs are recipes
(``fakeqemu capture`` builds them), since each is 2 to 64 MiB.  The fake must answer
the same bytes.  Feeding 2M tokens through the fake takes seconds and QEMU reads its
monitor at about 0.5 MB/s, so the costly comparisons run with ``FAKEQEMU_LONG=1``
(``make test-long``): the token-count cases against the recordings, and the whole file
re-recorded from the live QEMU, plus a 64 MiB id echoed by both.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from fakeqemu import ThreadedFakeQemu
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.protocol.json_stream import MAX_TOKEN_SIZE
from fakeqemu.recorder.capture import capture_probes, running_qemu
from fakeqemu.server.endpoints import Endpoint
from tests.conformance.test_real_qemu import _real_qemu
from tests.support.recordings import RECORDINGS, VERSIONS, ProbeCase, mask_timestamps, probe_cases
from tests.support.strict import STRICT_HOOKS, make_fake

LONG = pytest.mark.skipif(
    os.environ.get("FAKEQEMU_LONG") != "1", reason="long run: FAKEQEMU_LONG=1 (make test-long)"
)
CAPS = b'{"execute":"qmp_capabilities"}\n'
#: What the server reads at a time: the fake sees big inputs in pieces, as served.
READ_SIZE = 65536
#: Cases whose input is millions of tokens: seconds each through the fake.
TOKEN_COUNT_CASES = {"token_count_at_limit", "token_count_over_limit"}


def _cases() -> list[object]:
    params: list[object] = []
    for version in VERSIONS:
        for case in probe_cases(version, "limits.jsonl"):
            marks = [pytest.mark.slow, LONG] if case.name in TOKEN_COUNT_CASES else []
            params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def test_every_release_has_the_same_limit_cases() -> None:
    names = [[case.name for case in probe_cases(v, "limits.jsonl")] for v in VERSIONS]
    assert names[0] == names[1] == names[2]
    assert {"token_size_at_limit", "token_count_over_limit"} <= set(names[0])


@pytest.mark.parametrize("case", _cases())
def test_the_fake_answers_as_qemu_did_at_its_limits(case: ProbeCase) -> None:
    fake = make_fake(FakeQemuConfig(profile=case.version, start_paused=True))
    session = fake.open_session()
    assert session.data_to_send() == case.greeting
    session.receive_data(CAPS)
    assert session.data_to_send() == b'{"return": {}}\r\n'
    replies = []
    for chunk in case.chunks:
        output = bytearray()
        for start in range(0, len(chunk), READ_SIZE):
            session.receive_data(chunk[start : start + READ_SIZE])
            output += session.data_to_send()
        replies.append(mask_timestamps(bytes(output)))
    fake.close_session(session)
    assert replies == [mask_timestamps(reply) for reply in case.replies]


@pytest.mark.real_qemu
@pytest.mark.slow
@LONG
def test_the_limit_cases_rerecord_identically(tmp_path: Path) -> None:
    binary, version = _real_qemu()
    stored = RECORDINGS / version / "limits.jsonl"
    fresh = tmp_path / "limits.jsonl"
    capture_probes(binary, stored, fresh)
    old = [json.loads(line) for line in stored.read_text().splitlines()]
    new = [json.loads(line) for line in fresh.read_text().splitlines()]
    assert [case["replies"] for case in new] == [case["replies"] for case in old]


@pytest.mark.real_qemu
@pytest.mark.slow
@LONG
def test_an_id_just_inside_the_size_limit_comes_back_alike(tmp_path: Path) -> None:
    """64 MiB echoed: too big to store, so compared live (the encoder's longest output)."""
    binary, version = _real_qemu()
    prefix, suffix = b'{"execute":"query-status","id":"', b'"}'
    # Tokens: { "execute" : "query-status" , "id" : STRING } = 31 bytes + the string.
    # Raw UTF-8 of 2 and 4 bytes, "/", and the escapes \\ \" \u00e9: 18 bytes a unit.
    unit = "x\u00e9\U0001f600/".encode() + rb"\\\"\u00e9"
    text = unit * ((MAX_TOKEN_SIZE - 31 - 2 - 64) // len(unit))
    request = prefix + text + suffix
    fake_path = str(tmp_path / "fake.sock")
    with (
        running_qemu(binary, "-m", "128", "-S") as qemu_path,
        ThreadedFakeQemu(
            FakeQemuConfig(profile=version, start_paused=True),
            [Endpoint("unix", path=fake_path)],
            hooks=STRICT_HOOKS,
        ),
    ):
        replies = [_exchange(path, request) for path in (qemu_path, fake_path)]
    assert len(replies[0]) > MAX_TOKEN_SIZE // 2
    assert replies[0] == replies[1]


def _exchange(path: str, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(900)
        sock.connect(path)
        received = bytearray()
        sock.sendall(CAPS)
        while received.count(b"\r\n") < 2:  # the greeting and {"return": {}}
            received += sock.recv(1 << 20)
        sock.sendall(request)
        while received.count(b"\r\n") < 3:
            received += sock.recv(1 << 20)
    return bytes(received)
