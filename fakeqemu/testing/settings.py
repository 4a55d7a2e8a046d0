"""How the pytest fixtures start their fakes: a configuration and the fixtures' own fields."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.options import CONFIG_OPTIONS, FIXTURE_OPTIONS, OPTIONS, SPEED
from fakeqemu.server.endpoints import Endpoint

_FIXTURE_FIELDS = frozenset(option.name for option in (*FIXTURE_OPTIONS, SPEED))


@dataclass(frozen=True)
class FakeSettings:
    """How a fixture starts its fakes: a configuration, and what the fixtures add to it.

    Every field is a row of :mod:`fakeqemu.fake.options` (the marker's keywords are
    those rows' names); :meth:`from_keywords` reads them as the marker gives them.
    """

    #: The fakes' configuration; ``incoming`` is set per role.
    base: FakeQemuConfig = field(default_factory=FakeQemuConfig)
    #: ``source``: a running guest; ``destination``: started with ``--incoming defer``.
    role: str = OPTIONS["role"].default
    #: Where the monitor listens: a unix socket, or TCP on a free loopback port.
    monitor: str = OPTIONS["monitor"].default
    #: Threaded fakes only: how much faster than real time their clock runs.
    speed: float = SPEED.default

    def __post_init__(self) -> None:
        for option in FIXTURE_OPTIONS:
            value = getattr(self, option.name)
            if option.choices is not None and value not in option.choices:
                raise ValueError(
                    f"unknown {option.name} {value!r}; expected one of {', '.join(option.choices)}"
                )
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")

    @classmethod
    def from_keywords(cls, **keywords: Any) -> FakeSettings:
        """Settings from the marker's keywords: any field of FakeQemuConfig but
        ``incoming``, and the fixtures' own; text is read as the command line reads it
        (``memory="4G"``)."""
        values = {name: OPTIONS[name].value(value) for name, value in keywords.items()}
        own = {name: values.pop(name) for name in list(values) if name in _FIXTURE_FIELDS}
        return cls(FakeQemuConfig(**values), **own)

    def replace(self, **keywords: Any) -> FakeSettings:
        """These settings with ``keywords`` changed, as :meth:`from_keywords` reads them."""
        current = {
            o.name: getattr(self.base, o.name) for o in CONFIG_OPTIONS if o.name != "incoming"
        }
        current |= {name: getattr(self, name) for name in _FIXTURE_FIELDS}
        return FakeSettings.from_keywords(**{**current, **keywords})

    @property
    def profile(self) -> str:
        return self.base.profile

    @property
    def shape(self) -> str:
        return self.base.shape

    def config(self, role: str) -> FakeQemuConfig:
        return replace(self.base, incoming="defer" if role == "destination" else None)

    def endpoint(self, directory: str, stem: str) -> Endpoint:
        if self.monitor == "tcp":
            return Endpoint("tcp", host="127.0.0.1", port=0)
        return Endpoint("unix", path=os.path.join(directory, f"{stem}.sock"))
