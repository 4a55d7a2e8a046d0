"""faker is optional (``pip install 'fakeqemu[faker]'``): without it ``fakeqemu serve`` works,
and ``--backend faker`` says which extra to install.

"Without it" is a subprocess whose imports of faker fail, as they fail where it is not
installed: a finder first on ``sys.meta_path`` refuses them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

WITHOUT_FAKER = """
import sys

class NoFaker:
    def find_spec(self, name, path=None, target=None):
        if name == "faker" or name.startswith("faker."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoFaker())
from fakeqemu.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _fakeqemu_without_faker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_FAKER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_works_without_faker(tmp_path: Path) -> None:
    path = str(tmp_path / "q.sock")
    with _fakeqemu_without_faker("serve", "--unix", path) as served:
        try:
            assert served.stdout is not None
            assert f"on unix:{path}" in served.stdout.readline()
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(10)
                sock.connect(path)
                reader = sock.makefile("rb")
                assert "QMP" in json.loads(reader.readline())
                sock.sendall(b'{"execute": "qmp_capabilities"}{"execute": "query-status"}')
                assert json.loads(reader.readline()) == {"return": {}}
                assert json.loads(reader.readline())["return"]["status"] == "running"
                reader.close()
        finally:
            served.terminate()
            _, stderr = served.communicate(timeout=10)
    assert served.returncode == 0, stderr


def test_the_faker_backend_without_faker_names_the_extra(tmp_path: Path) -> None:
    path = str(tmp_path / "q.sock")
    with _fakeqemu_without_faker("serve", "--unix", path, "--backend", "faker") as served:
        stdout, stderr = served.communicate(timeout=30)
    assert served.returncode == 2
    assert stdout == ""
    assert stderr == (
        "fakeqemu serve: cannot load backend 'faker': the faker backend needs the faker"
        " package (No module named 'faker'): pip install 'fakeqemu[faker]'\n"
    )
    assert not Path(path).exists()


def test_faker_is_an_extra_not_a_dependency() -> None:
    requirements = metadata.requires("fakeqemu") or []
    fakers = [r for r in requirements if r.replace(" ", "").lower().startswith("faker")]
    assert fakers, requirements
    assert all('extra == "faker"' in r for r in fakers), fakers
