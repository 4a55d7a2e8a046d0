"""``getfd`` and ``closefd``: file descriptors passed to the monitor (monitor/fds.c).

libvirt migrates this way: it connects to the destination itself, passes the socket
with SCM_RIGHTS along with ``getfd {"fdname": "migrate"}``, then says ``migrate
{"uri": "fd:migrate"}``.  The server layer receives the descriptors
(:class:`fakeqemu.server.fd_passing.FdPassingStream`); they are kept per monitor
connection in :class:`fakeqemu.model.descriptors.Descriptors`.
"""

from __future__ import annotations

import os
from typing import Any

from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.errors import QmpError
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command


@command("getfd")
def getfd(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    fds = ctx.vm.descriptors.for_monitor(ctx.session)
    fd = fds.take_received()
    if fd is None:
        raise QmpError("No file descriptor supplied via SCM_RIGHTS")
    name: str = args["fdname"]
    if name[:1].isdigit():
        os.close(fd)
        raise QmpError("Parameter 'fdname' expects a name not starting with a digit")
    fds.name(name, fd)
    return {}


@command("closefd")
def closefd(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    name: str = args["fdname"]
    if not ctx.vm.descriptors.for_monitor(ctx.session).close_named(name):
        raise QmpError(f"File descriptor named '{name}' not found")
    return {}
