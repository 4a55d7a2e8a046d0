"""Recording real QEMU, and playing recordings back.

* :mod:`~fakeqemu.recorder.record`: ``fakeqemu record``, a proxy that writes a cassette;
* :mod:`~fakeqemu.recorder.replay`: ``fakeqemu replay``, a cassette served back;
* :mod:`~fakeqemu.recorder.capture`: ``fakeqemu capture``, real QEMU in the formats
  of ``tests/data/recordings``;
* :mod:`~fakeqemu.recorder.differential`: generated command sequences and migrations,
  sent to real QEMU and to fakes alike.

The cassette format itself is :mod:`fakeqemu.protocol.cassette`: the ``replay``
backend reads it too.  Nothing is imported here.
"""
