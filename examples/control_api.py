"""fakeqemu's control API from Python, with the standard library only (http.client).

The session of ``tests/integration/control_session.sh`` (curl and socat) and of
``examples/control_api_go``: inject a GenericError on ``migrate`` and see the QMP
client get it, list and remove the fault, play ``stall-at:60`` on the fake's virtual
clock and see ``remaining`` plateau at 40% of RAM, raise ``downtime-limit`` and see the
migration complete, then read and clear the journal.  The migration itself is driven
over QMP (JSON on the monitor sockets), as a real tool would::

    fakeqemu serve --unix /tmp/dst.sock --incoming defer &
    fakeqemu serve --unix /tmp/src.sock --control unix:/tmp/ctl.sock --clock virtual --memory 1G &
    python examples/control_api.py unix:/tmp/ctl.sock unix:/tmp/src.sock unix:/tmp/dst.sock

Addresses are ``unix:PATH`` or ``tcp:HOST:PORT``; left out, they come from
``$FAKEQEMU_CONTROL``, ``$FAKEQEMU_SOURCE`` and ``$FAKEQEMU_DESTINATION``.  Any
unexpected answer ends it with a message on stderr and exit status 1.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
from typing import Any, NoReturn

DESC = "injected by the Python example"
TIMEOUT = 30.0


def fail(message: str) -> NoReturn:
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def parse(where: str) -> tuple[str, str, int]:
    """``unix:PATH`` or ``tcp:HOST:PORT`` as (kind, path or host, port)."""
    kind, _, rest = where.partition(":")
    if kind == "unix":
        return kind, rest, 0
    host, _, port = rest.rpartition(":")
    if kind != "tcp" or not port.isdigit():
        fail(f"{where!r} is not unix:PATH or tcp:HOST:PORT")
    return kind, host.strip("[]"), int(port)


def connect(where: str) -> socket.socket:
    """A connected socket to ``unix:PATH`` or ``tcp:HOST:PORT``."""
    kind, target, port = parse(where)
    if kind == "tcp":
        return socket.create_connection((target, port), timeout=TIMEOUT)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(TIMEOUT)
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock


class ControlConnection(http.client.HTTPConnection):
    """HTTP to the control address, unix or TCP (http.client itself only dials TCP)."""

    def __init__(self, where: str) -> None:
        super().__init__("fakeqemu", timeout=TIMEOUT)
        self.where = where

    def connect(self) -> None:
        self.sock = connect(self.where)


class Control:
    def __init__(self, where: str) -> None:
        parse(where)  # a bad address is named before anything is sent
        self.where = where

    def call(self, method: str, path: str, body: Any = None, *, want: int = 200) -> Any:
        """Send ``body`` as JSON, check the status, and return the decoded answer."""
        connection = ControlConnection(self.where)
        try:
            payload = None if body is None else json.dumps(body)
            headers = {"Content-Type": "application/json"}
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as error:
            fail(f"{method} {path}: {error}")
        finally:
            connection.close()
        if response.status != want:
            fail(f"{method} {path} answered {response.status}, not {want}: {data.decode()}")
        try:
            return json.loads(data)
        except ValueError:
            fail(f"{method} {path}: the answer is not JSON: {data!r}")


class Monitor:
    """One negotiated QMP connection; events are read and skipped."""

    def __init__(self, where: str) -> None:
        try:
            self.sock = connect(where)
        except OSError as error:
            fail(f"QMP {where}: {error}")
        self.lines = self.sock.makefile("rb")
        if "QMP" not in self.read():
            fail(f"QMP {where}: no greeting")
        self.returns("qmp_capabilities")

    def read(self) -> dict[str, Any]:
        # QEMU ends every message with a newline (CRLF): one message a line.
        try:
            line = self.lines.readline()
        except OSError as error:
            fail(f"QMP: reading: {error}")
        if not line:
            fail("QMP: the monitor closed the connection")
        message: dict[str, Any] = json.loads(line)
        return message

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command; return its reply (events before it are skipped)."""
        message: dict[str, Any] = {"execute": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.sock.sendall(json.dumps(message).encode())
        while "event" in (reply := self.read()):
            pass
        return reply

    def returns(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Execute a command that must succeed; return its return value."""
        reply = self.execute(command, arguments)
        if "error" in reply:
            fail(f"{command} answered {reply['error']['class']}: {reply['error']['desc']}")
        return reply["return"]


def argument(index: int, variable: str) -> str:
    if len(sys.argv) > index:
        return sys.argv[index]
    value = os.environ.get(variable)
    if not value:
        fail(
            "usage: control_api.py CONTROL SOURCE DESTINATION"
            f" (unix:PATH or tcp:HOST:PORT each), or ${variable}"
        )
    return value


def main() -> None:
    ctl = Control(argument(1, "FAKEQEMU_CONTROL"))
    source = Monitor(argument(2, "FAKEQEMU_SOURCE"))
    destination = Monitor(argument(3, "FAKEQEMU_DESTINATION"))

    health = ctl.call("GET", "/health")
    if (health["status"], health["role"], health["clock"]) != ("ok", "source", "virtual"):
        fail(f"health: {health} (serve the source with --control and --clock virtual)")
    print(f"health: ok, profile {health['profile']}, shape {health['shape']}, clock virtual")

    # The destination listens on a free port; its query-migrate says which.
    destination.returns("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    addresses = destination.returns("query-migrate").get("socket-address")
    if not addresses:
        fail("the destination's query-migrate names no socket address")
    uri = f"tcp:127.0.0.1:{addresses[0]['port']}"
    print("destination listening on", uri)

    # 1. A GenericError on migrate: injected, seen by the QMP client, listed, removed.
    fault = {"kind": "error", "command": "migrate", "class": "GenericError", "desc": DESC}
    fault_id = ctl.call("POST", "/faults", fault, want=201)["id"]
    reply = source.execute("migrate", {"uri": uri})
    if reply != {"error": {"class": "GenericError", "desc": DESC}}:
        fail(f"migrate should have answered the injected error, answered {reply}")
    print(f"fault {fault_id}: migrate answered GenericError: {DESC}")
    faults = ctl.call("GET", "/faults")
    if [(f["id"], f["kind"]) for f in faults] != [(fault_id, "error")]:
        fail(f"GET /faults: {faults}, not the fault {fault_id}")
    removed = ctl.call("DELETE", f"/faults/{fault_id}")
    if removed != {"removed": fault_id} or ctl.call("GET", "/faults") != []:
        fail(f"DELETE /faults/{fault_id}: {removed}, or faults are left")
    problem = ctl.call("DELETE", "/faults/nope", want=404)
    print(f"fault {fault_id} removed; an unknown one is a 404: {problem['error']}")

    # 2. stall-at:60 on the virtual clock: each pass starts with 40% of RAM dirty.
    scenario = ctl.call("PUT", "/scenario", {"scenario": "stall-at:60"})
    if scenario["scenario"]["name"] != "stall-at:60":
        fail(f"PUT /scenario: {scenario}")
    source.returns("migrate", {"uri": uri})
    passes = []
    for _ in range(6):
        advanced = ctl.call("POST", "/clock/advance", {"seconds": 2})
        if advanced["status"] != "active":
            fail(f"after advancing the clock the migration is {advanced['status']}, not active")
        model = ctl.call("GET", "/migration")["model"]
        passes.append(model["pass"])
        at_start, total = model["remaining-at-pass-start"], model["total"]
        # From the third pass on, each starts with at least 40% of RAM dirty: the plateau.
        if model["pass"] >= 3 and at_start * 100 < total * 40:
            fail(f"remaining fell to {at_start} of {total} at pass {model['pass']}")
    if passes[-1] <= passes[0]:
        fail(f"no new passes: {passes}")
    print(f"plateau: passes {passes}, remaining at pass start >= 40% of {total}")

    # 3. A higher downtime-limit lets it switch over: the migration completes.
    source.returns("migrate-set-parameters", {"downtime-limit": 5000})
    ctl.call("POST", "/clock/advance", {"seconds": 10})
    waited = ctl.call("POST", "/wait", {"status": "completed", "timeout": 10})
    info = source.returns("query-migrate")
    if waited["status"] != "completed" or info["status"] != "completed":
        fail(f"not completed: /wait {waited}, query-migrate {info}")
    print("completed once downtime-limit was 5000 ms")

    # 4. The journal: every call with its reply, and the fault that answered migrate.
    journal = ctl.call("GET", "/journal")
    raised = {"command": "migrate-set-parameters", "arguments": {"downtime-limit": 5000}}
    calls = [{"command": c["command"], "arguments": c["arguments"]} for c in journal["calls"]]
    if raised not in calls or [f["id"] for f in journal["faults"]] != [fault_id]:
        fail(f"the journal misses the downtime-limit call or the fault: {journal}")
    cleared = ctl.call("DELETE", "/journal")["cleared"]
    print(f"journal: {len(calls)} calls, {len(journal['faults'])} fault; {cleared} cleared")
    print("control session passed")


if __name__ == "__main__":
    main()
