"""``fakeqemu contracts diff``: the patch exactly, and the real drift between releases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakeqemu.contracts.diff import diff
from fakeqemu.profiles.patch import PATCH_OPTIONAL_STATS

README = Path(__file__).resolve().parents[3] / "README.md"

#: What the seed patch changes, and nothing else (lines stripped of alignment).
PATCH = [
    "contracts 11.1/old -> 11.1/new",
    "query-migrate return (MigrationInfo):",
    *[f"ram.{name} made optional" for name in PATCH_OPTIONAL_STATS],
    "query-migrate reply of a source:",
    "ram.dirty-pages-rate required, = 0 -> absent (status completed)",
    "query-migrate reply of a destination:",
    "ram absent -> required (status completed)",
    *[
        f"ram.{name} absent -> required{', = 0' if name == 'remaining' else ''} (status completed)"
        for name in (
            "transferred",
            "remaining",
            "total",
            "duplicate",
            "normal",
            "normal-bytes",
            "mbps",
            "page-size",
            "pages-per-second",
        )
    ],
    "total-time absent -> optional, >= 1 (status completed)",
    "MIGRATION event: no change",
    "MIGRATION_PASS event: no change",
]


def squeeze(lines: list[str]) -> list[str]:
    return [re.sub(r"\s+", " ", line.strip()) for line in lines]


def test_old_against_new_is_exactly_the_patch() -> None:
    assert squeeze(diff("11.1/old", "11.1/new")) == PATCH


def test_a_contract_against_itself_has_no_changes() -> None:
    assert squeeze(diff("10.0/new", "10.0/new")) == [
        "contracts 10.0/new -> 10.0/new",
        "query-migrate return (MigrationInfo): no change",
        "query-migrate reply of a source: no change",
        "query-migrate reply of a destination: no change",
        "MIGRATION event: no change",
        "MIGRATION_PASS event: no change",
    ]


def test_10_0_to_11_1_shows_the_real_drift() -> None:
    lines = squeeze(diff("10.0/old", "11.1/old"))
    assert "status enum values added: postcopy-device, failing" in lines
    assert "remaining added (optional integer)" in lines
    assert "postcopy-latency added (optional integer, unstable)" in lines
    assert "data.status enum values added: postcopy-device, failing" in lines
    assert "status failing added, rule source-unclassified" in lines
    assert not any("made optional" in line for line in lines)


def test_7_2_to_10_0_shows_what_9_1_removed() -> None:
    lines = squeeze(diff("7.2/old", "10.0/old"))
    for removed in ("ram.skipped removed", "disk removed", "compression removed"):
        assert removed in lines
    assert not any(line.startswith("disk.") for line in lines), "members of a removed member"


def test_a_target_needs_profile_and_shape() -> None:
    with pytest.raises(ValueError, match="PROFILE/SHAPE"):
        diff("11.1", "11.1/new")


def test_the_readme_shows_the_current_diff() -> None:
    text = README.read_text()
    section = text[text.index("## Contracts") :]
    block = section[section.index("```text\n") + len("```text\n") :]
    block = block[: block.index("```")]
    assert block.splitlines() == [
        "$ fakeqemu contracts diff 11.1/old 11.1/new",
        *diff("11.1/old", "11.1/new"),
    ]
