"""The releases fakeqemu imitates, each stated as its changes from 10.0 (the defaults).

Evidence for each fact: the recordings in ``tests/data/recordings/<version>``
and the QEMU sources named in the comments.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from fakeqemu.errors import FakeQemuError
from fakeqemu.profiles.checks import (
    CAPABILITIES_7_2,
    CAPABILITIES_11_1,
    PARAMETERS_7_2,
    PARAMETERS_11_1,
)
from fakeqemu.profiles.hmp_views import PARAMETER_LINES_7_2, PARAMETER_LINES_11_1
from fakeqemu.profiles.profile import HmpLayout, Profile

_LEGACY_GLOBALS = (
    "store-global-state: on",
    "only-migratable: off",
    "send-configuration: on",
    "send-section-footer: on",
)

# The Profile defaults are 10.0's behaviour; the other releases state how they differ.
QEMU_10_0 = Profile(
    name="10.0",
    hmp_layout=HmpLayout.LEGACY,
    hmp_globals=(*_LEGACY_GLOBALS, "send-switchover-start: on", "clear-bitmap-shift: 18"),
)

QEMU_7_2 = QEMU_10_0.extend(
    name="7.2",
    hmp_globals=(*_LEGACY_GLOBALS, "decompress-error-check: on", "clear-bitmap-shift: 18"),
    # migration/migration.c (7.2): migrate_prepare() runs before the URI is parsed.
    migrate_checks_uri_after_setup=True,
    # Observed: 7.2 answers `file:` as an unknown protocol (migrate and migrate-incoming).
    migration_schemes=frozenset({"tcp", "unix", "vsock", "fd", "exec", "rdma"}),
    migrate_unknown_protocol="Parameter 'uri' expects a valid migration protocol",
    migrate_pause_not_postcopy=(
        "migrate-pause is currently only supported during postcopy-active state"
    ),
    migrate_pause_states=frozenset({"postcopy-active"}),
    # migrate-pause only shuts the file down (qemu_file_shutdown()): no Error is kept.
    paused_by_user_error=None,
    hmp_parameter_lines=PARAMETER_LINES_7_2,
    parameter_checks=PARAMETERS_7_2,
    capability_rules=CAPABILITIES_7_2,
    device_state_always=False,
    downtime_in_postcopy=False,
    destination_reports_setup=False,
    error_desc_in_any_state=False,
    transferred_counts_stream=False,
    postcopy_active_before_stop=True,
    postcopy_cancel_refused=False,
    # Observed: a cancel in pre-switchover leaves no error-desc, and the multifd
    # compression levels are taken (any uint8) and dropped: query shows the old value.
    switchover_cancel_error=None,
    ignored_parameters=frozenset({"multifd-zlib-level", "multifd-zstd-level"}),
    # Observed (-smp 3,sockets=2,cores=2): 7.2's vCPUs keep the model's ht and cmp-legacy.
    cpu_topology_features=False,
)

QEMU_11_1 = QEMU_10_0.extend(
    name="11.1",
    # Recorded 11.1 parse errors read "3:1: JSON parse error, expecting value", and an
    # over-deep message gives one error where 7.2 and 10.0 give one per leftover token.
    json_error_locations=True,
    json_skip_rest_after_limit_error=True,
    hmp_layout=HmpLayout.REORGANISED,
    hmp_globals=(),
    # Observed: "Option announce-initial expects ...", x-rdma-chunk-size checked,
    # postcopy with multifd allowed, x-colo needing return-path.
    hmp_parameter_lines=PARAMETER_LINES_11_1,
    parameter_checks=PARAMETERS_11_1,
    capability_rules=CAPABILITIES_11_1,
    # Recorded 11.1: no MIGRATION_PASS 1, final dirty-sync-count 2, `failing` on errors,
    # and expected-downtime 35 ms at pre-switchover with 1.2 MB left at 34 MB/s.
    pass_event_in_setup=False,
    final_sync_after_stop=False,
    failing_status=True,
    expected_downtime_at_switchover=True,
    # Observed with an idle -S guest: active, MIGRATION_PASS 2, pre-switchover; a cancel
    # there leaves this error-desc.
    sync_before_empty_switchover=True,
    exact_sync_with_postcopy_ram=True,
    switchover_cancel_error="Switchover is interrupted",
    # Observed: 11.1 appends the footer check's error to the load error.
    torn_stream_error=(
        "load of migration failed: Invalid argument: Section footer error, section_id: 1"
    ),
    # Observed: a source that connects and closes gives setup -> failed, never active.
    incoming_peeks_channel=True,
    empty_stream_errors=("Failed to peek at channel",),
)


class Catalog(Mapping[str, Profile]):
    """Profiles by name, oldest release first.

    :data:`CATALOG` is fakeqemu's own; a test or a tool that imitates a release of its
    own builds another (``CATALOG.with_profile(...)``) and gives it to ``FakeQemu``.
    """

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._profiles = {profile.name: profile for profile in profiles}

    def __getitem__(self, name: str) -> Profile:
        return self._profiles[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def get_profile(self, name: str) -> Profile:
        """The profile ``name``; FakeQemuError naming the known ones if there is none."""
        try:
            return self._profiles[name]
        except KeyError:
            known = ", ".join(self._profiles)
            raise FakeQemuError(f"unknown profile {name!r}; known profiles: {known}") from None

    def with_profile(self, profile: Profile) -> Catalog:
        """A new catalog: this one, and ``profile`` (replacing one of the same name)."""
        return Catalog([*(p for p in self.values() if p.name != profile.name), profile])


#: One entry per release: its profile, stated above.  Adding a release is a data
#: capture (profiles/build.py, contracts/generate.py) and one entry here.
CATALOG = Catalog((QEMU_7_2, QEMU_10_0, QEMU_11_1))
PROFILES: Mapping[str, Profile] = CATALOG


def get_profile(name: str) -> Profile:
    """The profile ``name`` of fakeqemu's own catalog."""
    return CATALOG.get_profile(name)
