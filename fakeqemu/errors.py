"""fakeqemu's exceptions.

FakeQemuError
 ├── QmpError            a command failed: serialises to {"error": {"class", "desc"}}
 └── ProfileError        a profile's data is missing or inconsistent
"""

from __future__ import annotations

GENERIC_ERROR = "GenericError"
COMMAND_NOT_FOUND = "CommandNotFound"
DEVICE_NOT_ACTIVE = "DeviceNotActive"


class FakeQemuError(Exception):
    """Root of everything fakeqemu raises on purpose."""


class QmpError(FakeQemuError):
    """A QMP error reply: ``error_class`` and ``desc`` exactly as QEMU words them."""

    def __init__(self, desc: str, error_class: str = GENERIC_ERROR) -> None:
        super().__init__(desc)
        self.desc = desc
        self.error_class = error_class


class ProfileError(FakeQemuError):
    """A profile's data does not describe what was asked of it."""
