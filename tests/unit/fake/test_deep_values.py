"""Code outside the monitor that handles client values copes with QEMU's 1,023 levels too.

Journals compare and print arguments, cassettes renumber and match ids, replay compares
requests: each did it with ``json``/``==``, which recurse and fail past ~1,000 levels.
"""

from __future__ import annotations

from typing import Any

import pytest

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.journal import Journal
from fakeqemu.protocol.cassette import IdRenumbering, encode_id
from fakeqemu.protocol.cassette_matchers import Matcher, compare_requests
from fakeqemu.protocol.values import values_equal
from tests.support.strict import make_fake

DEPTH = 1021  # inside "arguments" inside the message: QEMU's limit of 1,024 levels


def nested(depth: int, leaf: Any = None) -> Any:
    value: Any = [] if leaf is None else leaf
    for _ in range(depth):
        value = [value]
    return value


def test_values_compare_at_any_depth() -> None:
    assert values_equal(nested(5000), nested(5000))
    assert not values_equal(nested(5000), nested(5001))
    assert values_equal({"a": nested(3000, 1), "b": 2}, {"b": 2, "a": nested(3000, 1.0)})
    assert not values_equal(nested(3000, 1), nested(3000, 1.0), strict_types=True)
    assert not values_equal(nested(3000, True), nested(3000, 1), strict_types=True)
    assert not values_equal([1], {"a": 1})
    assert not values_equal([1], (1,))


def test_a_journal_records_compares_and_describes_deep_arguments() -> None:
    fake = make_fake(FakeQemuConfig(profile="11.1"))
    journal = Journal.attach(fake)
    session = fake.open_session()
    session.receive_data(b'{"execute":"qmp_capabilities"}')
    value = b"[" * DEPTH + b"1" + b"]" * DEPTH
    session.receive_data(
        b'{"execute":"qom-set","arguments":{"path":"/","property":"p","value":%s}}' % value
    )
    fake.close_session(session)
    (call,) = journal.assert_called("qom-set", with_arguments={"value": nested(DEPTH, 1)})
    assert call.describe().startswith('qom-set {"path": "/", "property": "p", "value": [[[')
    with pytest.raises(AssertionError, match="similar commands received"):
        journal.assert_called("qom-set", with_arguments={"value": nested(DEPTH, 2)})


def test_renumbered_ids_match_replies_however_deep_or_reprinted() -> None:
    ids = IdRenumbering()
    deep = b"[" * 1023 + b"]" * 1023
    assert ids.request(b'{"execute":"query-status","id":%s}' % deep) == (
        b'{"execute":"query-status","id":1}'
    )
    # QEMU prints 1.0 as 1 and keys in its own order; the reply still finds its request.
    assert ids.request(b'{"execute":"stop","id":1.0}') == b'{"execute":"stop","id":2}'
    assert ids.request(b'{"execute":"cont","id":{"b":1,"a":2}}') == b'{"execute":"cont","id":3}'
    assert ids.reply(b'{"return": {}, "id": %s}\r' % encode_id({"b": 1, "a": 2})) == (
        b'{"return": {}, "id": 3}\r'
    )
    assert ids.reply(b'{"return": {}, "id": 1}\r') == b'{"return": {}, "id": 2}\r'
    assert ids.reply(b'{"return": {}, "id": %s}\r' % deep) == b'{"return": {}, "id": 1}\r'


def test_replay_compares_deep_requests_as_values() -> None:
    deep = b"[" * 1023 + b"]" * 1023
    recorded = b'{"execute":"query-status","id":%s}' % deep
    got = b'{ "id" : %s, "execute" : "query-status" }' % deep
    assert compare_requests(recorded, got) is None
    assert compare_requests(recorded, b'{"execute":"query-status","id":[%s]}' % deep[1:]) == ""
    assert compare_requests(recorded, b'{"execute":"query-status","id":7}', ignore_ids=True) is None
    assert (
        compare_requests(
            b'{"execute":"x","arguments":{"a":1}}', b'{"execute":"x","arguments":{"a":1.0}}'
        )
        == ""
    )
    # A matcher copies both requests before it takes out what it accepts: at any depth too.
    matcher = Matcher.parse("arguments.uri")
    deep_args = b'{"execute":"x","arguments":{"uri":"a","d":%s}}' % deep[2:-2]
    other = b'{"execute":"x","arguments":{"uri":"b","d":%s}}' % deep[2:-2]
    assert compare_requests(deep_args, other, matchers=[matcher]) is None
