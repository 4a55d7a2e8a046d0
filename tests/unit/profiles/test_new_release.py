"""Adding a release is a data capture plus one catalog entry: a throwaway one, served.

The capture is the real 11.1's (``tests/data/recordings/11.1``) renamed "12.0" with its
own version; ``profiles/build.py`` turns it into profile data, one catalog entry
(``QEMU_11_1.extend(name=..., data_dir=...)``) in a catalog of the test's own makes it
a release, and a fake of it is served over a unix socket.  fakeqemu's own catalog and
files are not touched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import trio

from fakeqemu import FakeQemuConfig, serve
from fakeqemu.profiles.build import build
from fakeqemu.profiles.catalog import CATALOG, QEMU_11_1
from fakeqemu.server.endpoints import Endpoint
from tests.support.qmp_client import Client
from tests.support.recordings import RECORDINGS
from tests.support.strict import make_fake

VERSION = {"qemu": {"major": 12, "minor": 0, "micro": 1}, "package": "throwaway 12.0.1"}


def capture_a_release(tmp_path: Path) -> Path:
    """A capture of "12.0" (11.1's, with its own greeting), built into profile data."""
    capture = tmp_path / "recordings" / "12.0"
    capture.mkdir(parents=True)
    for name in ("queries.json", "hmp.json"):
        shutil.copy(RECORDINGS / "11.1" / name, capture / name)
    queries = json.loads((capture / "queries.json").read_text())
    greeting = json.loads(queries["greeting"])
    greeting["QMP"]["version"] = VERSION
    queries["greeting"] = json.dumps(greeting)
    (capture / "queries.json").write_text(json.dumps(queries))
    build(tmp_path / "recordings", tmp_path / "data")
    return tmp_path / "data" / "12.0"


# No contracts were generated for the throwaway release (contracts/generate.py would).
@pytest.mark.no_strict_contracts
async def test_a_release_from_a_capture_and_one_catalog_entry_serves(tmp_path: Path) -> None:
    data = capture_a_release(tmp_path)
    catalog = CATALOG.with_profile(QEMU_11_1.extend(name="12.0", data_dir=str(data)))
    fake = make_fake(FakeQemuConfig(profile="12.0"), catalog=catalog)
    path = str(tmp_path / "m.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        client = await Client.unix(path)
        assert await client.line() == {"QMP": {"version": VERSION, "capabilities": ["oob"]}}
        assert await client.command("qmp_capabilities") == {}
        assert await client.command("query-version") == VERSION
        assert await client.command("query-status") == {"status": "running", "running": True}
        assert len(await client.command("query-qmp-schema")) == len(QEMU_11_1.introspection)
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert "12.0" in catalog
    assert "12.0" not in CATALOG, "fakeqemu's own catalog is left as it was"
