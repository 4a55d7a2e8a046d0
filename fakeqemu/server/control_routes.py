"""The control API's endpoints, listed once: the server routes each to the
:class:`~fakeqemu.server.control.ControlApi` method named after its verb, and
``fakeqemu ctl`` offers each as a verb.  Standard library only (``ctl`` imports it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    #: ``fakeqemu ctl``'s verb; ControlApi's ``on_VERB`` (``-`` as ``_``) answers it.
    verb: str
    method: str
    #: ``{id}`` is a path parameter.
    path: str
    #: What ``ctl``'s arguments are: nothing, ``json``, ``id``, ``scenario``,
    #: ``seconds`` or ``status`` (STATUS [TIMEOUT]).
    takes: str
    help: str

    @property
    def handler(self) -> str:
        return "on_" + self.verb.replace("-", "_")


ROUTES: tuple[Route, ...] = (
    Route("health", "GET", "/health", "", "profile, shape and role of the fake"),
    Route(
        "journal", "GET", "/journal", "", "every call (command, arguments, reply, time) and fault"
    ),
    Route("clear-journal", "DELETE", "/journal", "", "forget the calls so far"),
    Route("migration", "GET", "/migration", "", "query-migrate's reply and the model's view"),
    Route(
        "add-fault", "POST", "/faults", "json", "hold a fault: JSON (fakeqemu faults lists them)"
    ),
    Route("faults", "GET", "/faults", "", "the faults held, with their state"),
    Route("clear-faults", "DELETE", "/faults", "", "remove every fault"),
    Route("remove-fault", "DELETE", "/faults/{id}", "id", "remove the fault with this id"),
    Route("scenario", "PUT", "/scenario", "scenario", "a scenario's name, or a timeline as JSON"),
    Route("advance", "POST", "/clock/advance", "seconds", "move the virtual clock SECONDS"),
    Route("wait", "POST", "/wait", "status", "until the migration reaches STATUS [TIMEOUT]"),
    Route("reset", "POST", "/reset", "", "back to the state at start"),
)
#: By verb, for ``fakeqemu ctl``.
VERBS: dict[str, Route] = {route.verb: route for route in ROUTES}
