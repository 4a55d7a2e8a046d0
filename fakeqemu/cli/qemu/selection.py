"""Which fake a QEMU command line gets: profile, shape, backend.

libvirt clears the emulator's environment, but a domain's ``<qemu:commandline>``
passes extra arguments and variables, and the binary's own name is the same for
every domain of a host.  So, from the weakest to the strongest:

* the default: profile 7.2, shape ``old``, backend ``model``;
* the name the fake runs under: ``fakeqemu-system-x86_64-10.0`` (a symlink) is 10.0;
* ``FAKEQEMU_PROFILE``, ``FAKEQEMU_SHAPE``, ``FAKEQEMU_BACKEND``,
  ``FAKEQEMU_BACKEND_OPTS`` (``k=v,k=v``), ``FAKEQEMU_SEED``, ``FAKEQEMU_SPEED``,
  ``FAKEQEMU_VERBOSE`` in the environment (``<qemu:env>``);
* ``-fakeqemu profile=10.0,shape=new,backend=model,opt.zero-share=0,speed=2,verbose=on``
  on the command line (``<qemu:arg>``).

Standard library only: the profile decides how the rest of the command line is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from fakeqemu.cli.qemu.qemu_opts import OptsError, on_off, parse_opts
from fakeqemu.vocabulary import PROFILE_NAMES

DEFAULT_PROFILE = "7.2"
_SUFFIX = re.compile(r"-(\d+\.\d+)$")
_KEYS = ("profile", "shape", "backend", "seed", "speed", "verbose")


@dataclass
class Selection:
    profile: str = DEFAULT_PROFILE
    shape: str = "old"
    backend: str = "model"
    backend_options: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    speed: float = 1.0
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
            raise OptsError(
                f"-fakeqemu: unknown setting '{key}' (known: {', '.join(_KEYS)}, opt.NAME)"
            )
    return _selection(settings, backend_options)


def _selection(settings: dict[str, str], backend_options: dict[str, str]) -> Selection:
    selection = Selection(backend_options=backend_options)
    profile = settings.get("profile", DEFAULT_PROFILE)
    if profile not in PROFILE_NAMES:
        raise OptsError(f"unknown profile '{profile}'; known profiles: {', '.join(PROFILE_NAMES)}")
    selection.profile = profile
    shape = settings.get("shape", "old")
    if shape not in ("old", "new"):
        raise OptsError(f"unknown shape '{shape}'; expected old or new")
    selection.shape = shape
    selection.backend = settings.get("backend", "model")
    try:
        if "seed" in settings:
            selection.seed = int(settings["seed"])
        selection.speed = float(settings.get("speed", "1"))
    except ValueError as error:
        raise OptsError(str(error)) from None
    if selection.speed <= 0:
        raise OptsError("speed must be positive")
    selection.verbose = on_off(settings.get("verbose", "off"), "verbose")
    return selection
