"""What ``migrate-set-parameters`` and ``migrate-set-capabilities`` refuse, per release, as data.

Each table is in the order QEMU checks (migrate_params_check() and
migrate_caps_check()): the first complaint wins.  Every message and bound was
observed on the real binaries by the generated differential sequence
(``fakeqemu/recorder/differential``; stored in
``tests/data/recordings/<v>/migration-commands.jsonl``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PAGE_SIZE = 4096
MIB = 1 << 20


@dataclass(frozen=True)
class ParameterCheck:
    """``member`` must lie in ``low``..``high`` (``low`` may name another member)."""

    member: str
    low: int | str
    high: int | None
    message: str
    #: Also a power of two (xbzrle-cache-size, x-rdma-chunk-size).
    power_of_two: bool = False


@dataclass(frozen=True)
class CapabilityRule:
    """When ``capability`` is on: ``needs`` must be on, ``conflicts`` off, and with
    ``plain_transport`` no multifd compression and no TLS; ``always``: refused anyway.
    ``message`` may name the conflicting capability as ``{other}``."""

    capability: str
    message: str
    needs: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    plain_transport: bool = False
    always: bool = False


Says = Callable[[str, str], str]


def _up_to_10(member: str, what: str) -> str:
    """7.2 to 10.0: QERR_INVALID_PARAMETER_VALUE with the C field name."""
    return f"Parameter '{member.replace('-', '_')}' expects {what}"


def _from_11(member: str, what: str) -> str:
    """11.1: the QAPI member name, and "Option"."""
    return f"Option {member} expects {what}"


def _between(says: Says, member: str, low: int, high: int) -> ParameterCheck:
    return ParameterCheck(member, low, high, says(member, f"a value between {low} and {high}"))


def _in_range(says: Says, member: str, low: int, high: int, unit: str = "") -> ParameterCheck:
    what = f"an integer in the range of {low} to {high}{unit}"
    return ParameterCheck(member, low, high, says(member, what))


def _c_name(member: str) -> str:
    return member.replace("-", "_")


def _throttle(says: Says) -> tuple[ParameterCheck, ...]:
    return (
        _in_range(says, "throttle-trigger-threshold", 1, 100),
        _in_range(says, "cpu-throttle-initial", 1, 99),
        _in_range(says, "cpu-throttle-increment", 1, 99),
        # The bound is a stringified macro.
        ParameterCheck(
            "downtime-limit",
            0,
            2000 * 1000,
            says("downtime-limit", "an integer in the range of 0 to (2000 * 1000) ms"),
        ),
        _between(says, "multifd-channels", 1, 255),
    )


def _multifd_levels(says: Says) -> tuple[ParameterCheck, ...]:
    return (
        _between(says, "multifd-zlib-level", 0, 9),
        _between(says, "multifd-qatzip-level", 1, 9),
        _between(says, "multifd-zstd-level", 0, 20),
    )


def _cache_and_announce(says: Says, name: Callable[[str], str]) -> tuple[ParameterCheck, ...]:
    cache = "a power of two no less than the target page size"
    ceiling = f"an integer in the range of {name('cpu-throttle-initial')} to 99"
    return (
        ParameterCheck(
            "xbzrle-cache-size", PAGE_SIZE, None, says("xbzrle-cache-size", cache), True
        ),
        ParameterCheck(
            "max-cpu-throttle", "cpu-throttle-initial", 99, says("max-cpu-throttle", ceiling)
        ),
        _between(says, "announce-initial", 0, 100000),
        _between(says, "announce-max", 0, 100000),
        _between(says, "announce-rounds", 0, 1000),
        # Sic: 0 is refused with "between 0 and 10000".
        ParameterCheck(
            "announce-step", 1, 10000, says("announce-step", "a value between 0 and 10000")
        ),
    )


def _dirty_limit_period(message: str) -> ParameterCheck:
    return ParameterCheck("x-vcpu-dirty-limit-period", 1, 1000, message)


PARAMETERS_7_2: tuple[ParameterCheck, ...] = (
    _between(_up_to_10, "compress-level", 0, 9),
    _between(_up_to_10, "compress-threads", 1, 255),
    _between(_up_to_10, "decompress-threads", 1, 255),
    *_throttle(_up_to_10),
    # No check of the multifd compression levels (observed: 255 is taken).
    *_cache_and_announce(_up_to_10, _c_name),
)

PARAMETERS_10_0: tuple[ParameterCheck, ...] = (
    *_throttle(_up_to_10),
    *_multifd_levels(_up_to_10),
    *_cache_and_announce(_up_to_10, _c_name),
    _dirty_limit_period("Parameter 'x-vcpu-dirty-limit-period' expects a value between 1 and 1000"),
    ParameterCheck(
        "vcpu-dirty-limit", 1, None, "Parameter 'vcpu_dirty_limit' must be greater than 1 MB/s"
    ),
)

PARAMETERS_11_1: tuple[ParameterCheck, ...] = (
    *_throttle(_from_11),
    *_multifd_levels(_from_11),
    *_cache_and_announce(_from_11, lambda member: member),
    _dirty_limit_period(_from_11("x-vcpu-dirty-limit-period", "a value between 1 and 1000")),
    ParameterCheck(
        "vcpu-dirty-limit", 1, None, "Parameter 'vcpu-dirty-limit' must be greater than 1 MB/s"
    ),
    ParameterCheck(
        "x-rdma-chunk-size",
        MIB,
        1024 * MIB,
        "Option x_rdma_chunk_size expects a power of 2 in the range 1MiB to 1024MiB",
        power_of_two=True,
    ),
)

# -- migrate-set-capabilities -----------------------------------------------------------------

#: check_caps_background_snapshot, in QEMU's order.
_BACKGROUND_SNAPSHOT_CONFLICTS = (
    "postcopy-ram",
    "dirty-bitmaps",
    "postcopy-blocktime",
    "late-block-activate",
    "return-path",
    "multifd",
    "pause-before-switchover",
    "auto-converge",
    "release-ram",
    "rdma-pin-all",
    "compress",
    "xbzrle",
    "x-colo",
    "validate-uuid",
    "zero-copy-send",
)
_ZERO_COPY = "Zero copy only available for non-compressed non-TLS multifd migration"


def _zero_copy(conflict: str) -> CapabilityRule:
    """zero-copy-send needs multifd on a plain transport; what else counts as compression
    differs by release."""
    return CapabilityRule(
        "zero-copy-send",
        _ZERO_COPY,
        needs=("multifd",),
        conflicts=(conflict,),
        plain_transport=True,
    )


_IGNORE_SHARED = CapabilityRule(
    "postcopy-ram", "Postcopy is not compatible with ignore-shared", conflicts=("x-ignore-shared",)
)
_BACKGROUND = CapabilityRule(
    "background-snapshot",
    "Background-snapshot is not compatible with {other}",
    conflicts=_BACKGROUND_SNAPSHOT_CONFLICTS,
)
_PREEMPT = CapabilityRule(
    "postcopy-preempt", "Postcopy preempt requires postcopy-ram", needs=("postcopy-ram",)
)

CAPABILITIES_7_2: tuple[CapabilityRule, ...] = (
    _IGNORE_SHARED,
    _BACKGROUND,
    # Observed: the compress capability among the new ones counts as compression.
    _zero_copy("compress"),
    _PREEMPT,
    CapabilityRule(
        "postcopy-preempt", "Postcopy preempt not compatible with compress", conflicts=("compress",)
    ),
    CapabilityRule("multifd", "Multifd is not compatible with compress", conflicts=("compress",)),
)


def _from_10(*, postcopy_multifd: bool, colo_needs_return_path: bool) -> tuple[CapabilityRule, ...]:
    colo = CapabilityRule(
        "x-colo", "Capability 'x-colo' requires capability 'return-path'", needs=("return-path",)
    )
    multifd = CapabilityRule(
        "postcopy-ram", "Postcopy is not yet compatible with multifd", conflicts=("multifd",)
    )
    return (
        *((colo,) if colo_needs_return_path else ()),
        _IGNORE_SHARED,
        *(() if postcopy_multifd else (multifd,)),
        _BACKGROUND,
        _zero_copy("xbzrle"),
        _PREEMPT,
        CapabilityRule(
            "switchover-ack",
            "Capability 'switchover-ack' requires capability 'return-path'",
            needs=("return-path",),
        ),
        CapabilityRule(
            "dirty-limit",
            "dirty-limit conflicts with auto-converge either of then available currently",
            conflicts=("auto-converge",),
        ),
        # The fake runs TCG, as the recordings did: no KVM dirty ring.
        CapabilityRule(
            "dirty-limit",
            "dirty-limit requires KVM with accelerator property 'dirty-ring-size' set",
            always=True,
        ),
        CapabilityRule("multifd", "Multifd is not compatible with xbzrle", conflicts=("xbzrle",)),
        CapabilityRule(
            "mapped-ram", "Mapped-ram migration is incompatible with xbzrle", conflicts=("xbzrle",)
        ),
        CapabilityRule(
            "mapped-ram",
            "Mapped-ram migration is incompatible with postcopy",
            conflicts=("postcopy-ram",),
        ),
    )


CAPABILITIES_10_0 = _from_10(postcopy_multifd=False, colo_needs_return_path=False)
#: 11.1: postcopy works with multifd, and COLO needs the return path.
CAPABILITIES_11_1 = _from_10(postcopy_multifd=True, colo_needs_return_path=True)
