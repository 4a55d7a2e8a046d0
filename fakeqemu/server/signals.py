"""SIGINT, SIGTERM and SIGHUP as QEMU takes them, from the first moment of ``serve``.

QEMU on any of the three (os_setup_signal_handling(), qemu_system_killed(),
qemu_kill_report() in system/runstate.c) prints, observed on 7.2, 10.0 and 11.1::

    qemu-system-x86_64: terminating on signal 15 from pid 4242 (/usr/bin/python3)

(``terminating on signal 2`` alone when the kernel sent it, e.g. Ctrl-C at a
terminal), sends ``SHUTDOWN`` with ``"reason": "host-signal"`` to every
negotiated client, removes its socket files and exits with status 0.

Python's signal handlers neither see the sender's pid nor run while the main
thread is busy importing; so ``serve`` blocks the three signals in every
thread before it does anything else, and one thread waits for them with
``sigwaitinfo()``.  Until the server runs, a signal ends the process at once
(no client can have negotiated yet); once it runs, the signal is handed to it.
Standard library only: this is set up before anything heavy is imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

from fakeqemu.server.failures import qemu_error_report
from fakeqemu.server.listeners import remove_socket_file
from fakeqemu.server.sockets import process_name

TERMINATING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: Called with (signal number, sender pid or 0), on the signal thread.
Deliver = Callable[[int, int], None]


def kill_report(signo: int, pid: int) -> str:
    """qemu_kill_report()'s text, without the program name."""
    if pid == 0:
        return f"terminating on signal {signo}"
    return f"terminating on signal {signo} from pid {pid} ({process_name(pid)})"


class HostSignals:
    """Owns the process's termination signals from construction on.

    Construct it in the main thread before any other thread starts: threads
    inherit the blocked signals, so none of them can be killed by one.
    """

    def __init__(self) -> None:
        # Re-entrant: held around creating a socket file and registering it, so that a
        # signal between the two cannot leave the file behind.
        self._lock = threading.RLock()
        self._deliver: Deliver | None = None
        #: Socket files to remove if a signal comes before the server runs.
        self._files: dict[str, tuple[int, int] | None] = {}
        self._released = False
        self._previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATING)
        self._waiter = threading.Thread(target=self._wait, name="fakeqemu-signals", daemon=True)
        self._waiter.start()

    def release(self) -> None:
        """Give the signals back as they were (``main()`` may be called by a program
        that goes on afterwards, or by a test)."""
        with self._lock:
            self._released = True
        if self._waiter.ident is not None and self._waiter.is_alive():
            # Wakes the waiter (a signal sent to that thread alone), which then ends.
            signal.pthread_kill(self._waiter.ident, signal.SIGHUP)
            self._waiter.join(timeout=5)
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous_mask)

    def owns_socket_file(self, path: str, file_id: tuple[int, int] | None) -> None:
        with self._lock:
            self._files[path] = file_id

    @property
    def startup_lock(self) -> threading.RLock:
        """Hold while creating a socket file until :meth:`owns_socket_file` has it."""
        return self._lock

    def hand_over(self, deliver: Deliver | None) -> None:
        """From now on signals go to ``deliver`` (None: end the process at once again)."""
        with self._lock:
            self._deliver = deliver

    def _wait(self) -> None:
        info = signal.sigwaitinfo(TERMINATING)
        signo, pid = info.si_signo, info.si_pid
        with self._lock:
            if self._released:
                return
            deliver = self._deliver
            if deliver is None:
                self._terminate_now(signo, pid)
        try:
            deliver(signo, pid)
        except Exception:  # the server stopped meanwhile (trio.RunFinishedError)
            with self._lock:
                self._terminate_now(signo, pid)

    def _terminate_now(self, signo: int, pid: int) -> NoReturn:
        """Before the server runs (or after it ended): report, clean up, exit 0."""
        qemu_error_report(kill_report(signo, pid))
        for path, file_id in self._files.items():
            remove_socket_file(path, file_id)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(0)
