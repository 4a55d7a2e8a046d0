"""``fakeqemu capture libvirt`` against the installed QEMU gives back the stored data.

The profile data (``fakeqemu/profiles/data/VERSION/emulator.json.gz``) and the
recorded conversations (``tests/data/recordings/VERSION/libvirt.jsonl``) are what the
fake answers and is compared with; re-recording them from the live binary must not
change them.  ``FAKEQEMU_REAL_QEMU`` picks the binary (default: the one on PATH).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from fakeqemu.profiles import get_profile
from fakeqemu.profiles.emulator_data import FILENAME
from fakeqemu.recorder.libvirt.capture import CONVERSATIONS, capture_emulator
from tests.support.libvirt.real_qemu import real_emulator, version_of
from tests.support.libvirt_conversations import mask, variants
from tests.support.recordings import RECORDINGS

pytestmark = [pytest.mark.real_qemu, pytest.mark.slow]


def _binary(tmp_path: Path) -> tuple[str, str]:
    chosen = os.environ.get("FAKEQEMU_REAL_QEMU") or shutil.which("qemu-system-x86_64")
    if chosen is None:
        pytest.skip("no real QEMU installed")
    version = version_of(chosen)
    if version is None or not (RECORDINGS / version).is_dir():
        pytest.skip(f"{chosen} is no release fakeqemu imitates")
    # 10.0 and 11.1 as installed here need their wrappers (see tests/libvirt/real_qemu.py).
    return real_emulator(version, tmp_path) or chosen, version


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("capture", numbered=True)
    binary, version = _binary(tmp)
    capture_emulator(binary, tmp / "out")
    return version, tmp / "out"


def _data(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return data


def test_profile_data_is_unchanged(recorded: tuple[str, Path]) -> None:
    version, out = recorded
    fresh, stored = _data(out / FILENAME), get_profile(version).emulator.raw
    for key in ("cli", "machine", "machine-none", "errors", "iothread", "cpu-models"):
        assert fresh[key] == stored[key], key
    # Only modes recorded on both sides compare (a KVM pass needs a usable /dev/kvm).
    for mode in fresh["probe"].keys() & stored["probe"].keys():
        assert fresh["probe"][mode] == stored["probe"][mode], mode


def test_conversations_are_unchanged(recorded: tuple[str, Path]) -> None:
    """The same requests and, masked as the fake's comparison masks them, the same lines."""
    version, out = recorded
    fresh_root = out / "fresh"
    (fresh_root / version).mkdir(parents=True)
    shutil.copy(out / CONVERSATIONS, fresh_root / version / CONVERSATIONS)
    fresh = {variant.name: variant for variant in variants(version, fresh_root)}
    stored = {variant.name: variant for variant in variants(version)}
    assert fresh.keys() == stored.keys()
    for name, variant in stored.items():
        again = fresh[name]
        assert variant.greeting == again.greeting
        assert len(variant.exchanges) == len(again.exchanges), name
        for before, after in zip(variant.exchanges, again.exchanges, strict=True):
            assert (before.execute, before.arguments) == (after.execute, after.arguments)
            old = b"".join(
                mask(before.execute, line, variant.monitor_path) for line in before.lines
            )
            new = b"".join(mask(after.execute, line, again.monitor_path) for line in after.lines)
            assert old == new, (name, before.execute, before.arguments)
