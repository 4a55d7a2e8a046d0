"""What every byte a QMP server writes must look like, whatever it was sent."""

from __future__ import annotations

import re

from fakeqemu.protocol.json_stream import parse_json

#: QEMU prints an overflowed double as C's printf does: a bare `inf` (observed on 7.2
#: and 11.1 for `"id": 1e9999`), which is not JSON; read it back as a number.
_BARE_INF = re.compile(rb"(?:(?<=[:,] )|(?<=\[))(-?)inf(?=[,}\]])")

ENVELOPES = (
    {"return"},
    {"error"},
    {"QMP"},
    {"event", "timestamp"},
    {"event", "timestamp", "data"},
)


def check_well_formed(output: bytes) -> int:
    """Assert ``output`` is whole QMP messages, each on a ``\\r\\n`` line; return how many.

    Read with the fake's own reader: an echoed id may nest 1,023 levels deep.
    """
    assert output.endswith(b"\r\n") or not output, output[-200:]
    lines = output.split(b"\r\n")[:-1]
    for line in set(lines):  # 7.2 answers an over-deep message with a thousand equal errors
        message = parse_json(_BARE_INF.sub(rb"\g<1>1e999", line))
        assert isinstance(message, dict), line[:200]
        assert set(message) - {"id"} in ENVELOPES, line[:200]
        if "error" in message:
            error = message["error"]
            assert isinstance(error, dict)
            assert set(error) == {"class", "desc"}, line[:200]
    return len(lines)
