"""Where the container Toxiproxy's image comes from: command line, environment, ini, default."""

from __future__ import annotations

import re

import pytest

from pytest_ipc.backends.toxiproxy_container import DEFAULT_IMAGE, IMAGE_ENV

PRINT_IMAGE = """
from pytest_ipc.fixtures.toxiproxy import toxiproxy_image

def test_image(pytestconfig):
    print("IMAGE=" + toxiproxy_image(pytestconfig))
"""


def image_chosen(pytester: pytest.Pytester, *args: str) -> str:
    result = pytester.runpytest("-s", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    found = re.search(r"IMAGE=(\S+)", result.stdout.str())
    assert found is not None, result.stdout.str()
    return found.group(1)


def test_command_line_then_environment_then_ini_then_the_pinned_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(PRINT_IMAGE)
    monkeypatch.delenv(IMAGE_ENV, raising=False)
    assert image_chosen(pytester) == DEFAULT_IMAGE

    pytester.makeini("[pytest]\nipc_toxiproxy_image = from/ini:1\n")
    assert image_chosen(pytester) == "from/ini:1"
    monkeypatch.setenv(IMAGE_ENV, "from/env:1")
    assert image_chosen(pytester) == "from/env:1"
    assert image_chosen(pytester, "--ipc-toxiproxy-image=from/cli:1") == "from/cli:1"
