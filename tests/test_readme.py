"""Every Python example in the README runs, as a test module of its own, in a whole pytest session.

A README example that stops working is a broken promise to a new user, so it fails here first. All
examples run in one session (a pytest start costs seconds; nine of them would dominate the suite),
and each must pass on its own account, with the ini settings the README's `pytest.ini` snippets
declare (given as `-o`, so the session is the one those examples describe). An example whose first
line is
`# same project as the example above` runs in a second session after it, in the same directory (a
provider verifying the pacts its consumer example wrote).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
CONTINUES = "# same project as the example above\n"
EXAMPLES = PYTHON_BLOCK.findall(README.read_text())
INI_BLOCK = re.compile(r"^```ini\n(.*?)^```", re.MULTILINE | re.DOTALL)
INI_SETTINGS = [
    f"{key.strip()}={value.strip()}"
    for block in INI_BLOCK.findall(README.read_text())
    for key, _, value in (line.partition("=") for line in block.splitlines() if "=" in line and not line.startswith("#"))
]


def run_examples(pytester: pytest.Pytester, examples: dict[str, str]) -> None:
    """Run `examples` (module name -> source) in one session; each module must pass at least one test."""
    files = [pytester.makepyfile(**{name: source}) for name, source in examples.items()]
    settings = [argument for setting in INI_SETTINGS for argument in ("-o", setting)]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *settings, *files)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0, result.stdout.str()
    for name in examples:
        assert re.search(rf"^(PASSED|XFAIL) {name}\.py::", result.stdout.str(), re.MULTILINE), (
            f"{name} (README example) ran no passing test:\n{result.stdout.str()}"
        )


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.slow
def test_readme_examples_pass(pytester: pytest.Pytester) -> None:
    names = [f"test_readme_example_{index + 1}" for index in range(len(EXAMPLES))]
    first = {name: source for name, source in zip(names, EXAMPLES, strict=True) if not source.startswith(CONTINUES)}
    continuations = {name: source for name, source in zip(names, EXAMPLES, strict=True) if source.startswith(CONTINUES)}
    run_examples(pytester, first)
    if continuations:
        run_examples(pytester, continuations)


def test_the_readme_set_up_is_what_ci_runs() -> None:
    """The README's two set-up commands are the ones `.ci/run` runs (quiet flags aside)."""
    set_up = README.read_text().split("## Set-up", 1)[1]
    commands = re.search(r"```bash\n(.*?)```", set_up, re.DOTALL)
    assert commands is not None, "the Set-up section has no bash block"
    readme_lines = [line.strip() for line in commands.group(1).splitlines() if line.strip()]
    ci_lines = {line.strip().replace(" -q ", " ") for line in (README.parent / ".ci" / "run").read_text().splitlines()}
    assert len(readme_lines) == 2, readme_lines
    assert [line for line in readme_lines if line not in ci_lines] == [], f".ci/run runs:\n{sorted(ci_lines)}"
