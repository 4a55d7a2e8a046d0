"""``-smp`` and ``-cpu`` as QEMU reads them.

``-smp`` fills what it is not told as machine_parse_smp_config() does for the machine
types libvirt uses (6.2 and later prefer cores to sockets); ``-cpu`` is a model and
its features (``feat=on``, ``feat=off``, ``+feat``, ``-feat``, a bare ``feat``).
"""

from __future__ import annotations

from fakeqemu.cli.qemu.qemu_opts import OptsError, on_off, parse_opts
from fakeqemu.model.hardware import Topology

_COUNTS = ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads")


def parse_smp(text: str) -> Topology:
    options = parse_opts(text, implied="cpus")
    counts = dict.fromkeys(_COUNTS, 0)
    for key, value in options.items():
        if key not in counts:
            raise OptsError(f"Invalid parameter '{key}'")
        if not value.isdigit():
            raise OptsError(f"Parameter 'smp.{key}' expects an integer")
        counts[key] = int(value)
    cpus, maxcpus = counts["cpus"], counts["maxcpus"]
    sockets, dies, cores, threads = (counts[k] for k in ("sockets", "dies", "cores", "threads"))
    clusters = counts["clusters"] or 1
    dies = dies or 1
    if cpus == 0 and maxcpus == 0:
        sockets, cores, threads = sockets or 1, cores or 1, threads or 1
    else:
        maxcpus = maxcpus or cpus
        if cores == 0:
            sockets, threads = sockets or 1, threads or 1
            cores = maxcpus // (sockets * dies * clusters * threads)
        elif sockets == 0:
            threads = threads or 1
            sockets = maxcpus // (dies * clusters * cores * threads)
        if threads == 0:
            threads = maxcpus // (sockets * dies * clusters * cores)
    maxcpus = maxcpus or sockets * dies * clusters * cores * threads
    cpus = cpus or maxcpus
    if cpus > maxcpus or sockets * dies * clusters * cores * threads != maxcpus:
        raise OptsError(
            f"Invalid CPU topology: product of the hierarchy must match maxcpus: "
            f"sockets ({sockets}) * dies ({dies}) * cores ({cores}) * threads ({threads}) "
            f"!= maxcpus ({maxcpus})"
        )
    return Topology(cpus, maxcpus, sockets, dies * clusters, cores, threads)


def parse_cpu(text: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """The model and the features ``-cpu`` names, in order."""
    model, *elements = text.split(",")
    features: list[tuple[str, bool]] = []
    for element in elements:
        if element.startswith(("+", "-")):
            features.append((element[1:], element[0] == "+"))
            continue
        name, equals, value = element.partition("=")
        if not equals:
            features.append((name, True))
        elif value in ("on", "off", "true", "false", "yes", "no"):
            features.append((name, on_off(value, name)))
        # Other properties (level=13, model-id=...) are not features.
    return model, tuple(features)
