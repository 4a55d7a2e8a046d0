"""fakeqemu: a QMP test double that real clients cannot tell from QEMU."""
