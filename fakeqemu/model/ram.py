"""The machine's RAM as a migration sees it: page size and migratable blocks.

Where the numbers of a migration come from is a RAM-counter backend's business
(:mod:`fakeqemu.backends`); this is only what the machine itself knows.
"""

from __future__ import annotations

from fakeqemu.profiles.checks import PAGE_SIZE

__all__ = ["PAGE_SIZE", "PC_EXTRA_RAM", "ram_total"]

#: RAM blocks besides guest memory on an x86 ``pc`` machine (BIOS and option ROMs):
#: ``ram.total`` for ``-m 128`` is 134750208, not 134217728.
PC_EXTRA_RAM = 532480


def ram_total(memory: int) -> int:
    """``ram.total`` of a ``pc`` guest with ``memory`` bytes: every migratable RAM block."""
    return memory + PC_EXTRA_RAM
