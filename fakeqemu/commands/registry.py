"""The command table and the executor that runs a request against a machine.

One QMP command is one decorated function in one family module.  The
executor does what QEMU's generated marshallers and ``qmp_dispatch()`` do
around it: find the command in the profile, refuse OOB where the release
does, check the arguments against the release's own schema, then call the
handler and put the return value in QAPI member order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fakeqemu.errors import COMMAND_NOT_FOUND, QmpError
from fakeqemu.model.machine import VirtualMachine
from fakeqemu.protocol.encoder import QValue
from fakeqemu.protocol.session import QmpSession, Request


@dataclass(frozen=True)
class CommandContext:
    """What a handler may touch."""

    vm: VirtualMachine
    session: QmpSession


Handler = Callable[[CommandContext, dict[str, Any]], QValue]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler


class CommandTable:
    """The commands of one family; :func:`merge` joins the families."""

    def __init__(self) -> None:
        self.specs: dict[str, CommandSpec] = {}

    def command(self, name: str) -> Callable[[Handler], Handler]:
        """Register ``handler`` under its QMP name, spelled as QMP spells it."""

        def register(handler: Handler) -> Handler:
            if name in self.specs:
                raise ValueError(f"command {name!r} registered twice")
            self.specs[name] = CommandSpec(name, handler)
            return handler

        return register


def merge(tables: Iterable[CommandTable]) -> dict[str, CommandSpec]:
    merged: dict[str, CommandSpec] = {}
    for table in tables:
        clash = merged.keys() & table.specs.keys()
        if clash:
            raise ValueError(f"commands registered in two families: {sorted(clash)}")
        merged.update(table.specs)
    return merged


class Executor:
    """Runs requests for one machine; an instance per fake, no global state."""

    def __init__(self, vm: VirtualMachine, specs: dict[str, CommandSpec]) -> None:
        self.vm = vm
        self._specs = specs
        #: Every request that reached a command, for journals and ``-v`` logs.
        self.observers: list[Callable[[Request], None]] = []
        #: Runs each accepted request (arguments checked) around its handler: given the
        #: request and a function that runs it, returns the result (faults hang here).
        self.middleware: Callable[[Request, Callable[[], QValue]], QValue] | None = None

    def __call__(self, request: Request) -> QValue:
        profile = self.vm.profile
        name = request.command
        if name not in profile.commands:
            raise QmpError(f"The command {name} has not been found", COMMAND_NOT_FOUND)
        schema = profile.schema
        if request.oob and not schema.commands[name].get("allow-oob", False):
            raise QmpError(f"The command {name} does not support OOB")
        arguments = schema.check_arguments(name, request.arguments)
        for observer in self.observers:
            observer(request)
        spec = self._specs.get(name)

        def run() -> QValue:
            if spec is None:
                raise QmpError(f"fakeqemu does not implement the command {name} yet")
            result = spec.handler(CommandContext(self.vm, request.session), arguments)
            ordered: QValue = schema.order_return(name, result)
            return ordered

        return run() if self.middleware is None else self.middleware(request, run)
