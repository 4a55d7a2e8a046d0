"""Contracts: what each QEMU release and shape may send, as JSON Schema, and a validator.

The schemas are generated from each profile's recorded ``query-qmp-schema``
plus the seed patch (:mod:`fakeqemu.contracts.generate`), checked in under
``contracts/`` and shipped in ``fakeqemu/contracts/schemas/``.  A leaf: the fake
never imports it; the test tooling (strict mode, :mod:`fakeqemu.testing.strict`)
and the command line do.  Importing this package stays cheap; jsonschema is
loaded on the first :func:`validate`.
"""

from __future__ import annotations

from typing import Any

from fakeqemu.contracts.errors import ContractError
from fakeqemu.vocabulary import ROLES


def validate(
    message: Any,
    *,
    profile: str,
    shape: str,
    command: str | None = "query-migrate",
    role: str | None = None,
) -> None:
    """Raise :class:`ContractError` unless ``message`` keeps ``profile``/``shape``'s contract.

    ``message`` is a whole QMP message (a greeting, a reply or an event).
    ``command`` names the command the reply answers or the event's name;
    ``None`` checks only the envelope.  ``role`` (``source`` or
    ``destination``) narrows what a ``query-migrate`` reply may hold.
    """
    from fakeqemu.contracts.validator import validate_message

    validate_message(message, profile=profile, shape=shape, command=command, role=role)


__all__ = ["ROLES", "ContractError", "validate"]
