"""Migration settings, their checks, and the transport seam.

The state machines themselves are :mod:`fakeqemu.model.outgoing` (source) and
:mod:`fakeqemu.model.incoming` (destination).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fakeqemu.model.incoming import IncomingMigration
    from fakeqemu.model.outgoing import OutgoingMigration
    from fakeqemu.profiles import Profile


@dataclass
class MigrationSettings:
    """``migrate-set-capabilities`` / ``migrate-set-parameters`` state."""

    capabilities: dict[str, bool]
    parameters: dict[str, Any]

    @classmethod
    def for_profile(cls, profile: Profile) -> MigrationSettings:
        return cls(
            capabilities=dict.fromkeys(profile.migrate_capabilities, False),
            parameters=profile.migrate_parameter_defaults,
        )

    def enabled(self, capability: str) -> bool:
        return self.capabilities.get(capability, False)


class MigrationTransport(Protocol):
    """How a migration reaches its peer; the trio layer implements it.

    ``listen`` binds at once (``migrate-incoming`` answers with the real port
    already in ``socket-address``); ``connect`` and everything after it run
    in the background and report back through the migration objects.
    """

    def listen(self, uri: str, incoming: IncomingMigration) -> list[dict[str, Any]]: ...

    def connect(self, uri: str, outgoing: OutgoingMigration, *, resume: bool = False) -> None:
        """Dial ``uri`` for ``outgoing``; ``resume``: the paused postcopy's new stream."""
        ...

    def break_stream(self, error: str | None) -> None:
        """``migrate-pause``: shut the migration stream down (qemu_file_shutdown());
        a source that pauses keeps ``error`` as its error-desc."""
        ...

    def wake(self) -> None:
        """A command changed a migration's plans: look at its deadline again."""
        ...


def check_parameters(profile: Profile, merged: dict[str, Any]) -> str | None:
    """The first complaint migrate_params_check() makes about ``merged``, if any."""
    for check in profile.parameter_checks:
        value = merged.get(check.member)
        if value is None:
            continue
        low = merged.get(check.low, 0) if isinstance(check.low, str) else check.low
        too_high = check.high is not None and value > check.high
        if value < low or too_high or (check.power_of_two and value & (value - 1)):
            return check.message
    return None


def check_capabilities(
    profile: Profile, caps: dict[str, bool], parameters: dict[str, Any]
) -> str | None:
    """The first complaint migrate_caps_check() makes about ``caps``, if any."""
    compressed_or_tls = parameters.get("multifd-compression", "none") != "none" or bool(
        parameters.get("tls-creds")
    )
    for rule in profile.capability_rules:
        if not caps.get(rule.capability):
            continue
        if rule.always or not all(caps.get(needed) for needed in rule.needs):
            return rule.message
        for other in rule.conflicts:
            if caps.get(other):
                return rule.message.format(other=other)
        if rule.plain_transport and compressed_or_tls:
            return rule.message
    return None
