"""``fakeqemu profiles``: the releases a fake can imitate."""

from __future__ import annotations

from fakeqemu.profiles import PROFILES
from fakeqemu.vocabulary import version_text


def list_profiles() -> int:
    for profile in PROFILES.values():
        print(
            f"{profile.name:6} QEMU {version_text(profile.version)}  {profile.version['package']}"
        )
    return 0
