"""Generated QMP input, from a grammar of QEMU's JSON dialect and the QMP envelope.

Shared by the grammar fuzz (tests/integration/test_grammar_fuzz.py) and its comparison
with real QEMU (tests/conformance/test_grammar_differential.py).  An input is bytes: a
QMP request, another JSON value, or broken text, with

* nesting from 0 to past QEMU's limit of 1,024 levels, in ``id``, in ``arguments`` and
  in unknown keys (the depth counts the levels around the value, as QEMU does);
* every JSON type in every position, with QEMU's extensions: single-quoted strings,
  integers beyond 64 bits, floats that overflow, ``\\u`` escapes of surrogates and
  noncharacters, raw and invalid UTF-8, control characters;
* tokens and messages sized around the reader's thresholds (the fast path's windows,
  up to 1 MiB; the exact 64 MiB and 2M-token limits are in ``limits.jsonl``);
* syntax errors: tokens dropped, doubled or swapped, a message left open.

Commands are the fake's own and read-only ones, plus ``stop``/``cont`` and argument
checks; never ``quit``, ``migrate``, or HMP text that is not on a safe list.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

#: QEMU's MAX_NESTING: braces plus brackets open at once.
NESTING_LIMIT = 1024

COMMANDS = (
    b"query-status",
    b"query-version",
    b"query-name",
    b"query-kvm",
    b"query-uuid",
    b"query-target",
    b"query-migrate",
    b"query-migrate-capabilities",
    b"query-migrate-parameters",
    b"query-commands",
    b"qmp_capabilities",
    b"no-such-command",
    b"stop",
    b"cont",
    b"migrate-set-capabilities",
    b"migrate-set-parameters",
    b"human-monitor-command",
)
ENVELOPE_KEYS = (b"execute", b"exec-oob", b"arguments", b"id", b"control", b"Execute", b"")
ARGUMENT_NAMES: tuple[bytes, ...] = (
    b"a",
    b"enable",
    b"capabilities",
    b"capability",
    b"state",
    b"downtime-limit",
)
ARGUMENT_NAMES += (b"max-bandwidth", b"command-line", b"cpu-index", b"tls-creds")
CAPABILITIES = (b"events", b"xbzrle", b"no-such-capability", b"oob")
#: "info name" and "help info" are left out: the fake does not implement them (yet).
HMP_LINES = (b"info status", b"info version", b"info", b"help", b"info nope", b"")

INTEGERS: tuple[bytes, ...] = (
    b"0",
    b"-0",
    b"1",
    b"-1",
    b"42",
    b"255",
    b"256",
    b"-129",
    b"4294967296",
)
INTEGERS += (b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808")
INTEGERS += (b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616")
INTEGERS += (b"99999999999999999999999", b"-18446744073709551616")
FLOATS: tuple[bytes, ...] = (
    b"1.5",
    b"-0.0",
    b"0.1",
    b"1e308",
    b"1e309",
    b"-1e999",
    b"2.5e-324",
    b"1E5",
)
FLOATS += (b"1e+5", b"1.0", b"3.14159265358979323846", b"1e-7", b"123456789.123456789")
BAD_NUMBERS = (b"01", b"1.", b".5", b"+1", b"1e", b"-", b"0x10", b"1.5.5", b"--1", b"1e+")
KEYWORDS = (b"true", b"false", b"null")
BAD_KEYWORDS = (b"nul", b"True", b"NULL", b"nulll", b"inf", b"nan", b"x")
STRING_PIECES: tuple[bytes, ...] = (
    b"abc",
    b"query-status",
    b" ",
    b"/",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
)
STRING_PIECES += (b"\\n", b"\\t", b'\\"', b"\\'", b"\\\\", b"\\/", b"\\b", b"\\f", b"\\r")
STRING_PIECES += (b"\\u0000", b"\\u001f", b"\\u007F", b"\\u00e9", b"\\u0041", b"\\uffff")
STRING_PIECES += (b"\\ud800", b"\\udc00", b"\\ud83d\\ude00", b"\\ud83d\\u0041", b"\\ufdd0")
STRING_PIECES += (b"\\ufffe", b"\\u12", b"\\x", b"\\uZZZZ", b"\xc0\x80", b"\xc0\xaf", b"\x80")
STRING_PIECES += (b"\xfe", b"\xff", b"\xe2\x82", b"\xef\xbf\xbe", b"\xed\xa0\x80", b"\x01")
STRING_PIECES += (b"\x7f", b"\t", b"'", b'"', b"%d")
KEY_PIECES = (
    b"k",
    b"\\u0000",
    b"\xc3\xa9",
    b"\xc3\xbf",
    b"\xf0\x9f\x98\x80",
    b"\\u00e9",
    b"-",
    b"_",
)
WHITESPACE = (b"", b"", b"", b" ", b"\n", b"\t", b"\r\n", b"  ")
STRAY = (b":", b",", b"]", b"}", b"[", b"{", b"\x00", b"\x01", b"\xff", b"@", b"'", b'"')
#: The fast path reads 1 KiB first, then windows four times as big, up to 1 MiB.
LONG_STRING_SIZES = (1020, 1024, 4096, 16384, 65536, 262144, (1 << 20) - 40, (1 << 20) + 8)


class QmpGrammar:
    """Draws inputs from ``rng``; the same seed gives the same inputs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, options: tuple[bytes, ...]) -> bytes:
        return self.rng.choice(options)

    # -- whole inputs -----------------------------------------------------------------

    def input(self) -> bytes:
        """One input: mostly a request, sometimes several, another value, or noise."""
        roll = self.rng.random()
        if roll < 0.70:
            tokens = self.request()
        elif roll < 0.80:
            tokens = self.value(self.depth_around(0))
        elif roll < 0.88:
            tokens = self.request() + self.request()
        else:
            tokens = [self.pick(STRAY) for _ in range(self.rng.randint(1, 6))]
            tokens += self.request()
        if self.chance(0.15):
            tokens = self.break_syntax(tokens)
        return self.join(tokens) + self.pick((b"", b"\n", b"\n", b"\r\n"))

    def request(self) -> list[bytes]:
        members: list[list[bytes]] = []
        command = b""
        if not self.chance(0.05):
            key = b"exec-oob" if self.chance(0.05) else b"execute"
            command = self.pick(COMMANDS)
            value = [self.string(command)] if not self.chance(0.05) else self.value(1)
            members.append([self.string(key), b":", *value])
        if self.chance(0.35):
            members.append([self.string(b"arguments"), b":", *self.arguments(command)])
        if self.chance(0.5):
            members.append([self.string(b"id"), b":", *self.value(self.depth_around(1))])
        if self.chance(0.08):
            name = self.pick(ENVELOPE_KEYS) if self.chance(0.5) else self.word()
            members.append([self.string(name), b":", *self.value(self.depth_around(1))])
        self.rng.shuffle(members)
        if members and self.chance(0.03):
            members.append(list(self.rng.choice(members)))  # a duplicate key
        return self.object_of(members)

    def arguments(self, command: bytes) -> list[bytes]:
        if self.chance(0.08):
            return self.value(self.depth_around(1))  # not an object at all
        members = []
        if command == b"human-monitor-command" and self.chance(0.8):
            members.append([self.string(b"command-line"), b":", self.string(self.pick(HMP_LINES))])
        elif command == b"migrate-set-capabilities" and self.chance(0.8):
            members.append([self.string(b"capabilities"), b":", *self.capabilities()])
        elif command == b"qmp_capabilities" and self.chance(0.5):
            members.append([self.string(b"enable"), b":", b"[", self.string(b"oob"), b"]"])
        for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
            name = self.pick(ARGUMENT_NAMES)
            if name == b"command-line":
                continue  # only the safe HMP lines above
            members.append([self.string(name), b":", *self.value(self.depth_around(2))])
        return self.object_of(members)

    def capabilities(self) -> list[bytes]:
        entries = []
        for _ in range(self.rng.randint(0, 2)):
            state = [b"true"] if self.chance(0.6) else self.value(self.depth_around(4))
            capability = self.string(self.pick(CAPABILITIES))
            entries.append(
                self.object_of(
                    [
                        [self.string(b"capability"), b":", capability],
                        [self.string(b"state"), b":", *state],
                    ]
                )
            )
        return self.array_of(entries)

    # -- values -------------------------------------------------------------------------

    def depth_around(self, around: int) -> int:
        """How deep a value at ``around`` levels may nest: shallow, or at QEMU's limit."""
        if self.chance(0.012):
            return NESTING_LIMIT - around + self.rng.randint(-2, 2)
        if self.chance(0.008):
            return self.rng.randint(5, NESTING_LIMIT - around - 3)
        return self.rng.choice((0, 0, 1, 1, 2, 3))

    def value(self, depth: int) -> list[bytes]:
        """Any JSON value (or near-JSON) nesting exactly ``depth`` levels at its deepest."""
        if depth <= 0:
            return self.scalar()
        if depth > 8:  # a chain: the interesting part is the depth, not the breadth
            return self.chain(depth)
        children = [self.value(depth - 1)]
        children += [
            self.value(self.rng.randint(0, depth - 1)) for _ in range(self.rng.randint(0, 2))
        ]
        self.rng.shuffle(children)
        if self.chance(0.5):
            return self.array_of(children)
        return self.object_of([[self.string(self.word()), b":", *child] for child in children])

    def chain(self, depth: int) -> list[bytes]:
        style = self.rng.choice(("arrays", "objects", "mixed"))
        opening: list[bytes] = []
        for level in range(depth):
            as_array = style == "arrays" or (style == "mixed" and level % 2 == 0)
            opening += [b"["] if as_array else [b"{", b'"a"', b":"]
        closing = [b"]" if token == b"[" else b"}" for token in opening if token in (b"[", b"{")]
        return [*opening, *self.scalar(), *reversed(closing)]

    def scalar(self) -> list[bytes]:
        roll = self.rng.random()
        if roll < 0.35:
            return [self.string(None)]
        if roll < 0.55:
            return [self.pick(INTEGERS)]
        if roll < 0.70:
            return [self.pick(FLOATS)]
        if roll < 0.85:
            return [self.pick(KEYWORDS)]
        if roll < 0.88:
            return [b"[]"] if self.chance(0.5) else [b"{}"]
        if roll < 0.93:
            return [self.pick(BAD_NUMBERS)]
        if roll < 0.999:
            return [self.pick(BAD_KEYWORDS)]
        return self.long_string()

    def string(self, text: bytes | None) -> bytes:
        """A string token: ``text`` as is, or random pieces, in either of QEMU's quotes."""
        if text is None:
            pieces = [self.pick(STRING_PIECES) for _ in range(self.rng.randint(0, 5))]
            text = b"".join(pieces)
        if self.chance(0.1):
            return b"'" + text.replace(b"'", b"\\'") + b"'"
        return b'"' + text.replace(b'"', b'\\"') + b'"'

    def long_string(self) -> list[bytes]:
        size = self.rng.choice(LONG_STRING_SIZES) + self.rng.randint(-3, 3)
        return [b'"' + b"x" * size + b'"']

    def word(self) -> bytes:
        """A member name: mostly short; sometimes any string text (escapes, NUL, UTF-8)."""
        if self.chance(0.15):
            return b"".join(self.pick(KEY_PIECES) for _ in range(self.rng.randint(1, 3)))
        return self.pick((b"a", b"b", b"x", b"id", b"execute", b"arguments", b"\xc3\xa9", b""))

    # -- structure ------------------------------------------------------------------------

    def object_of(self, members: list[list[bytes]]) -> list[bytes]:
        tokens = [b"{"]
        for index, member in enumerate(members):
            if index:
                tokens.append(b",")
            tokens += member
        return [*tokens, b"}"]

    def array_of(self, elements: list[list[bytes]]) -> list[bytes]:
        tokens = [b"["]
        for index, element in enumerate(elements):
            if index:
                tokens.append(b",")
            tokens += element
        return [*tokens, b"]"]

    def break_syntax(self, tokens: list[bytes]) -> list[bytes]:
        tokens = list(tokens)
        position = self.rng.randrange(len(tokens))
        action = self.rng.choice(("drop", "double", "swap", "stray", "truncate"))
        if action == "drop":
            del tokens[position]
        elif action == "double":
            tokens.insert(position, tokens[position])
        elif action == "swap" and position + 1 < len(tokens):
            tokens[position], tokens[position + 1] = tokens[position + 1], tokens[position]
        elif action == "stray":
            tokens.insert(position, self.pick(STRAY))
        else:
            del tokens[position:]
        return tokens

    def join(self, tokens: list[bytes]) -> bytes:
        if self.chance(0.7):
            return b"".join(tokens)
        # Whitespace between tokens; never inside a number or keyword pair run together.
        return b"".join(token + self.pick(WHITESPACE) for token in tokens)


def generated_inputs(seed: str, count: int) -> Iterator[bytes]:
    grammar = QmpGrammar(random.Random(seed))
    for _ in range(count):
        yield grammar.input()
