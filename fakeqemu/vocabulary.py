"""The words every layer shares: releases, shapes, roles, sides; standard library only.

``fakeqemu serve`` reads these on its way to the greeting, before anything heavy
is imported, and so do the command line, the pytest plugin and the contracts.
The releases are the folders of recorded data (``fakeqemu/profiles/data/<name>/``,
written by :mod:`fakeqemu.profiles.build`): the data is the fact, this module only
lists it.  (``os.path``, not pathlib: pathlib is slow to import.)
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from typing import Any

#: Where each release's recorded data lives.
DATA_DIR = os.path.join(os.path.dirname(__file__), "profiles", "data")


def _release_order(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split("."))


#: The releases fakeqemu imitates, oldest first: one folder of recorded data each.
PROFILE_NAMES: tuple[str, ...] = tuple(sorted(os.listdir(DATA_DIR), key=_release_order))
#: The release a fake imitates unless told otherwise: the newest.
DEFAULT_PROFILE = PROFILE_NAMES[-1]


class Shape(StrEnum):
    """What ``query-migrate`` looks like on a completed destination."""

    #: Every release as shipped: ``{"status": "completed"}``.
    OLD = "old"
    #: With the seed patch: ``total-time`` and ``ram`` too (fakeqemu.profiles.patch).
    NEW = "new"


class Role(StrEnum):
    """Which end of a migration a fake is: a running guest, or one started ``-incoming``."""

    SOURCE = "source"
    DESTINATION = "destination"


SHAPES: tuple[str, ...] = tuple(Shape)
ROLES: tuple[str, ...] = tuple(Role)
DEFAULT_SHAPE = Shape.OLD
#: A recorded conversation's sides (``src``, ``dst``) and the role each played.
SIDE_ROLES: dict[str, Role] = {"src": Role.SOURCE, "dst": Role.DESTINATION}
#: The side a role is recorded as (the inverse of :data:`SIDE_ROLES`).
ROLE_SIDES: dict[Role, str] = {role: side for side, role in SIDE_ROLES.items()}


def qemu_version(recorded: dict[str, Any]) -> dict[str, Any]:
    """``query-version``'s answer (and the greeting's ``version``), in QAPI member order,
    from a release's ``recorded.json``."""
    qemu = recorded["version"]["qemu"]
    return {
        "qemu": {"major": qemu["major"], "minor": qemu["minor"], "micro": qemu["micro"]},
        "package": recorded["version"]["package"],
    }


def version_text(version: dict[str, Any]) -> str:
    """``11.1.3``: a :func:`qemu_version` as QEMU prints it (``QEMU 11.1.3``)."""
    qemu = version["qemu"]
    return f"{qemu['major']}.{qemu['minor']}.{qemu['micro']}"


def recorded_version(profile: str) -> dict[str, Any]:
    """:func:`qemu_version` of a release, read from its data alone (no profile built)."""
    with open(os.path.join(DATA_DIR, profile, "recorded.json"), encoding="utf-8") as file:
        return qemu_version(json.load(file))
