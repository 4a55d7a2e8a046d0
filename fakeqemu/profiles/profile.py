"""The :class:`Profile` type: one QEMU release, as data."""

from __future__ import annotations

import dataclasses
import enum
import gzip
import json
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from fakeqemu.errors import FakeQemuError
from fakeqemu.profiles.checks import (
    CAPABILITIES_10_0,
    PARAMETERS_10_0,
    CapabilityRule,
    ParameterCheck,
)
from fakeqemu.profiles.emulator_data import FILENAME as EMULATOR_FILE
from fakeqemu.profiles.emulator_data import EmulatorData
from fakeqemu.profiles.hmp_views import PARAMETER_LINES_10_0
from fakeqemu.profiles.patch import apply_patch
from fakeqemu.protocol.qapi import QapiSchema
from fakeqemu.vocabulary import qemu_version


class HmpLayout(enum.Enum):
    """The two text layouts of HMP ``info migrate``."""

    #: 7.2 up to 10.0: ``globals:`` first, lower-case lines, ``total time`` always.
    LEGACY = "legacy"
    #: From 10.1: ``Status:``, ``Time (ms):``, ``RAM info:`` blocks.
    REORGANISED = "10.1"


#: C integer kinds of members that introspection reports as plain ``int``.
#: Same in every release we imitate (qapi/migration.json).
INTEGER_KINDS: dict[str, str] = {
    "announce-initial": "size",
    "announce-max": "size",
    "announce-rounds": "size",
    "announce-step": "size",
    "compress-level": "uint8",
    "compress-threads": "uint8",
    "decompress-threads": "uint8",
    "throttle-trigger-threshold": "uint8",
    "cpu-throttle-initial": "uint8",
    "cpu-throttle-increment": "uint8",
    "max-bandwidth": "size",
    "avail-switchover-bandwidth": "size",
    "downtime-limit": "uint64",
    "x-checkpoint-delay": "uint32",
    "multifd-channels": "uint8",
    "xbzrle-cache-size": "size",
    "max-postcopy-bandwidth": "size",
    "max-cpu-throttle": "uint8",
    "multifd-zlib-level": "uint8",
    "multifd-qatzip-level": "uint8",
    "multifd-zstd-level": "uint8",
    "x-vcpu-dirty-limit-period": "uint64",
    "vcpu-dirty-limit": "uint64",
    "x-rdma-chunk-size": "uint64",
    "cpu-index": "int64",
}

#: Alternate type names that introspection masks but QEMU's messages print.
ALTERNATE_NAMES: dict[str, str] = {
    "tls-creds": "StrOrNull",
    "tls-hostname": "StrOrNull",
    "tls-authz": "StrOrNull",
    # blockdev-add ... "file": 5 (probe blockdev_add_nested_bad_type, all three releases).
    "file": "BlockdevRef",
}


@dataclass(frozen=True)
class Profile:
    """One QEMU release as a client sees it over QMP."""

    #: Short name used on the command line: ``7.2``, ``10.0``, ``11.1``.
    name: str
    #: Where its recorded data lives (``introspection.json``, ``recorded.json``, written
    #: by :mod:`fakeqemu.profiles.build`); None: shipped, ``fakeqemu/profiles/data/<name>/``.
    data_dir: str | None = None
    #: Parse errors carry a ``LINE:COL:`` prefix (11.1).
    json_error_locations: bool = False
    #: After a nesting/size/count limit error, drop the rest of that message (11.1).
    json_skip_rest_after_limit_error: bool = False
    #: Layout of HMP ``info migrate``.
    hmp_layout: HmpLayout = HmpLayout.LEGACY
    #: ``globals:`` lines of the legacy HMP ``info migrate``.
    hmp_globals: tuple[str, ...] = ()
    #: HMP ``info migrate_parameters``: (member, style) in print order (profiles/hmp_views.py).
    hmp_parameter_lines: tuple[tuple[str, str], ...] = PARAMETER_LINES_10_0
    #: ``migrate`` moves to setup, then failed, before it checks the URI scheme (7.2).
    migrate_checks_uri_after_setup: bool = False
    #: URI schemes ``migrate`` and ``migrate-incoming`` know (migrate_uri_parse()).
    migration_schemes: frozenset[str] = frozenset(
        {"tcp", "unix", "vsock", "fd", "exec", "rdma", "file"}
    )
    #: Message for a ``migrate`` URI with an unknown scheme; ``{uri}`` is substituted.
    migrate_unknown_protocol: str = "unknown migration protocol: {uri}"
    #: Message for ``migrate-pause`` outside postcopy.
    migrate_pause_not_postcopy: str = (
        "migrate-pause is currently only supported during postcopy-active or postcopy-recover state"
    )
    #: States in which ``migrate-pause`` shuts the stream (qmp_migrate_pause(); 7.2:
    #: postcopy-active only, as its message says).
    migrate_pause_states: frozenset[str] = frozenset({"postcopy-active", "postcopy-recover"})
    #: The source's error-desc after ``migrate-pause`` (observed on 10.0; 7.2 sets none).
    paused_by_user_error: str | None = "Postcopy migration is paused by the user"
    #: migrate_params_check(), in QEMU's order, with each release's wording.
    parameter_checks: tuple[ParameterCheck, ...] = PARAMETERS_10_0
    #: migrate_caps_check(), in QEMU's order.
    capability_rules: tuple[CapabilityRule, ...] = CAPABILITIES_10_0
    # -- live migration (migration/migration.c, migration/ram.c of each release) -----
    #: MIGRATION_PASS is sent for the bitmap sync made during setup (not in 11.1).
    pass_event_in_setup: bool = True
    #: A last bitmap sync (and MIGRATION_PASS) follows the STOP at switchover (not in 11.1).
    final_sync_after_stop: bool = True
    #: With nothing left to send, a bitmap sync still comes before the switchover (11.1);
    #: before, QEMU switches over at once.
    sync_before_empty_switchover: bool = False
    #: With ``postcopy-ram`` on, every precopy iteration begins with a bitmap sync (11.1).
    exact_sync_with_postcopy_ram: bool = False
    #: ``error-desc`` a ``migrate_cancel`` in ``pre-switchover`` leaves, if any.
    switchover_cancel_error: str | None = "Channel error: Input/output error"
    #: Parameters ``migrate-set-parameters`` accepts but does not keep (7.2).
    ignored_parameters: frozenset[str] = frozenset()
    #: ``device`` is always passed through at switchover (10.0 on); before, only
    #: with ``pause-before-switchover``.
    device_state_always: bool = True
    #: Failures pass through ``failing`` before ``failed`` (11.1).
    failing_status: bool = False
    #: ``downtime`` replaces ``expected-downtime`` in postcopy states (8.0 on).
    downtime_in_postcopy: bool = True
    #: The destination reports ``setup`` at migrate-incoming (8.2 on); before, it stays
    #: ``none`` but sends a ``setup`` event regardless of the ``events`` capability.
    destination_reports_setup: bool = True
    #: ``error-desc`` is shown in any source state once an error was recorded (8.2 on);
    #: before, only in ``failed``.
    error_desc_in_any_state: bool = True
    #: ``expected-downtime`` is recomputed from what remains at switchover (11.1).
    expected_downtime_at_switchover: bool = False
    #: ``ram.transferred`` counts the whole stream, device state included (8.x on);
    #: 7.2 counts RAM pages only.
    transferred_counts_stream: bool = True
    #: At postcopy switchover the status flips before the guest stops (7.2); later
    #: releases stop the guest and pass through ``device`` first.
    postcopy_active_before_stop: bool = False
    #: ``migrate_cancel`` is refused once postcopy runs (8.x on).
    postcopy_cancel_refused: bool = True
    #: A vCPU with siblings in its package (``-smp cores=2``) gets the ``ht`` and
    #: ``cmp-legacy`` features (10.0 on; 7.2 leaves the model's features alone).
    cpu_topology_features: bool = True
    #: The destination peeks at a new channel before it loads (11.1): it turns ``active``
    #: only once the first bytes arrive.  Before, ``active`` comes at the connection.
    incoming_peeks_channel: bool = False
    #: What a destination prints when its source connects and leaves without a byte;
    #: the last line is the error that ends it (exit status 1).
    empty_stream_errors: tuple[str, ...] = (
        "Not a migration stream",
        "load of migration failed: Invalid argument",
    )
    #: The load error of a destination whose stream ends inside a section (its source
    #: was killed or cancelled mid-migration), after check_section_footer()'s line
    #: (observed: bench/migration_kill.py).
    torn_stream_error: str = "load of migration failed: Invalid argument"

    def extend(self, **changes: Any) -> Profile:
        """A new profile that differs from this one only in ``changes``."""
        return dataclasses.replace(self, **changes)

    # -- recorded data, loaded on first use so `fakeqemu serve` starts fast -------

    def _read(self, filename: str) -> bytes:
        if self.data_dir is not None:
            return Path(self.data_dir, filename).read_bytes()
        return (
            resources.files("fakeqemu.profiles").joinpath("data", self.name, filename).read_bytes()
        )

    def _load(self, filename: str) -> Any:
        return json.loads(self._read(filename))

    @cached_property
    def emulator(self) -> EmulatorData:
        """What this release answers as libvirt meets it: its command line and libvirt's
        probe, recorded by ``fakeqemu capture libvirt``."""
        try:
            packed = self._read(EMULATOR_FILE)
        except FileNotFoundError:
            raise FakeQemuError(
                f"profile {self.name} has no {EMULATOR_FILE}; "
                "record one with `fakeqemu capture libvirt`"
            ) from None
        return EmulatorData(json.loads(gzip.decompress(packed)))

    @cached_property
    def recorded(self) -> dict[str, Any]:
        data: dict[str, Any] = self._load("recorded.json")
        return data

    @cached_property
    def schema(self) -> QapiSchema:
        return QapiSchema.from_introspection(
            self._load("introspection.json"), INTEGER_KINDS, ALTERNATE_NAMES
        )

    @cached_property
    def introspection(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._load("introspection.json")
        return data

    @cached_property
    def patched_introspection(self) -> list[dict[str, Any]]:
        """The introspection of the ``new`` shape (:mod:`fakeqemu.profiles.patch`)."""
        return apply_patch(self.introspection)

    @property
    def version(self) -> dict[str, Any]:
        """``query-version``'s answer, in QAPI member order."""
        return qemu_version(self.recorded)

    @cached_property
    def commands(self) -> frozenset[str]:
        return frozenset(self.recorded["commands"])

    @property
    def command_order(self) -> list[str]:
        """``query-commands`` order, as the release lists them."""
        order: list[str] = self.recorded["commands"]
        return order

    @cached_property
    def migration_statuses(self) -> frozenset[str]:
        """MigrationStatus values of this release, from its introspection."""
        schema = self.schema
        info = schema.types[schema.commands["query-migrate"]["ret-type"]]
        status_type = next(m["type"] for m in info["members"] if m["name"] == "status")
        return frozenset(schema.types[status_type]["values"])

    def has_status(self, status: str) -> bool:
        return status in self.migration_statuses

    @property
    def migrate_capabilities(self) -> list[str]:
        caps: list[str] = self.recorded["migrate-capabilities"]
        return caps

    @property
    def migrate_parameter_defaults(self) -> dict[str, Any]:
        params: dict[str, Any] = self.recorded["migrate-parameters"]
        return dict(params)
