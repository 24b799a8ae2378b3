"""Every Python example in the README runs, as a test module of its own, in a whole pytest session.

A README example that stops working is a broken promise to a new user, so it fails here first. An
example whose first line is `# same project as the example above` runs in the previous example's
directory, after it (a provider verifying the pacts its consumer example wrote).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
CONTINUES = "# same project as the example above\n"


def projects(blocks: list[str]) -> list[list[str]]:
    """The examples grouped into projects: a block that continues joins the one before it."""
    grouped: list[list[str]] = []
    for block in blocks:
        if block.startswith(CONTINUES) and grouped:
            grouped[-1].append(block)
        else:
            grouped.append([block])
    return grouped


PROJECTS = projects(PYTHON_BLOCK.findall(README.read_text()))


def test_readme_has_examples() -> None:
    assert len(PROJECTS) >= 5


@pytest.mark.parametrize("examples", PROJECTS, ids=[f"example{index + 1}" for index in range(len(PROJECTS))])
def test_readme_example_passes(examples: list[str], pytester: pytest.Pytester) -> None:
    for step, example in enumerate(examples, start=1):
        test_file = pytester.makepyfile(**{f"test_readme_example_{step}": example})
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", test_file)
        outcomes = result.parseoutcomes()
        assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0, result.stdout.str()
        assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) >= 1, result.stdout.str()
