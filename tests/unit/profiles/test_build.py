"""The profiles' recorded data is exactly what the recordings regenerate."""

from __future__ import annotations

from pathlib import Path

from fakeqemu.profiles.build import DATA_DIR, build
from tests.support.recordings import RECORDINGS, VERSIONS


def test_regenerating_profile_data_changes_nothing(tmp_path: Path) -> None:
    written = build(RECORDINGS, tmp_path)
    assert len(written) == 2 * len(VERSIONS)
    for path in written:
        shipped = DATA_DIR / path.relative_to(tmp_path)
        assert path.read_bytes() == shipped.read_bytes(), f"{shipped} is stale: rebuild it"
