"""Test tooling: the threaded fake, the fixtures' handles, strict contracts, the plugin.

* :mod:`~fakeqemu.testing.threaded`: :class:`ThreadedFakeQemu` and :class:`FakeQemuPair`;
* :mod:`~fakeqemu.testing.handles`: the trio fixtures' handles;
* :mod:`~fakeqemu.testing.settings`: what the marker configures;
* :mod:`~fakeqemu.testing.strict`: every message a fake sends, held against its contract;
* :mod:`~fakeqemu.testing.pytest_plugin`: the fixtures, the marker and the matrix.

Nothing is imported here: pytest loads the plugin in every session of an environment
where fakeqemu is installed, and it must stay light.
"""
