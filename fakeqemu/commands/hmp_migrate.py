"""HMP ``info migrate`` in both layouts, rendered from query-migrate's answer.

Up to 10.0: monitor/hmp-cmds.c / migration/migration-hmp-cmds.c, lower-case
lines after ``globals:``.  From 10.1: the reorganised ``Status:``/``RAM info:``
layout, with sizes printed by size_to_str().
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fakeqemu.profiles import HmpLayout

if TYPE_CHECKING:
    from fakeqemu.model.machine import VirtualMachine

_IEC = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def size_to_str(value: int) -> str:
    """util/cutils.c size_to_str(): three significant digits, IEC units from 1000 up."""
    _, exponent = math.frexp(value / (1000.0 / 1024.0))
    index = int((exponent - 1) / 10)  # C division truncates towards zero
    return "%0.3g %sB" % (value / (1 << (index * 10)), _IEC[index])  # noqa: UP031 - C printf


#: ``setup-time``, as both layouts print it (first in one, last in the other).
_SETUP = ("setup-time", "setup")


def _present(info: dict[str, Any], labels: tuple[tuple[str, str], ...]) -> list[tuple[str, Any]]:
    """(label, value) of each ``(member, label)`` that ``info`` has, in that order."""
    return [(label, info[member]) for member, label in labels if member in info]


def _socket_uri(address: dict[str, Any]) -> str:
    if address.get("type") == "inet":
        return f"tcp:{address['host']}:{address['port']}"
    return f"{address.get('type')}:{address.get('path')}"


def format_info_migrate(vm: VirtualMachine) -> str:
    info = vm.migration_info()
    if vm.profile.hmp_layout is HmpLayout.LEGACY:
        return "".join(line + "\n" for line in _legacy(vm, info))
    return "".join(line + "\n" for line in _reorganised(info))


def _legacy(vm: VirtualMachine, info: dict[str, Any]) -> list[str]:
    lines = ["globals:", *vm.profile.hmp_globals]
    status = info.get("status")
    if status is not None:
        line = f"Migration status: {status}"
        if status == "failed" and "error-desc" in info:
            line += f" ({info['error-desc']})"
        lines += [line, f"total time: {info.get('total-time', 0)} ms"]
        times = (("expected-downtime", "expected downtime"), ("downtime", "downtime"))
        lines += [f"{label}: {value} ms" for label, value in _present(info, (*times, _SETUP))]
    ram = info.get("ram")
    if ram is not None:
        lines += _legacy_ram(ram)
    cache = info.get("xbzrle-cache")
    if cache is not None:
        lines += [
            f"cache size: {cache['cache-size']} bytes",
            f"xbzrle transferred: {cache['bytes'] >> 10} kbytes",
            f"xbzrle pages: {cache['pages']} pages",
            f"xbzrle cache miss: {cache['cache-miss']} pages",
            f"xbzrle cache miss rate: {cache['cache-miss-rate']:0.2f}",
            f"xbzrle encoding rate: {cache['encoding-rate']:0.2f}",
            f"xbzrle overflow: {cache['overflow']}",
        ]
    if "socket-address" in info:
        lines += [
            "socket address: [",
            *(f"\t{_socket_uri(a)}" for a in info["socket-address"]),
            "]",
        ]
    return lines


def _legacy_ram(ram: dict[str, Any]) -> list[str]:
    lines = [
        f"transferred ram: {ram['transferred'] >> 10} kbytes",
        f"throughput: {ram['mbps']:0.2f} mbps",
        f"remaining ram: {ram['remaining'] >> 10} kbytes",
        f"total ram: {ram['total'] >> 10} kbytes",
        f"duplicate: {ram['duplicate']} pages",
    ]
    if "skipped" in ram:
        lines.append(f"skipped: {ram['skipped']} pages")
    lines += [
        f"normal: {ram['normal']} pages",
        f"normal bytes: {ram['normal-bytes'] >> 10} kbytes",
        f"dirty sync count: {ram.get('dirty-sync-count', 0)}",
        f"page size: {ram['page-size'] >> 10} kbytes",
        f"multifd bytes: {ram.get('multifd-bytes', 0) >> 10} kbytes",
        f"pages-per-second: {ram['pages-per-second']}",
    ]
    for key, text in (
        ("dirty-pages-rate", "dirty pages rate: {} pages"),
        ("postcopy-requests", "postcopy request count: {}"),
    ):
        if ram.get(key):
            lines.append(text.format(ram[key]))
    for key, text in (
        ("precopy-bytes", "precopy ram: {} kbytes"),
        ("downtime-bytes", "downtime ram: {} kbytes"),
        ("postcopy-bytes", "postcopy ram: {} kbytes"),
    ):
        if ram.get(key):
            lines.append(text.format(ram[key] >> 10))
    if ram.get("dirty-sync-missed-zero-copy"):
        lines.append(
            f"Zero-copy-send fallbacks happened: {ram['dirty-sync-missed-zero-copy']} times"
        )
    return lines


def _reorganised(info: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    status = info.get("status")
    if status is not None:
        line = f"Status: \t\t{status}"
        if status in ("failed", "postcopy-paused") and "error-desc" in info:
            line += f" ({info['error-desc']})"
        lines.append(line)
    if info.get("total-time"):
        times = (_SETUP, ("expected-downtime", "exp_down"), ("downtime", "down"))
        parts = [f"total={info['total-time']}"]
        parts += [f"{label}={value}" for label, value in _present(info, times)]
        lines.append("Time (ms): \t\t" + ", ".join(parts))
    if "remaining" in info:
        # 11.1's top-level estimate (observed at pre-switchover: "Remaining: \t\t0 B").
        lines.append(f"Remaining: \t\t{size_to_str(info['remaining'])}")
    if "socket-address" in info:
        lines += ["Sockets: [", *(f"\t{_socket_uri(a)}" for a in info["socket-address"]), "]"]
    ram = info.get("ram")
    if ram is not None:
        rates = f"transfer={ram['pages-per-second']}"
        if ram.get("dirty-pages-rate"):
            rates += f", dirty={ram['dirty-pages-rate']}"
        others = [f"dirty_syncs={ram.get('dirty-sync-count', 0)}"]
        for key, label in (
            ("postcopy-requests", "postcopy_req"),
            ("downtime-bytes", "downtime_bytes"),
            ("dirty-sync-missed-zero-copy", "zerocopy_fallbacks"),
        ):
            if ram.get(key):
                others.append(f"{label}={ram[key]}")
        lines += [
            "RAM info:",
            f"  Throughput (Mbps): \t{ram['mbps']:0.2f}",
            f"  Sizes: \t\tpagesize={size_to_str(ram['page-size'])}, "
            f"total={size_to_str(ram['total'])}",
            f"  Transfers: \t\ttransferred={size_to_str(ram['transferred'])}, "
            f"remain={size_to_str(ram['remaining'])}",
            f"    Channels: \t\tprecopy={size_to_str(ram.get('precopy-bytes', 0))}, "
            f"multifd={size_to_str(ram.get('multifd-bytes', 0))}, "
            f"postcopy={size_to_str(ram.get('postcopy-bytes', 0))}",
            f"    Page Types: \tnormal={ram['normal']}, zero={ram['duplicate']}",
            f"  Page Rates (pps): \t{rates}",
            "  Others: \t\t" + ", ".join(others),
        ]
    return lines


def format_info_migrate_capabilities(vm: VirtualMachine) -> str:
    """hmp_info_migrate_capabilities(): one ``name: on|off`` line per capability."""
    caps = vm.migration_settings.capabilities
    return "".join(f"{name}: {'on' if on else 'off'}\n" for name, on in caps.items())


def format_info_migrate_parameters(vm: VirtualMachine) -> str:
    """hmp_info_migrate_parameters(): the release's lines, for the members it has."""
    params = vm.migration_settings.parameters
    lines: list[str] = []
    for member, style in vm.profile.hmp_parameter_lines:
        if member in params:
            lines += _parameter_lines(member, style, params[member])
    return "".join(line + "\n" for line in lines)


def _parameter_lines(member: str, style: str, value: Any) -> list[str]:
    if style == "mapping":
        lines = [f"{member}:"]
        for node in value:
            lines.append(f"  '{node['node-name']}' -> '{node['alias']}'")
            lines += [f"    '{b['name']}' -> '{b['alias']}'" for b in node.get("bitmaps", [])]
        return lines
    if style == "words":
        return [f"{member}:" + "".join(f" {word}" for word in value)]
    if style == "bool":
        text = "on" if value else "off"
    elif style == "quoted":
        text = f"'{value}'"
    elif style == "plain":
        text = str(value)
    else:
        text = f"{value} {style}"
    return [f"{member}: {text}"]
