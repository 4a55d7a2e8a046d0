"""The trio layer and the ``fakeqemu serve`` process: sockets in, sockets out.

* :mod:`~fakeqemu.server.serve`: :func:`serve`, one fake behind its monitors;
* :mod:`~fakeqemu.server.connection`: one client, read and written as QEMU's monitor does;
* :mod:`~fakeqemu.server.listeners`: binding unix and TCP monitors, removing socket files;
* :mod:`~fakeqemu.server.fast_start`: the greeting before the heavy imports;
* :mod:`~fakeqemu.server.migration_link`: the stream between two fakes;
* :mod:`~fakeqemu.server.signals`, :mod:`~fakeqemu.server.failures`: the process's
  signals and error reports, as QEMU's.

Nothing is imported here: ``fakeqemu serve`` imports parts of this package before
its greeting, and must not pull in trio with them.
"""
