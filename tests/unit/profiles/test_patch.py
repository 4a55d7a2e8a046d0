"""``query-qmp-schema`` from the fake: the release's own in the old shape, patched in the new."""

from __future__ import annotations

import json

import pytest

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.profiles import get_profile
from fakeqemu.profiles.patch import PATCH_OPTIONAL_STATS, introspection_for
from tests.support.recordings import VERSIONS, queries
from tests.support.strict import make_fake


def ask(version: str, shape: str) -> bytes:
    session = make_fake(FakeQemuConfig(profile=version, shape=shape)).open_session()
    session.data_to_send()
    session.receive_data(b'{"execute":"qmp_capabilities"}{"execute":"query-qmp-schema"}')
    caps, schema, rest = session.data_to_send().split(b"\r\n")
    assert caps == b'{"return": {}}'
    assert rest == b""
    return schema + b"\r\n"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_old_shape_is_the_recording_byte_for_byte(version: str) -> None:
    assert ask(version, "old") == queries(version)["query-qmp-schema"].encode()


@pytest.mark.parametrize("version", VERSIONS)
def test_the_new_shape_marks_the_patch_members_as_qemu_does(version: str) -> None:
    old, new = ask(version, "old"), ask(version, "new")
    for name in PATCH_OPTIONAL_STATS:
        assert f'{{"name": "{name}", "type": "int"}}'.encode() in old
        assert f'{{"name": "{name}", "default": null, "type": "int"}}'.encode() in new
    # Nothing else differs: 8 insertions of `"default": null, `.
    assert len(new) - len(old) == len(PATCH_OPTIONAL_STATS) * len(b'"default": null, ')
    assert json.loads(new)["return"] == introspection_for(get_profile(version), "new")


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        introspection_for(get_profile("11.1"), "newer")
