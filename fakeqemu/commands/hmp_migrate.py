"""HMP ``info migrate`` in both layouts (migration/migration-hmp-cmds.c)."""

from __future__ import annotations

from typing import Any

from fakeqemu.model.machine import VirtualMachine
from fakeqemu.profiles import HmpLayout


def format_info_migrate(vm: VirtualMachine) -> str:
    info = vm.source_migration_info()
    if vm.profile.hmp_layout is HmpLayout.LEGACY:
        return _legacy(vm, info)
    return _reorganised(info)


def _legacy(vm: VirtualMachine, info: dict[str, Any]) -> str:
    lines = ["globals:", *vm.profile.hmp_globals]
    status = info.get("status")
    if status is not None:
        line = f"Migration status: {status}"
        if status == "failed" and "error-desc" in info:
            line += f" ({info['error-desc']})"
        lines += [line, f"total time: {info.get('total-time', 0)} ms"]
    return "".join(line + "\n" for line in lines)


def _reorganised(info: dict[str, Any]) -> str:
    status = info.get("status")
    if status is None:
        return ""
    line = f"Status: \t\t{status}"
    if status in ("failed", "postcopy-paused") and "error-desc" in info:
        line += f" ({info['error-desc']})"
    return line + "\n"
