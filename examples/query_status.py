"""Connect to a running ``fakeqemu serve`` (or a real QEMU) and print its status.

fakeqemu serve --unix /tmp/fakeqemu.sock &
python examples/query_status.py /tmp/fakeqemu.sock
"""

from __future__ import annotations

import asyncio
import sys

from qemu.qmp import QMPClient


async def main(path: str) -> None:
    qmp = QMPClient("example")
    await qmp.connect(path)
    try:
        print(await qmp.execute("query-version"))
        print(await qmp.execute("query-status"))
    finally:
        await qmp.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fakeqemu.sock"))
