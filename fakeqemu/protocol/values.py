"""Comparing JSON values without recursion.

A client may send values nested 1,023 levels deep, and QEMU echoes them; Python's ``==``
on such lists recurses in C and raises RecursionError.  These helpers walk an explicit
stack instead.
"""

from __future__ import annotations

from typing import Any


def values_equal(left: Any, right: Any, *, strict_types: bool = False) -> bool:
    """``left == right`` for JSON values (dicts compare regardless of key order).

    With ``strict_types``, values equal only if their JSON types are the same at every
    level: ``1``, ``1.0`` and ``true`` differ, as they do for QEMU's argument checks.
    """
    pending = [(left, right)]
    while pending:
        a, b = pending.pop()
        if strict_types and type(a) is not type(b):
            return False
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                return False
            pending.extend((a[key], b[key]) for key in a)
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            pending.extend(zip(a, b, strict=True))
        elif isinstance(a, dict | list) or isinstance(b, dict | list):
            return False  # a container never equals a scalar, nor a list a dict
        elif a != b:
            return False
    return True


def copy_value(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars), at any depth."""
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    pending: list[tuple[Any, Any]] = [(value, root)]
    while pending:
        source, target = pending.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            copied = item
            if isinstance(item, dict | list):
                copied = {} if isinstance(item, dict) else []
                pending.append((item, copied))
            if isinstance(target, dict):
                target[key] = copied
            else:
                target.append(copied)
    return root
