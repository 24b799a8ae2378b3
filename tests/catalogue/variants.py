"""The catalogue's shape: a variant is one client, correct or with exactly one named defect.

A property test is written once and parametrized over its variants (`variants(...)`): a correct
twin must pass it, a broken variant must fail it with a message that names its defect (`verdict`).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

TLS = ssl.create_default_context()  # one context for every httpx client: building one costs tens of ms
PRICE = 3.5
BUDGET = 1.0  # the deadline a correct client keeps, in seconds


@dataclass(frozen=True)
class Variant:
    """`make(base_url)` builds the client; `defect` is None for a correct twin, else the regex its
    failure message must match (searched across lines)."""

    name: str
    library: str
    make: Callable[[str], Any]
    defect: str | None = None


def variants(*listed: Variant) -> pytest.MarkDecorator:
    """Parametrize a property test over `listed`, with ids like ``requests-no-timeout``."""
    return pytest.mark.parametrize("variant", listed, ids=[f"{variant.library}-{variant.name}" for variant in listed])


@contextmanager
def verdict(variant: Variant) -> Iterator[None]:
    """A correct twin passes the block; a broken variant fails it naming its defect."""
    if variant.defect is None:
        yield
        return
    with pytest.raises(AssertionError, match=f"(?s){variant.defect}"):
        yield
