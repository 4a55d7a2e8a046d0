"""The control API's HTTP side: a small JSON router as an ASGI app, served by hypercorn.

hypercorn runs the app in the fake's own trio loop (its trio worker), so a handler
calls the fake directly, between two of its steps, as a QMP command does.  The router
is a table of ``(method, path pattern)`` to handlers; every answer is JSON, errors
included (``{"error": "..."}`` naming the problem), so any language can drive it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import trio

from fakeqemu.server.endpoints import Endpoint

#: Largest request body read (a fault or a scenario timeline is far smaller).
MAX_BODY = 1 << 20

Handler = Callable[..., Awaitable["Response"]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Response:
    status: int
    body: Any


class HttpError(Exception):
    """Answered as ``{"error": message}`` with ``status``, plus ``extra`` members."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: bytes

    def json(self, *, required: bool = True) -> Any:
        """The body as JSON (``None`` when empty and not ``required``)."""
        if not self.body.strip():
            if required:
                raise HttpError(400, f"{self.method} {self.path} needs a JSON body")
            return None
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise HttpError(
                400, f"the body of {self.method} {self.path} is not JSON: {error}"
            ) from None


class Router:
    """Routes ``METHOD /path/{name}`` to handlers taking a :class:`Request`."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, pattern, re.compile(f"^{regex}$"), handler))

    def endpoints(self) -> list[str]:
        return [f"{method} {pattern}" for method, pattern, _, _ in self._routes]

    def find(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for route_method, _, regex, handler in self._routes:
            match = regex.match(path)
            if match is None:
                continue
            if route_method == method:
                return handler, match.groupdict()
            allowed.append(route_method)
        if allowed:
            raise HttpError(405, f"{path} does not take {method}; it takes {', '.join(allowed)}")
        raise HttpError(
            404, f"no endpoint {method} {path}; endpoints: {', '.join(self.endpoints())}"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: not served
        method, path = scope["method"], scope["path"]
        try:
            handler, params = self.find(method, path)
            body = await _read_body(receive)
            response = await handler(Request(method, path, params, body))
        except HttpError as error:
            response = Response(error.code, {"error": str(error), **error.extra})
        except Exception as error:
            # A bug answers 500 with its text; the fake and the API serve on.
            from fakeqemu.server.failures import report_failure

            report_failure(f"control API: {method} {path} failed", error)
            response = Response(500, {"error": f"{type(error).__name__}: {error}"})
        data = json.dumps(response.body).encode() + b"\n"
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "the client left before sending its body")
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            raise HttpError(413, f"a request body is at most {MAX_BODY} bytes")
        if not message.get("more_body"):
            return bytes(body)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def serve_http(
    app: Router,
    endpoint: Endpoint,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``endpoint`` with hypercorn until cancelled; reports where
    (``unix:PATH`` or ``tcp:HOST:PORT`` with the bound port)."""
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    config = Config()
    if endpoint.kind == "unix":
        config.bind = [f"unix:{endpoint.path}"]
    else:
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        config.bind = [f"{host}:{endpoint.port}"]
    config.accesslog = None
    config.errorlog = "-"  # stderr
    config.loglevel = "WARNING"
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            lambda task_status: hypercorn_serve(cast(Any, app), config, task_status=task_status)
        )
        where = binds[0].removeprefix("http://")
        task_status.started(where if endpoint.kind == "unix" else f"tcp:{where}")
