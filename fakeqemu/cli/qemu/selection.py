"""Which fake a QEMU command line gets: profile, shape, backend, speed.

libvirt clears the emulator's environment, but a domain's ``<qemu:commandline>``
passes extra arguments and variables, and the binary's own name is the same for
every domain of a host.  So, from the weakest to the strongest:

* the defaults of :data:`fakeqemu.fake.options.OPTIONS`, except the release: 7.2
  (libvirt 9.0, Debian 12's, pairs with Debian 12's QEMU 7.2; it cannot migrate 11.1);
* the name the fake runs under: ``fakeqemu-system-x86_64-10.0`` (a symlink) is 10.0;
* ``FAKEQEMU_PROFILE``, ``FAKEQEMU_SHAPE``, ``FAKEQEMU_BACKEND``, ``FAKEQEMU_SEED``,
  ``FAKEQEMU_SPEED``, ``FAKEQEMU_VERBOSE`` and ``FAKEQEMU_BACKEND_OPTS`` (``k=v,k=v``)
  in the environment (``<qemu:env>``);
* ``-fakeqemu profile=10.0,shape=new,backend=model,opt.zero-share=0,speed=2,verbose=on``
  on the command line (``<qemu:arg>``).

Standard library only: the profile decides how the rest of the command line is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.cli.qemu.qemu_opts import OptsError, on_off, parse_opts
from fakeqemu.fake.options import OPTIONS
from fakeqemu.vocabulary import PROFILE_NAMES

#: The release a fake started as QEMU imitates unless told otherwise (see above).
EMULATOR_DEFAULT_PROFILE = "7.2"
_SUFFIX = re.compile(r"-(\d+\.\d+)$")
#: The settings a domain may choose, each an option of fakeqemu.fake.options.
_CHOSEN = ("profile", "shape", "backend", "seed", "speed")
_KEYS = (*_CHOSEN, "verbose")


@dataclass
class Selection:
    profile: str = EMULATOR_DEFAULT_PROFILE
    shape: str = OPTIONS["shape"].default
    backend: str = OPTIONS["backend"].default
    backend_options: dict[str, str] = field(default_factory=dict)
    seed: int | None = OPTIONS["seed"].default
    speed: float = OPTIONS["speed"].default
    verbose: bool = False


def profile_from_name(program: str) -> str | None:
    match = _SUFFIX.search(os.path.basename(program))
    if match is not None and match[1] in PROFILE_NAMES:
        return match[1]
    return None


def fakeqemu_options(argv: list[str]) -> dict[str, str]:
    """Every ``-fakeqemu`` option's settings, read before the rest of the command line."""
    options: dict[str, str] = {}
    for index, token in enumerate(argv[:-1]):
        if token in ("-fakeqemu", "--fakeqemu"):
            options.update(parse_opts(argv[index + 1]))
    return options


def select(program: str, environ: Mapping[str, str], argv: list[str]) -> Selection:
    """Raises :class:`OptsError` naming a bad setting."""
    settings: dict[str, str] = {}
    named = profile_from_name(program)
    if named is not None:
        settings["profile"] = named
    for key in _KEYS:
        value = environ.get(f"FAKEQEMU_{key.upper()}")
        if value is not None:
            settings[key] = value
    backend_options = dict(parse_opts(environ.get("FAKEQEMU_BACKEND_OPTS", "")))
    for key, value in fakeqemu_options(argv).items():
        if key.startswith("opt."):
            backend_options[key[4:]] = value
        elif key in _KEYS:
            settings[key] = value
        else:
            known = ", ".join((*_KEYS, "opt.NAME"))
            raise OptsError(f"-fakeqemu: unknown setting '{key}' (known: {known})")
    return _selection(settings, backend_options)


def _selection(settings: dict[str, str], backend_options: dict[str, str]) -> Selection:
    chosen: dict[str, Any] = {}
    for key in _CHOSEN:
        if key not in settings:
            continue
        option = OPTIONS[key]
        try:
            chosen[key] = option.value(settings[key])
        except ValueError as error:
            raise OptsError(f"{key}: {error}") from None
        if option.choices is not None and chosen[key] not in option.choices:
            raise OptsError(
                f"unknown {key} '{chosen[key]}'; expected {' or '.join(option.choices)}"
            )
    profile = chosen.get("profile", EMULATOR_DEFAULT_PROFILE)
    if profile not in PROFILE_NAMES:
        raise OptsError(f"unknown profile '{profile}'; known profiles: {', '.join(PROFILE_NAMES)}")
    if chosen.get("speed", 1.0) <= 0:
        raise OptsError("speed must be positive")
    verbose = on_off(settings.get("verbose", "off"), "verbose")
    return Selection(backend_options=backend_options, verbose=verbose, **chosen)
