"""Postcopy recovery on the source: ``migrate`` with ``resume`` after ``postcopy-paused``.

A postcopy migration whose stream breaks (a reset, ``migrate-pause`` on either side, a
``link-break`` fault) does not fail: both sides go to ``postcopy-paused`` and keep
their counters (postcopy_pause() and postcopy_pause_incoming() in QEMU's
migration/migration.c and savevm.c).  The destination's ``migrate-recover URI``
listens again (:meth:`fakeqemu.model.machine.VirtualMachine.recover_incoming`); the
source's ``migrate {"uri": URI, "resume": true}`` connects to it.  Observed on 7.2
(tests/data/postcopy_recovery.json): the source goes postcopy-recover, then
postcopy-active once the destination, postcopy-recover then postcopy-active itself,
acknowledges on the return path; a connection that fails leaves it paused.
Releases with ``postcopy-recover-setup`` (9.1 on) pass through it first, while the
connection is made, and fall back to ``postcopy-paused`` when it fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakeqemu.errors import QmpError

if TYPE_CHECKING:
    from fakeqemu.model.outgoing import OutgoingMigration

#: postcopy_pause() and postcopy_pause_incoming(): what either side prints (observed,
#: 7.2 and 10.0).
POSTCOPY_PAUSED_REPORT = "Detected IO failure for postcopy. Migration paused."
#: Source (and destination) states in which a broken stream pauses instead of failing.
RECOVERABLE = frozenset({"postcopy-active", "postcopy-recover"})
#: migrate_prepare() with resume, when nothing is paused (observed, 7.2 and 10.0).
RESUME_NOT_PAUSED = "Cannot resume if there is no paused migration"
#: migrate_prepare() with resume and release-ram (QEMU's source: pages sent and
#: released before the break are lost).
RESUME_RELEASE_RAM = "Postcopy recovery cannot work when release-ram capability is set"
#: qmp_migrate_recover() outside postcopy-paused (observed, 7.2 and 10.0, either side).
RECOVER_NOT_PAUSED = "Migrate recover can only be run when postcopy is paused."
#: The message the source's resume handshake starts with, and the destination's answer.
RESUME, RESUME_ACK = "resume", "resume-ack"


def stream_broke(outgoing: OutgoingMigration, now: float, error: str | None) -> bool:
    """The stream to the destination broke: pause a postcopy migration (``True``), fail
    any other (migrate_fd_error / migration_detect_error)."""
    if outgoing.status in RECOVERABLE:
        outgoing.pause_postcopy(error)
        return True
    if outgoing.status != "postcopy-paused":
        outgoing.fail(now, error)
    return False


def check_resume(outgoing: OutgoingMigration | None) -> OutgoingMigration:
    """migrate_prepare()'s checks for ``resume``; the paused migration to resume."""
    if outgoing is None or outgoing.status != "postcopy-paused":
        raise QmpError(RESUME_NOT_PAUSED)
    if outgoing.capabilities.get("release-ram"):
        raise QmpError(RESUME_RELEASE_RAM)
    return outgoing


def resume_requested(outgoing: OutgoingMigration) -> None:
    """``migrate`` with ``resume`` accepted: 9.1 on, postcopy-recover-setup while the
    connection is made (7.2 stays postcopy-paused, observed)."""
    if outgoing.profile.has_status("postcopy-recover-setup"):
        outgoing.hooks.set_status("postcopy-recover-setup")


def resume_connected(outgoing: OutgoingMigration) -> None:
    """migrate_fd_connect() with resume: postcopy-recover, and the handshake goes first,
    ahead of what was waiting to be sent when the stream broke."""
    outgoing.hooks.set_status("postcopy-recover")
    outgoing.outbox.insert(0, {RESUME: True})


def resume_failed(outgoing: OutgoingMigration, error: str) -> None:
    """The connection for the resume failed: still paused (back from
    postcopy-recover-setup where the release has it), the error kept."""
    outgoing.error_desc = error
    if outgoing.status == "postcopy-recover-setup":
        outgoing.hooks.set_status("postcopy-paused")
