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

    def connect(self, uri: str, outgoing: OutgoingMigration) -> None: ...

    def wake(self) -> None:
        """A command changed a migration's plans: look at its deadline again."""
        ...


#: migrate_params_check(): (member, C name, low, high, what QEMU says it expects).
#: Checked in this order against the settings as they would be after the change.
PARAMETER_RANGES: tuple[tuple[str, str, int, int, str], ...] = (
    ("compress-level", "compress_level", 0, 9, "an integer in the range of 0 to 9"),
    ("compress-threads", "compress_threads", 1, 255, "a value between 1 and 255"),
    ("decompress-threads", "decompress_threads", 1, 255, "a value between 1 and 255"),
    (
        "throttle-trigger-threshold",
        "throttle_trigger_threshold",
        1,
        100,
        "an integer in the range of 1 to 100",
    ),
    ("cpu-throttle-initial", "cpu_throttle_initial", 1, 99, "an integer in the range of 1 to 99"),
    (
        "cpu-throttle-increment",
        "cpu_throttle_increment",
        1,
        99,
        "an integer in the range of 1 to 99",
    ),
    (
        "downtime-limit",
        "downtime_limit",
        0,
        2000 * 1000,
        "an integer in the range of 0 to (2000 * 1000) ms",
    ),
    ("multifd-channels", "multifd_channels", 1, 255, "a value between 1 and 255"),
    ("multifd-zlib-level", "multifd_zlib_level", 0, 9, "a value between 0 and 9"),
    ("multifd-qatzip-level", "multifd_qatzip_level", 1, 9, "a value between 1 and 9"),
    ("multifd-zstd-level", "multifd_zstd_level", 0, 20, "a value between 0 and 20"),
)

_ANNOUNCE_RANGES: tuple[tuple[str, str, int, int, str], ...] = (
    ("announce-initial", "announce_initial", 0, 100000, "a value between 0 and 100000"),
    ("announce-max", "announce_max", 0, 100000, "a value between 0 and 100000"),
    ("announce-rounds", "announce_rounds", 0, 1000, "a value between 0 and 1000"),
    # Sic: QEMU rejects 0 but says "between 0 and 10000".
    ("announce-step", "announce_step", 1, 10000, "a value between 0 and 10000"),
    (
        "x-vcpu-dirty-limit-period",
        "x-vcpu-dirty-limit-period",
        1,
        1000,
        "a value between 1 and 1000",
    ),
)

TARGET_PAGE_SIZE = 4096


def check_parameters(merged: dict[str, Any]) -> str | None:
    """The first complaint migrate_params_check() makes about ``merged``, if any."""

    def out_of_range(table: tuple[tuple[str, str, int, int, str], ...]) -> str | None:
        for member, c_name, low, high, expects in table:
            if member in merged and not low <= merged[member] <= high:
                return f"Parameter '{c_name}' expects {expects}"
        return None

    problem = out_of_range(PARAMETER_RANGES)
    if problem:
        return problem
    cache = merged.get("xbzrle-cache-size")
    if cache is not None and (cache < TARGET_PAGE_SIZE or cache & (cache - 1)):
        return (
            "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page size"
        )
    ceiling = merged.get("max-cpu-throttle")
    if ceiling is not None and not merged.get("cpu-throttle-initial", 0) <= ceiling <= 99:
        return (
            "Parameter 'max_cpu_throttle' expects an integer in the range of "
            "cpu_throttle_initial to 99"
        )
    problem = out_of_range(_ANNOUNCE_RANGES)
    if problem:
        return problem
    if merged.get("vcpu-dirty-limit", 1) < 1:
        return "Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s"
    return None
