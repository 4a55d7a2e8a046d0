"""Argument checks driven by each release's introspection, with QEMU's messages."""

from __future__ import annotations

from typing import Any

import pytest

from fakeqemu.errors import QmpError
from fakeqemu.profiles import get_profile


def check(command: str, args: dict[str, Any], profile: str = "10.0") -> dict[str, Any]:
    return get_profile(profile).schema.check_arguments(command, args)


def error_of(command: str, args: dict[str, Any], profile: str = "10.0") -> str:
    with pytest.raises(QmpError) as info:
        check(command, args, profile)
    return info.value.desc


def test_missing_and_unexpected_members() -> None:
    assert error_of("migrate", {}, "7.2") == "Parameter 'uri' is missing"
    assert error_of("query-status", {"x": 1}) == "Parameter 'x' is unexpected"
    caps = [{"capability": "events"}]
    assert error_of("migrate-set-capabilities", {"capabilities": caps}) == (
        "Parameter 'capabilities[0].state' is missing"
    )
    caps2: list[dict[str, Any]] = [{"capability": "events", "state": True, "bogus": 1}]
    assert error_of("migrate-set-capabilities", {"capabilities": caps2}) == (
        "Parameter 'capabilities[0].bogus' is unexpected"
    )


def test_type_errors_name_the_full_path() -> None:
    assert error_of("migrate", {"uri": 5}) == "Invalid parameter type for 'uri', expected: string"
    caps = [{"capability": "events", "state": 1}]
    assert error_of("migrate-set-capabilities", {"capabilities": caps}) == (
        "Invalid parameter type for 'capabilities[0].state', expected: boolean"
    )
    assert error_of("migrate-set-capabilities", {"capabilities": {}}) == (
        "Invalid parameter type for 'capabilities', expected: array"
    )
    assert error_of("human-monitor-command", {"command-line": "x", "cpu-index": 1.5}) == (
        "Invalid parameter type for 'cpu-index', expected: integer"
    )


def test_enum_errors_use_the_bare_name_or_null() -> None:
    caps = [{"capability": "nope", "state": True}]
    assert error_of("migrate-set-capabilities", {"capabilities": caps}) == (
        "Parameter 'capability' does not accept value 'nope'"
    )
    assert error_of("qmp_capabilities", {"enable": ["foo"]}) == (
        "Parameter 'null' does not accept value 'foo'"
    )
    assert error_of("qmp_capabilities", {"enable": "oob"}) == (
        "Invalid parameter type for 'enable', expected: array"
    )


def test_unsigned_integers_wrap_negatives_and_check_ranges() -> None:
    assert check("migrate-set-parameters", {"max-bandwidth": -1}) == {
        "max-bandwidth": 18446744073709551615
    }
    assert error_of("migrate-set-parameters", {"max-bandwidth": 1e23}) == (
        "Parameter 'max-bandwidth' expects uint64"
    )
    assert error_of("migrate-set-parameters", {"downtime-limit": "x"}) == (
        "Parameter 'downtime-limit' expects uint64"
    )
    assert error_of("migrate-set-parameters", {"cpu-throttle-initial": 256}) == (
        "Parameter 'cpu-throttle-initial' expects uint8_t"
    )


def test_alternates_report_their_type_name() -> None:
    assert check("migrate-set-parameters", {"tls-creds": None}) == {"tls-creds": None}
    assert error_of("migrate-set-parameters", {"tls-creds": 1}) == (
        "Invalid parameter type for 'tls-creds', expected: StrOrNull"
    )


def test_flat_unions_check_their_variant_members() -> None:
    addr = {"transport": "socket", "type": "inet"}
    channel: dict[str, Any] = {"channel-type": "main", "addr": addr}
    assert error_of("migrate", {"channels": [channel]}) == (
        "Parameter 'channels[0].addr.host' is missing"
    )
    addr |= {"host": "127.0.0.1", "port": "4444"}
    assert check("migrate", {"channels": [channel]})["channels"][0]["addr"]["port"] == "4444"


def test_return_values_are_put_in_declaration_order() -> None:
    schema = get_profile("7.2").schema
    ordered = schema.order_return(
        "query-status", {"status": "x", "running": True, "singlestep": False}
    )
    assert list(ordered) == ["running", "singlestep", "status"]


def _blockdev_chain(depth: int, leaf: object) -> dict[str, Any]:
    """``blockdev-add`` arguments whose ``file`` holds a ``file`` ... ``depth`` times."""
    value: Any = leaf
    for _ in range(depth):
        value = {"driver": "qcow2", "node-name": "n", "file": value}
    result: dict[str, Any] = value
    return result


@pytest.mark.parametrize("profile", ["7.2", "11.1"])
def test_arguments_as_deep_as_qemu_reads_are_checked_without_recursion(profile: str) -> None:
    # 1,021 levels of BlockdevRef: with "arguments" and the message, QEMU's 1,023 limit.
    innermost = {"driver": "qcow2", "node-name": "n"}
    missing = ".".join(["file"] * 1022)
    assert error_of("blockdev-add", _blockdev_chain(1021, innermost), profile) == (
        f"Parameter '{missing}' is missing"
    )
    checked = check("blockdev-add", _blockdev_chain(1021, "node0"), profile)
    assert checked["file"]["file"]["driver"] == "qcow2"
    deep: Any = []
    for _ in range(1021):
        deep = [deep]
    caps = [{"capability": "events", "state": deep}]
    assert error_of("migrate-set-capabilities", {"capabilities": caps}, profile) == (
        "Invalid parameter type for 'capabilities[0].state', expected: boolean"
    )
    assert check("qom-set", {"path": "/", "property": "p", "value": deep}, profile)["value"] is deep


def test_deep_return_values_are_put_in_declaration_order() -> None:
    # ImageInfo holds its backing-image, an ImageInfo: a chain as deep as a handler makes it.
    image: dict[str, Any] = {"virtual-size": 1, "filename": "base"}
    for _ in range(3000):
        image = {"backing-image": image, "virtual-size": 1, "filename": "f"}
    device = {"inserted": {"image": image, "file": "f"}, "device": "d"}
    ordered = get_profile("11.1").schema.order_return("query-block", [device])
    assert list(ordered[0]) == ["device", "inserted"]
    node = ordered[0]["inserted"]["image"]
    for _ in range(3000):
        assert list(node) == ["filename", "virtual-size", "backing-image"]
        node = node["backing-image"]
    assert list(node) == ["filename", "virtual-size"]


@pytest.mark.parametrize("profile", ["7.2", "10.0", "11.1"])
@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        # Observed on QEMU 7.2, 10.0 and 11.1: not the first key sent, but the first left
        # in GLib's hash table (slot order, after the visited members were removed).
        ({"enable": [{}], "state": {"x": [[True]]}}, "state"),
        ({"tls-creds": 255, "downtime-limit": {"b": [1.0]}}, "downtime-limit"),
        ({"a": 1e5, "downtime-limit": {"arguments": 1.5}}, "downtime-limit"),
        ({"enable": None, "downtime-limit": False}, "downtime-limit"),
    ],
)
def test_the_unexpected_argument_named_is_the_first_in_glib_order(
    profile: str, arguments: dict[str, Any], named: str
) -> None:
    assert error_of("query-kvm", arguments, profile) == f"Parameter '{named}' is unexpected"


@pytest.mark.parametrize("profile", ["7.2", "10.0", "11.1"])
def test_glib_order_counts_qemus_bytes_for_nul_and_utf_8_keys(profile: str) -> None:
    # Observed: QEMU keeps U+0000 as C0 80, and GLib hashes signed chars.
    arguments = {"_yc": 1, "yxaxb": 1, "x1": 1, "\x00": 1, "downtime-limit": 300}
    arguments |= {"\U0001f600": 1, "bb__": 1}
    assert error_of("migrate-set-parameters", arguments, profile) == (
        "Parameter '\U0001f600' is unexpected"
    )
