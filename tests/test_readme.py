"""Every Python example in the README runs, as a test module of its own, in a whole pytest session.

A README example that stops working is a broken promise to a new user, so it fails here first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXAMPLES = PYTHON_BLOCK.findall(README.read_text())


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example{index + 1}" for index in range(len(EXAMPLES))])
def test_readme_example_passes(example: str, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme_example=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) >= 1, result.stdout.str()
