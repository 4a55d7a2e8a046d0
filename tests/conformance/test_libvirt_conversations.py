"""fakeqemu-system-x86_64 answers libvirt's probe and start as real QEMU did, byte for
byte, for the same command line (recorded by ``fakeqemu capture libvirt``).

Each variant runs the console script as libvirt would: the probe daemonized with a
pidfile, the start with its monitor a listening socket passed as a descriptor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeqemu.cli.qemu.host import kvm_usable
from tests.support.libvirt_conversations import mask, started, variants
from tests.support.recordings import VERSIONS

VARIANTS = ("probe-kvm:tcg", "probe-tcg", "start", "incoming", "smp")


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_answers_as_real_qemu(version: str, name: str, tmp_path: Path) -> None:
    variant = next(v for v in variants(version) if v.name == name)
    mismatches = []
    with started(variant, tmp_path) as (client, path):
        for exchange in variant.exchanges:
            got = b"".join(mask(exchange.execute, line, path) for line in client.ask(exchange))
            expected = b"".join(
                mask(exchange.execute, line, variant.monitor_path) for line in exchange.lines
            )
            if exchange.execute == "query-kvm" and not kvm_usable():
                # Recorded where /dev/kvm worked; here KVM would not start, nor does it.
                expected = expected.replace(b'"enabled": true', b'"enabled": false')
            if got != expected:
                request = f"{exchange.execute} {exchange.arguments}"
                mismatches.append(f"{request}:\n  {expected[:300]!r}\n  {got[:300]!r}")
    assert not mismatches, f"{len(mismatches)} of {len(variant.exchanges)} differ:\n" + "\n".join(
        mismatches[:10]
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_every_variant_is_replayed(version: str) -> None:
    assert {variant.name for variant in variants(version)} == set(VARIANTS)
