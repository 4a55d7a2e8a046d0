"""Record what a real QEMU binary says on its command line: -version, -help, its options.

Which options exist and which take an argument is observed, not copied from QEMU's
sources: each candidate (every option ``-help`` lists, and the hidden or removed ones
in :data:`EXTRA_CANDIDATES`) is run as ``BINARY -OPTION -SENTINEL``.  QEMU checks every
option's name and arity before it does anything else (lookup_opt() in its first
pass), so an option without argument fails at once on the sentinel ("invalid
option"), one with an argument takes the sentinel as its value and fails (or starts)
later, and an option the release does not have fails on itself.  Options of other
targets say "Option not supported for this target".
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from typing import Any

#: A name no QEMU has as an option.
SENTINEL = "-fakeqemu-sentinel"
#: Put before each candidate so that an option that takes the sentinel as its value
#: starts nothing heavy.
_QUIET = ("-machine", "none", "-display", "none", "-nodefaults", "-S")
#: Options that exist in some release without a line of their own in ``-help``
#: (aliases, hidden options, other targets' options) or that were removed.
EXTRA_CANDIDATES = (
    "help",
    "hdb",
    "hdd",
    "fdb",
    "M",
    "alt-grab",
    "ctrl-grab",
    "sdl",
    "curses",
    "enable-fips",
    "qtest",
    "qtest-log",
    "nodefconfig",
    "semihosting",
    "semihosting-config",
    "g",
    "prom-env",
    "old-param",
    "no-quit",
    "no-kvm",
    "tdf",
    "soundhw",
    "writeconfig",
    "realtime",
    "show-cursor",
    "localtime",
    "xen-create",
    "no-acpi",
    "no-hpet",
    "win2k-hack",
    "usbdevice",
    "chroot",
    "runas",
    "enable-sync-profile",
    "watchdog",
    "watchdog-action",
    "async-teardown",
    "run-with",
    "singlestep",
    "one-insn-per-tb",
    "no-fd-bootchk",
    "portrait",
    "rotate",
    "full-screen",
    "mtdblock",
    "sd",
    "pflash",
    "xen-domid",
    "xen-attach",
    "xen-domid-restrict",
    "preconfig",
    "only-migratable",
    "shim",
    "fw_cfg",
)
_HELP_OPTION = re.compile(r"^--?(\w[\w.-]*)((?:/-[\w.-]+)*)", re.MULTILINE)
#: Fails right after the first pass, so that no candidate starts a machine.
_FAIL_LATER = ("-smp", "fakeqemu=1")


def _run(binary: str, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run QEMU in a scratch directory (-jitdump writes where it runs), and remove the
    map -perfmap leaves in /tmp."""
    with tempfile.TemporaryDirectory(prefix="fakeqemu-cli-", dir="/tmp") as scratch:
        with subprocess.Popen(
            [binary, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=scratch,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # It started a machine with the sentinel as an option's value.
                process.kill()
                stdout, stderr = process.communicate()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/tmp/perf-{process.pid}.map")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def program_name(binary: str) -> str:
    """The name QEMU prints before its messages: argv[0] of the real process.

    Wrappers exec the real binary under its own name; ``-fakeqemu-sentinel`` tells which.
    """
    text = _run(binary, SENTINEL).stderr
    match = re.match(rf"(.*?): {SENTINEL}: invalid option", text)
    if match is None:
        raise RuntimeError(f"{binary} {SENTINEL}: unexpected answer {text[:200]!r}")
    return match[1]


def candidates(help_text: str) -> list[str]:
    names = []
    for match in _HELP_OPTION.finditer(help_text):
        names.append(match[1])
        names += [alias[2:] for alias in match[2].split("/") if alias]
    return sorted(set(names) | set(EXTRA_CANDIDATES))


def classify(binary: str, prog: str, option: str) -> str | None:
    """``flag`` or ``argument`` (``other-target-`` before either for other targets'
    options), or None: the release has no such option."""
    if option in ("h", "help", "version"):
        return "flag"  # they print and exit before the sentinel is looked at
    text = _run(binary, *_QUIET, f"-{option}", SENTINEL, *_FAIL_LATER).stderr
    if f"{prog}: -{option}: invalid option" in text:
        return None
    if f"{prog}: {SENTINEL}: invalid option" in text:
        alone = _run(binary, *_QUIET, f"-{option}", *_FAIL_LATER).stderr
        return "other-target-flag" if _OTHER_TARGET in alone else "flag"
    return "other-target-argument" if _OTHER_TARGET in text else "argument"


_OTHER_TARGET = "Option not supported for this target"


def capture_cli(binary: str) -> dict[str, Any]:
    """-version, -help, the option table and the texts of the command line's errors."""
    prog = program_name(binary)
    version = _run(binary, "-version").stdout
    help_text = _run(binary, "-help").stdout
    options = {}
    for option in candidates(help_text):
        kind = classify(binary, prog, option)
        if kind is not None:
            options[option] = kind
    missing = _run(binary, *_QUIET, "-name").stderr
    unsupported = next(name for name, kind in options.items() if kind == "other-target-argument")
    return {
        "version": version,
        "help": help_text.replace(f"usage: {prog} ", "usage: {prog} "),
        "options": dict(sorted(options.items())),
        "invalid-option": _template(_run(binary, SENTINEL).stderr, prog, SENTINEL),
        "requires-argument": _template(missing, prog, "-name"),
        "other-target": _template(_run(binary, f"-{unsupported}", "x").stderr, prog, None),
        "known-options": candidates(help_text),
        "program": os.path.basename(prog),
    }


def _template(text: str, prog: str, option: str | None) -> str:
    line = text.splitlines()[0]
    line = line.replace(f"{prog}:", "{prog}:", 1)
    if option is not None:
        line = line.replace(f" {option}:", " {option}:", 1)
    else:
        line = re.sub(r" -\S+(?: x)?:", " {option}:", line, count=1)
    return line
