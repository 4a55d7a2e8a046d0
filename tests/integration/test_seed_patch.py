"""The seed patch's destination stats, reproduced from the patch's own example.

The "To-be" reply in the patch (QEMU 11.1 profile, shape new) came from 281
normal pages, 135101 zero pages, 94 ms and a 554508288-byte guest.
"""

from __future__ import annotations

from fakeqemu.model.stats import destination_ram
from fakeqemu.profiles import get_profile
from fakeqemu.protocol.encoder import encode_message

SEED_TO_BE = (
    b'{"return": {"status": "completed", "total-time": 94, "ram": {"total": 554508288, '
    b'"pages-per-second": 1440234, "page-size": 4096, "remaining": 0, '
    b'"mbps": 97.955404255319152, "transferred": 1150976, "duplicate": 135101, '
    b'"normal-bytes": 1150976, "normal": 281}}}\r\n'
)


def seed_ram(total_time_ms: int) -> dict[str, object]:
    return destination_ram(
        normal=281,
        zero=135101,
        xbzrle=0,
        page_size=4096,
        total=554508288,
        total_time_ms=total_time_ms,
    )


def test_the_seed_example_is_reproduced_byte_for_byte() -> None:
    schema = get_profile("11.1").schema
    reply = {"return": {"status": "completed", "total-time": 94, "ram": seed_ram(94)}}
    ordered = {"return": schema.order_return("query-migrate", reply["return"])}
    assert encode_message(ordered) == SEED_TO_BE


def test_rates_follow_the_patch_formulas() -> None:
    ram = seed_ram(94)
    assert ram["mbps"] == 1150976 * 8.0 / 94 / 1000.0
    assert ram["pages-per-second"] == int((281 + 135101) * 1000.0 / 94)


def test_xbzrle_pages_count_as_normal_pages() -> None:
    ram = destination_ram(
        normal=10, zero=5, xbzrle=3, page_size=4096, total=1 << 20, total_time_ms=10
    )
    assert ram["normal"] == 13
    assert ram["transferred"] == ram["normal-bytes"] == 13 * 4096
    assert ram["duplicate"] == 5
    assert ram["pages-per-second"] == 1800


def test_rates_stay_zero_without_total_time() -> None:
    ram = seed_ram(0)
    assert ram["mbps"] == 0.0
    assert ram["pages-per-second"] == 0


def test_no_source_only_member_is_reported() -> None:
    source_only = {
        "dirty-sync-count",
        "precopy-bytes",
        "downtime-bytes",
        "postcopy-bytes",
        "multifd-bytes",
        "postcopy-requests",
        "dirty-sync-missed-zero-copy",
        "dirty-pages-rate",
    }
    assert not source_only & set(seed_ram(94))
