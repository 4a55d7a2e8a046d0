"""A whole fake QEMU minus the sockets, its configuration, and its journal.

* :mod:`~fakeqemu.fake.qemu`: :class:`FakeQemu`, the machine, commands and sessions;
* :mod:`~fakeqemu.fake.config`: :class:`FakeQemuConfig`, what QEMU's command line says;
* :mod:`~fakeqemu.fake.options`: each configuration field declared once (standard
  library only: ``fakeqemu serve`` builds its argument parser from it before its greeting);
* :mod:`~fakeqemu.fake.journal`: what a fake was asked and answered.

Nothing is imported here, so that the light modules stay light.
"""
