"""Where the shipped schemas live and how to read them (importlib.resources, no network)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES

#: Base of every schema's ``$id``.  ``.invalid`` (RFC 2606) can never resolve, so
#: no validator is tempted to fetch it: register the files, then refer to them.
BASE_URI = "https://fakeqemu.invalid/contracts/"

#: The profiles and shapes that have contracts: every release, as generated data
#: (``python -m fakeqemu.contracts.generate`` writes them for each).
PROFILES = PROFILE_NAMES

#: Events that have a schema of their own (every other event: the envelope only).
SPECIFIC_EVENTS = ("MIGRATION", "MIGRATION_PASS")


def schema_id(profile: str, shape: str, filename: str) -> str:
    return f"{BASE_URI}{profile}/{shape}/{filename}"


def package_root() -> Traversable:
    return resources.files("fakeqemu.contracts").joinpath("schemas")


def check_target(profile: str, shape: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"no contracts for profile {profile!r}; known: {', '.join(PROFILES)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")


@cache
def documents(profile: str, shape: str) -> dict[str, dict[str, Any]]:
    """The shipped schemas of one profile and shape, by file name."""
    check_target(profile, shape)
    folder = package_root().joinpath(profile, shape)
    loaded: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".json"):
            loaded[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    if not loaded:
        raise FileNotFoundError(
            f"no schemas shipped for {profile}/{shape}: run python -m fakeqemu.contracts.generate"
        )
    return loaded
