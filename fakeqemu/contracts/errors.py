"""The error a broken contract raises; kept free of jsonschema so importing it is cheap."""

from __future__ import annotations

from collections.abc import Sequence


class ContractError(ValueError):
    """A QMP message breaks its contract.

    ``str(error)`` starts with the most relevant problem, as ``JSON path: what is
    wrong (rule)``; ``problems`` holds every problem found, one line each.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        if not problems:
            raise ValueError("a ContractError needs at least one problem")
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
