"""Every configuration field, declared once: default, help, command-line flag, parser.

:class:`~fakeqemu.fake.config.FakeQemuConfig` takes its fields from
:data:`CONFIG_OPTIONS`; ``fakeqemu serve``'s arguments, the pytest marker's keywords
and the marker's help line are derived from the same rows (with :data:`SPEED` and
the fixtures' own :data:`FIXTURE_OPTIONS`).  Standard library only: ``fakeqemu serve``
builds its parser from here before its greeting.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from fakeqemu.sizes import parse_memory
from fakeqemu.vocabulary import DEFAULT_PROFILE, DEFAULT_SHAPE, ROLES, SHAPES, Role

#: How an option reads its command-line text.
VALUE, SWITCH, PAIRS = "value", "switch", "pairs"


def parse_pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (a backend option)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return key, value


class Option:
    """One configuration field.

    A plain class rather than a NamedTuple or a dataclass: making either costs
    ``fakeqemu serve`` time before its greeting.
    """

    __slots__ = (
        "choices",
        "default",
        "flags",
        "group",
        "help",
        "kind",
        "metavar",
        "name",
        "parse",
        "shown",
    )

    def __init__(
        self,
        name: str,
        default: Any,
        help: str,
        flags: tuple[str, ...] = (),
        *,
        parse: Callable[[str], Any] | None = None,
        metavar: str | None = None,
        choices: tuple[str, ...] | None = None,
        kind: str = VALUE,
        group: str | None = None,
        shown: str | None = None,
    ) -> None:
        self.name = name
        self.default = default
        self.help = help
        #: Its flags on ``fakeqemu serve``; none: not on the command line.
        self.flags = flags
        #: From text (a command-line argument, a marker's string) to the value.
        self.parse = parse
        self.metavar = metavar
        self.choices = choices
        #: VALUE: one argument; SWITCH: the flag alone sets it; PAIRS: repeated KEY=VALUE.
        self.kind = kind
        #: The argument group of ``fakeqemu serve --help`` it is listed in.
        self.group = group
        #: The default as the command line spells it, where that differs from its value.
        self.shown = str(default) if shown is None else shown

    def __repr__(self) -> str:
        return f"Option({self.name!r}, {self.default!r})"

    def value(self, given: Any) -> Any:
        """``given`` as the field holds it: text is parsed, anything else kept."""
        if isinstance(given, str) and self.parse is not None:
            return self.parse(given)
        return given


_BACKEND = "RAM-counter backend (where migration numbers come from)"

#: The fields of FakeQemuConfig: what ``qemu-system-x86_64`` would get on its command line.
CONFIG_OPTIONS: tuple[Option, ...] = (
    Option("profile", DEFAULT_PROFILE, "QEMU release to imitate", ("--profile",)),
    Option(
        "shape",
        str(DEFAULT_SHAPE),
        "query-migrate shape: old = today's releases, new = the destination-stats patch",
        ("--shape",),
        choices=SHAPES,
    ),
    Option("name", None, "guest name, as -name", ("--name",)),
    Option("start_paused", False, "start in prelaunch, as -S", ("-S",), kind=SWITCH),
    Option(
        "incoming",
        None,
        "wait for an incoming migration, as -incoming defer or -incoming URI",
        ("--incoming",),
        metavar="defer|URI",
    ),
    Option(
        "memory",
        parse_memory("128M"),
        "guest RAM as -m spells it (a plain number is MiB; 512M, 4G), or bytes from Python",
        ("--memory", "-m"),
        parse=parse_memory,
        metavar="SIZE",
        shown="128M",
    ),
    Option(
        "backend",
        "model",
        "where migration numbers come from: model, faker, replay:PATH, a"
        " fakeqemu.backends entry point, or module:Class",
        ("--backend",),
        metavar="NAME|module:Class",
        group=_BACKEND,
    ),
    Option(
        "backend_options",
        {},
        "an option for the backend (repeatable)",
        ("--backend-opt",),
        parse=parse_pair,
        metavar="KEY=VALUE",
        kind=PAIRS,
        group=_BACKEND,
    ),
    Option(
        "seed",
        None,
        "seed for backends that make numbers up",
        ("--seed",),
        parse=int,
        group=_BACKEND,
    ),
)

#: How much faster than real time the fakes' clock runs (``serve`` and threaded fixtures).
SPEED = Option(
    "speed",
    1.0,
    "run the fake's clock FACTOR times faster than real time",
    ("--speed",),
    parse=float,
    metavar="FACTOR",
)

#: What the pytest fixtures add: which end of a migration, and where the monitor listens.
FIXTURE_OPTIONS: tuple[Option, ...] = (
    Option(
        "role",
        str(Role.SOURCE),
        "source: a running guest; destination: started with -incoming defer",
        choices=ROLES,
    ),
    Option(
        "monitor",
        "unix",
        "where the monitor listens: a unix socket, or TCP on a free loopback port",
        choices=("unix", "tcp"),
    ),
)

OPTIONS: dict[str, Option] = {o.name: o for o in (*CONFIG_OPTIONS, SPEED, *FIXTURE_OPTIONS)}


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def read(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return read


def add_arguments(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    """The command-line flags of ``options``, each stored under the option's name."""
    groups: dict[str, Any] = {}
    for option in options:
        if not option.flags:
            continue
        where: Any = parser
        if option.group is not None:
            if option.group not in groups:
                groups[option.group] = parser.add_argument_group(option.group)
            where = groups[option.group]
        settings: dict[str, Any] = {"dest": option.name, "help": option.help}
        if option.kind == SWITCH:
            settings["action"] = "store_true"
        else:
            settings["metavar"] = option.metavar
            if option.parse is not None:
                settings["type"] = _argument_type(option.parse)
            if option.kind == PAIRS:
                settings.update(action="append", default=[])
            else:
                settings.update(default=option.default, choices=option.choices)
                if option.default is not None:
                    settings["help"] += f" (default {option.shown})"
        where.add_argument(*option.flags, **settings)


def values_from_arguments(args: argparse.Namespace, options: tuple[Option, ...]) -> dict[str, Any]:
    """The fields of ``options`` as :func:`add_arguments` stored them, ready for a config."""
    values = {option.name: getattr(args, option.name) for option in options}
    for option in options:
        if option.kind == PAIRS:
            values[option.name] = dict(values[option.name])
    return values


def signature(options: Iterable[Option]) -> str:
    """``profile='11.1', shape='old', ...``: how a call with the defaults reads."""
    return ", ".join(f"{option.name}={option.default!r}" for option in options)
