"""The one error every contract check raises, so a failing test reads the same whatever broke it."""

from __future__ import annotations

from typing import Any


class ContractError(AssertionError):
    """A contract was broken; `mismatches` lists every problem, `result` keeps the raw evidence.

    It subclasses AssertionError so pytest reports it as a test failure, not as an error in the
    test's own code. The message lists each mismatch on its own line, sorted, so two runs of the
    same broken contract print the same text.
    """

    def __init__(self, headline: str, mismatches: list[str], result: Any = None) -> None:
        self.headline = headline
        self.mismatches = sorted(mismatches)
        self.result = result
        lines = "\n".join(f"  - {mismatch}" for mismatch in self.mismatches)
        super().__init__(f"{headline}\n{lines}" if lines else headline)
