"""``faker``: reproducible made-up workloads, for property tests of tools that watch migrations.

Each seed (``--seed N``) gives one workload -- a guest of some MiB to some TiB, a
share of zero pages, a dirty rate and a network -- which :mod:`fakeqemu.backends.model`
then migrates deterministically.  The same seed gives the same migration every time;
``--backend-opt`` fixes any of the model's inputs while the rest stay made up.

The numbers come from the faker package through :class:`MigrationWorkloadProvider`,
which downstream tests can also use on their own ``Faker`` instances.  This is the only
module of fakeqemu that imports faker, an optional dependency: ``pip install
'fakeqemu[faker]'``.
"""

from __future__ import annotations

import math

try:
    from faker.generator import Generator
    from faker.providers import BaseProvider
except ImportError as missing:
    # The registry shows this message when `--backend faker` cannot be loaded.
    raise ImportError(
        f"the faker backend needs the faker package ({missing}): pip install 'fakeqemu[faker]'"
    ) from missing

from fakeqemu.backends.interface import BackendInputs, ReceivedPages
from fakeqemu.backends.model import OPTIONS, ModelBackend, Workload
from fakeqemu.backends.options import BackendOptions

MiB, GiB, TiB = 1 << 20, 1 << 30, 1 << 40


class MigrationWorkloadProvider(BaseProvider):
    """Faker provider: ``fake.add_provider(MigrationWorkloadProvider)``, then
    ``fake.migration_workload()``."""

    def _uniform(self, low: float, high: float) -> float:
        value: float = self.generator.random.uniform(low, high)
        return value

    def _log_uniform(self, low: float, high: float) -> float:
        """Sizes and rates spread evenly over orders of magnitude, not over values."""
        return math.exp(self._uniform(math.log(low), math.log(high)))

    def ram_size(self) -> int:
        """Guest RAM from 64 MiB to 4 TiB, a whole number of MiB."""
        return max(64, round(self._log_uniform(64 * MiB, 4 * TiB) / MiB)) * MiB

    def zero_share(self) -> float:
        """Share of zero pages: from a fully written guest to a freshly booted one."""
        return round(self._uniform(0.0, 0.99), 3)

    def dirty_rate(self) -> int:
        """Bytes per second the guest dirties: idle one time in five, else 64 KiB/s to 4 GiB/s."""
        if self._uniform(0.0, 1.0) < 0.2:
            return 0
        return round(self._log_uniform(64 << 10, 4 * GiB))

    def link_bandwidth(self) -> int:
        """Bytes per second of the network: 8 Mbit/s to 100 Gbit/s."""
        return round(self._log_uniform(1e6, 12.5e9))

    def migration_workload(self) -> Workload:
        return Workload(
            ram=self.ram_size(),
            zero_share=self.zero_share(),
            dirty_rate=self.dirty_rate(),
            link_bandwidth=self.link_bandwidth(),
        )


def workload_for_seed(seed: int) -> Workload:
    """The workload ``--seed seed`` makes."""
    generator = Generator()
    generator.add_provider(MigrationWorkloadProvider)
    generator.seed_instance(seed)
    provider = MigrationWorkloadProvider(generator)
    return provider.migration_workload()


def faker_backend(inputs: BackendInputs) -> ModelBackend | ReceivedPages:
    """The ``faker`` entry: the model on the workload of ``--seed`` (0 when not given)."""
    options = BackendOptions("faker", inputs.options, OPTIONS)
    if inputs.role == "destination":
        return ReceivedPages()
    workload = workload_for_seed(inputs.seed or 0).with_options(options)
    return ModelBackend(inputs, workload)
