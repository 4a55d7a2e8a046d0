"""What one scenario measured on one server, and the tables the benchmark prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.servers import Server, Target

Value = int | float | str


@dataclass
class Figure:
    name: str
    value: Value
    #: Whether fake/QEMU means something for this figure (rates, times, memory).
    ratio: bool = False


@dataclass
class Outcome:
    """One scenario on one target: its figures in print order, and what went wrong."""

    scenario: str
    target: Target
    figures: list[Figure] = field(default_factory=list)
    #: Failed checks (lost replies, a client never served, ...); empty when all passed.
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, value: Value, *, ratio: bool = False) -> None:
        self.figures.append(Figure(name, value, ratio))

    def require_zero(self, **counts: int) -> None:
        """Add the counts as figures; each one that is not 0 is a problem."""
        for name, count in counts.items():
            self.add(name, count)
            if count:
                self.problems.append(f"{name}: {count}")

    def memory(self, server: Server, before_kib: int) -> None:
        """RSS before the load, after it, and the peak (VmHWM), in MiB."""
        self.add("RSS before (MiB)", round(before_kib / 1024, 1), ratio=True)
        self.add("RSS after (MiB)", round(server.rss_kib() / 1024, 1), ratio=True)
        self.add("peak RSS (MiB)", round(server.peak_rss_kib() / 1024, 1), ratio=True)

    def value(self, name: str) -> Value | None:
        for figure in self.figures:
            if figure.name == name:
                return figure.value
        return None


def _format(value: Value | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def print_table(title: str, outcomes: list[Outcome]) -> None:
    """One scenario: a column per target, then fake/QEMU where it means something.

    Long texts (error messages, stderr lines) are printed below the table.
    """
    print(f"\n== {title} ==")
    names: list[str] = []
    ratios: set[str] = set()
    for outcome in outcomes:
        for figure in outcome.figures:
            if figure.name not in names:
                names.append(figure.name)
            if figure.ratio:
                ratios.add(figure.name)
    fake = next((o for o in outcomes if o.target.kind == "fake"), None)
    qemu = next((o for o in outcomes if o.target.kind == "qemu"), None)
    show_ratio = fake is not None and qemu is not None
    header = f"{'':34}" + "".join(f"{o.target.label:>16}" for o in outcomes)
    print(header + (f"{'fake/QEMU':>11}" if show_ratio else ""))
    texts: list[str] = []
    for name in names:
        values = [o.value(name) for o in outcomes]
        if any(isinstance(v, str) and len(v) > 14 for v in values):
            for outcome, value in zip(outcomes, values, strict=True):
                texts.append(f"  {outcome.target.label} {name}: {value}")
            continue
        row = f"{name:34}" + "".join(f"{_format(v):>16}" for v in values)
        if show_ratio and name in ratios:
            assert fake is not None
            assert qemu is not None
            ours, theirs = fake.value(name), qemu.value(name)
            if isinstance(ours, int | float) and isinstance(theirs, int | float) and theirs:
                row += f"{ours / theirs:11.2f}"
        print(row)
    for line in texts:
        print(line)
    for outcome in outcomes:
        for problem in outcome.problems:
            print(f"  FAILED on {outcome.target.label}: {problem}")
