"""One place per QMP command, grouped in families; this module lists the families."""

from __future__ import annotations

from fakeqemu.commands import (
    fds,
    hmp,
    machine_info,
    migration,
    probe_answers,
    qmp,
    qom,
    runstate,
)
from fakeqemu.commands.registry import CommandSpec, Executor, merge

#: Every family, listed explicitly so nothing registers by import side effect alone.
FAMILIES = (
    qmp.TABLE,
    runstate.TABLE,
    hmp.TABLE,
    migration.TABLE,
    machine_info.TABLE,
    qom.TABLE,
    probe_answers.TABLE,
    fds.TABLE,
)


def all_commands() -> dict[str, CommandSpec]:
    return merge(FAMILIES)


__all__ = ["FAMILIES", "Executor", "all_commands"]
