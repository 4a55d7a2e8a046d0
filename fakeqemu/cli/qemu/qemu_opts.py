"""QEMU's option values: ``key=value,key=value`` (QemuOpts, keyval) and JSON.

``-machine pc,accel=tcg`` has an implied first key (``type``); a comma inside a value
is written twice (``path=a,,b``); ``-device`` and ``-object`` also take JSON, which is
how libvirt writes them.  Standard library only.
"""

from __future__ import annotations

import json
from typing import Any


class OptsError(ValueError):
    """The value could not be read; the message says what is wrong."""


def parse_opts(text: str, implied: str | None = None) -> dict[str, str]:
    """``a=1,b=2`` as a dict; a first element without ``=`` is ``implied``'s value.

    Later keys win, as in QemuOpts.  A key without ``=`` after the first is ``on``
    (QemuOpts' shorthand for booleans).
    """
    options: dict[str, str] = {}
    for position, element in enumerate(_split(text)):
        key, equals, value = element.partition("=")
        if not equals:
            if position == 0 and implied is not None:
                options[implied] = element
                continue
            key, value = element, "on"
        if not key:
            raise OptsError(f"Invalid parameter '{element}'")
        options[key] = value
    return options


def _split(text: str) -> list[str]:
    """Split on single commas; ``,,`` is a comma inside a value."""
    elements: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == ",":
            if text[index + 1 : index + 2] == ",":
                current.append(",")
                index += 2
                continue
            elements.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    if text:
        elements.append("".join(current))
    return elements


def parse_object(text: str, implied: str) -> dict[str, Any]:
    """``-device``/``-object``: JSON when it starts with ``{``, else key=value pairs."""
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as error:
            raise OptsError(f"JSON parse error: {error}") from None
        if not isinstance(value, dict):
            raise OptsError("expected a JSON object")
        return value
    return dict(parse_opts(text, implied))


def on_off(value: str, what: str) -> bool:
    if value in ("on", "yes", "true", "y"):
        return True
    if value in ("off", "no", "false", "n"):
        return False
    raise OptsError(f"Parameter '{what}' expects 'on' or 'off'")
