"""fakeqemu: a QMP test double that real clients cannot tell from QEMU.

The public API is what this module exports (``__all__``); everything else may move.
The names load on first use (PEP 562): ``fakeqemu serve`` imports parts of this
package on its way to the greeting, and must not import trio with them.
"""

# No other name may appear here (tests/unit/test_exports.py): hence the underscore.
import typing as _typing

if _typing.TYPE_CHECKING:
    from fakeqemu.contracts import validate as validate
    from fakeqemu.contracts.errors import ContractError as ContractError
    from fakeqemu.errors import FakeQemuError as FakeQemuError
    from fakeqemu.errors import ProfileError as ProfileError
    from fakeqemu.errors import QmpError as QmpError
    from fakeqemu.fake.config import FakeQemuConfig as FakeQemuConfig
    from fakeqemu.fake.journal import Call as Call
    from fakeqemu.fake.journal import Journal as Journal
    from fakeqemu.fake.qemu import FakeQemu as FakeQemu
    from fakeqemu.protocol.cassette_matchers import Matcher as Matcher
    from fakeqemu.server.endpoints import Endpoint as Endpoint
    from fakeqemu.server.serve import serve as serve
    from fakeqemu.sizes import parse_size as parse_size
    from fakeqemu.testing.handles import TrioFakeQemuHandle as TrioFakeQemuHandle
    from fakeqemu.testing.handles import TrioFakeQemuPair as TrioFakeQemuPair
    from fakeqemu.testing.threaded import FakeQemuPair as FakeQemuPair
    from fakeqemu.testing.threaded import ThreadedFakeQemu as ThreadedFakeQemu
    from fakeqemu.vocabulary import DEFAULT_PROFILE as DEFAULT_PROFILE
    from fakeqemu.vocabulary import PROFILE_NAMES as PROFILES
    from fakeqemu.vocabulary import Role as Role
    from fakeqemu.vocabulary import Shape as Shape

#: Each public name: the module it lives in, and its name there.
_EXPORTS: dict[str, tuple[str, str]] = {
    "FakeQemu": ("fakeqemu.fake.qemu", "FakeQemu"),
    "FakeQemuConfig": ("fakeqemu.fake.config", "FakeQemuConfig"),
    "serve": ("fakeqemu.server.serve", "serve"),
    "Endpoint": ("fakeqemu.server.endpoints", "Endpoint"),
    "ThreadedFakeQemu": ("fakeqemu.testing.threaded", "ThreadedFakeQemu"),
    "FakeQemuPair": ("fakeqemu.testing.threaded", "FakeQemuPair"),
    "TrioFakeQemuHandle": ("fakeqemu.testing.handles", "TrioFakeQemuHandle"),
    "TrioFakeQemuPair": ("fakeqemu.testing.handles", "TrioFakeQemuPair"),
    "Journal": ("fakeqemu.fake.journal", "Journal"),
    "Call": ("fakeqemu.fake.journal", "Call"),
    "validate": ("fakeqemu.contracts", "validate"),
    "ContractError": ("fakeqemu.contracts.errors", "ContractError"),
    "FakeQemuError": ("fakeqemu.errors", "FakeQemuError"),
    "QmpError": ("fakeqemu.errors", "QmpError"),
    "ProfileError": ("fakeqemu.errors", "ProfileError"),
    "Matcher": ("fakeqemu.protocol.cassette_matchers", "Matcher"),
    "PROFILES": ("fakeqemu.vocabulary", "PROFILE_NAMES"),
    "DEFAULT_PROFILE": ("fakeqemu.vocabulary", "DEFAULT_PROFILE"),
    "Shape": ("fakeqemu.vocabulary", "Shape"),
    "Role": ("fakeqemu.vocabulary", "Role"),
    "parse_size": ("fakeqemu.sizes", "parse_size"),
}

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "Call",
    "ContractError",
    "Endpoint",
    "FakeQemu",
    "FakeQemuConfig",
    "FakeQemuError",
    "FakeQemuPair",
    "Journal",
    "Matcher",
    "ProfileError",
    "QmpError",
    "Role",
    "Shape",
    "ThreadedFakeQemu",
    "TrioFakeQemuHandle",
    "TrioFakeQemuPair",
    "parse_size",
    "serve",
    "validate",
]


def __getattr__(name: str) -> _typing.Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'fakeqemu' has no attribute {name!r}") from None
    # __import__ rather than importlib: this module is on serve's start-up path.
    value = getattr(__import__(module, fromlist=[attribute]), attribute)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
