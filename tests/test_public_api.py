"""The public API is what `pytest_ipc/__init__.py` lists: every name must import, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_ipc


@pytest.mark.parametrize("name", pytest_ipc.__all__)
def test_public_name_resolves(name: str) -> None:
    assert getattr(pytest_ipc, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pytest_ipc.Nope  # noqa: B018


def test_import_does_not_load_optional_extras() -> None:
    code = "import sys, pytest_ipc; print(sorted(m for m in ('pika', 'pact', 'testcontainers', 'redis') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
