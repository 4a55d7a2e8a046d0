"""The destination side: listening, loading, and what it remembers afterwards.

QEMU's destination reports little (qemu-facts §2.5): ``status`` and, while
listening, ``socket-address``.  It counts received pages all the same; the
seed patch is what makes them visible (see :mod:`fakeqemu.model.stats`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakeqemu.backends.interface import ReceiveBackend, ReceivedPages
from fakeqemu.model.recovery import POSTCOPY_PAUSED_REPORT, RECOVERABLE, RESUME, RESUME_ACK
from fakeqemu.profiles.patch import DESTINATION_REPORTED

if TYPE_CHECKING:
    from fakeqemu.profiles import Profile

#: check_section_footer()'s line when the stream ended inside a section (all releases).
SECTION_FOOTER_REPORT = "check_section_footer: Read section footer failed: -5"


@dataclass
class DestinationHooks:
    set_status: Callable[[str], None]
    #: Load finished: start the guest if it should run (RESUME), else leave it paused.
    start_guest: Callable[[], None]
    #: A failed load ends the process (exit-on-error).
    exit_process: Callable[[], None]


@dataclass
class IncomingMigration:
    profile: Profile
    hooks: DestinationHooks
    status: str = "none"
    socket_address: list[dict[str, Any]] = field(default_factory=list)
    error_desc: str | None = None
    exit_on_error: bool = True
    page_size: int = 4096
    ram_total: int = 0
    #: Counts the pages that arrive (the RAM-counter backend's destination side).
    ram: ReceiveBackend = field(default_factory=ReceivedPages)
    _load_started: float | None = None
    #: Lines QEMU's error_report() prints on stderr (taken by the trio layer).
    error_reports: list[str] = field(default_factory=list)
    total_time_ms: int = 0
    #: Messages for the source on the return path (the resume handshake).
    replies: list[dict[str, Any]] = field(default_factory=list)

    def listening(self, addresses: list[dict[str, Any]]) -> None:
        """``migrate-incoming`` (or ``-incoming URI``) opened its listener."""
        self.socket_address = addresses

    def source_connected(self, now: float) -> None:
        if self.status == "postcopy-paused":
            # postcopy_try_recover(): a source came back to the migrate-recover listener.
            self.hooks.set_status("postcopy-recover")
            return
        self._load_started = now
        self.hooks.set_status("active")

    def receive(self, message: dict[str, Any], now: float) -> None:
        """One message of the fakes' migration stream."""
        if "hello" in message:
            self.ram_total = int(message["hello"]["total"])
            self.page_size = int(message["hello"]["page-size"])
        elif "pages" in message:
            pages = message["pages"]
            self.ram.receive(now, int(pages["normal"]), int(pages["zero"]), int(pages["xbzrle"]))
        elif "postcopy" in message:
            # postcopy_ram_listen_thread / RUN: the guest runs here from now on.
            if self.profile.has_status("postcopy-device"):
                self.hooks.set_status("postcopy-device")  # observed on 11.1
            self.hooks.set_status("postcopy-active")
            self.hooks.start_guest()
        elif RESUME in message and self.status == "postcopy-recover":
            # loadvm_postcopy_handle_resume(): active again, then RESUME_ACK to the source.
            self.hooks.set_status("postcopy-active")
            self.replies.append({RESUME_ACK: True})
        elif "complete" in message:
            self._complete(now)
        elif "abort" in message:
            self.stream_torn()

    def _complete(self, now: float) -> None:
        if self._load_started is not None:
            self.total_time_ms = round((now - self._load_started) * 1000)
        # process_incoming_migration_bh(): the guest starts (RESUME) before `completed`,
        # and the listener's addresses are gone by the time anyone asks.
        self.socket_address = []
        if self.status != "postcopy-active":
            self.hooks.start_guest()
        self.hooks.set_status("completed")

    def stream_ended(self, received: bool) -> None:
        """The source's stream ended before ``completed``: a postcopy migration pauses
        (postcopy_pause_incoming()), any other fails."""
        if self.status == "postcopy-paused":
            return  # a source that left the recovery listener: still paused
        if self.status in RECOVERABLE:
            self.error_reports.append(POSTCOPY_PAUSED_REPORT)
            self.hooks.set_status("postcopy-paused")
        elif not received:
            # The source left without a byte (libvirt closes the socket it dialled when
            # its own ``migrate`` fails).
            self.stream_empty()
        elif self.status != "completed":
            self.stream_torn()

    def stream_torn(self) -> None:
        """The stream ended in the middle of a section: the source died or cancelled.

        QEMU's RAM loader does not stop at the end of the stream; check_section_footer()
        then reports the read error (-EIO), and the load fails with -EINVAL.
        """
        if self.status in ("completed", "failed"):
            return
        self.error_reports.append(SECTION_FOOTER_REPORT)
        self.stream_broken(self.profile.torn_stream_error)

    def stream_empty(self) -> None:
        """The source connected and left without a byte: QEMU's words for a stream that
        never began (the profile's ``empty_stream_errors``, the last one the error)."""
        if self.status in ("completed", "failed"):
            return
        *reports, error = self.profile.empty_stream_errors
        self.error_reports += reports
        self.stream_broken(error)

    def take_error_reports(self) -> list[str]:
        """QEMU's error_report() lines since the last call, for stderr."""
        reports, self.error_reports = self.error_reports, []
        return reports

    def stream_broken(self, error: str) -> None:
        """The source went away mid-load."""
        if self.status in ("completed", "failed"):
            return
        self.error_desc = error
        self.socket_address = []
        self.hooks.set_status("failed")
        if self.exit_on_error:
            self.hooks.exit_process()

    @property
    def reported(self) -> bool:
        return self.status in DESTINATION_REPORTED
