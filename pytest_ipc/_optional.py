"""Optional dependencies: each feature that needs an extra imports it here, so a missing one is a
clear error naming the extra to install rather than a bare ImportError deep in a fixture."""

from __future__ import annotations

import importlib
from types import ModuleType

from pytest_ipc._errors import IpcUsageError


class MissingExtra(IpcUsageError):
    """A feature needs a package of an optional extra that is not installed."""


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import `module`, or raise `MissingExtra` saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(
            f"{feature} needs the {module.partition('.')[0]} package, which is not installed: "
            f"pip install 'pytest-ipc[{extra}]'"
        ) from error
