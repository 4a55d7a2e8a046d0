"""What the fake process does with the host, as QEMU does: -daemonize, -pidfile, /dev/kvm.

Standard library only, and the daemon fork comes before any thread exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

#: KVM_GET_API_VERSION = _IO(KVMIO, 0x00); every KVM since Linux 2.6.22 says 12.
_KVM_GET_API_VERSION = 0xAE00
_KVM_API_VERSION = 12


def kvm_usable(device: str = "/dev/kvm") -> bool:
    """Whether KVM would initialise here: the device opens and speaks KVM's API."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, _KVM_GET_API_VERSION) == _KVM_API_VERSION
    except OSError:
        return False
    finally:
        os.close(fd)


def daemonize() -> int:
    """os_daemonize(): the caller goes on as a grandchild in its own session; the
    original process waits and exits 0 once :func:`report_ready` is called, 1 if the
    grandchild exits without calling it.  Returns the pipe to report on."""
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        status = os.read(read_end, 1)
        os._exit(0 if status == b"\0" else 1)
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.umask(0o027)
    return write_end


def report_ready(pipe: int) -> None:
    """os_setup_post(): from now on nobody reads our output; the parent may exit 0."""
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)
    os.close(null)
    with contextlib.suppress(OSError):
        os.write(pipe, b"\0")
    os.close(pipe)


def write_pidfile(path: str) -> None:
    """qemu_write_pidfile(): the pid and a newline, mode 0600, locked while we run.

    Raises :class:`OSError` with QEMU's message."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as error:
        message = f"Could not create '{path}': {error.strerror}"
        raise OSError(error.errno, f"cannot create PID file: {message}") from None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        message = f"Cannot lock pid file: {error.strerror}"
        raise OSError(error.errno, f"cannot create PID file: {message}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    # Kept open (and locked) until the process exits, as QEMU keeps it.


def remove_pidfile(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
