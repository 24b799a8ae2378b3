"""Tolerant-reader checks: evolve a JSON response the way a compatible provider release may.

A compatible provider can add fields anywhere, emit keys in any order and leave optional fields out.
A client that breaks on any of these is not a tolerant reader and will break on the next release.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from pytest_ipc._optional import require
from pytest_ipc.contracts.errors import ContractError


def deranged(keys: list[str]) -> list[str]:
    """`keys` in an order where none keeps its place: reversed, and for an odd count the middle one
    (which reversing leaves put) swapped to the front. Deterministic, unlike a shuffle that may
    leave the order as it was, so every key-order-dependent reader breaks on every run."""
    order = keys[::-1]
    if len(order) % 2 and len(order) > 1:
        middle = len(order) // 2
        order[0], order[middle] = order[middle], order[0]
    return order


class ResponseEvolver:
    """Callable JSON transform: `evolver(value)` returns the evolved copy and notes what changed.

    `drop_optional` names the fields a provider may omit: a bare key (`"note"`, at any depth) or a
    dotted path from the root (`"order.note"`). `changes` lists only what was really done: a
    dropped field that was there, an added field, keys whose order changed (every key moves, see
    `deranged`). The same seed gives the same added fields.
    """

    def __init__(
        self,
        seed: int = 0,
        drop_optional: Iterable[str] = (),
        add_fields: bool = True,
        reorder: bool = True,
    ) -> None:
        self.seed = seed
        self.drop_optional = frozenset(drop_optional)
        self.add_fields = add_fields
        self.reorder = reorder
        self.changes: list[str] = []
        self._random = random.Random(seed)
        self._faker = require("faker", extra="fake", feature="the tolerant_reader marker").Faker()
        self._faker.seed_instance(seed)

    def __call__(self, value: object) -> object:
        return self._evolve(value, "$")

    def _evolve(self, value: object, path: str) -> object:
        if isinstance(value, list):
            return [self._evolve(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        evolved: dict[str, Any] = {}
        for key, item in value.items():
            child = f"{path}.{key}"
            if key in self.drop_optional or child[2:] in self.drop_optional:
                self.changes.append(f"dropped optional {child}")
                continue
            evolved[key] = self._evolve(item, child)
        if self.add_fields:
            name = f"x_{self._faker.unique.word()}"
            evolved[name] = self._fake_value()
            self.changes.append(f"added {path}.{name}")
        if self.reorder and len(evolved) > 1:
            evolved = {key: evolved[key] for key in deranged(list(evolved))}
            self.changes.append(f"reordered the keys of {path}")
        return evolved

    def _fake_value(self) -> object:
        makers = (
            self._faker.word,
            self._faker.pyint,
            lambda: self._faker.pyfloat(right_digits=2),
            self._faker.pybool,
            lambda: {"note": self._faker.sentence()},
            lambda: [self._faker.word(), self._faker.word()],
            lambda: None,
        )
        return self._random.choice(makers)()

    def failure(self, error: BaseException) -> ContractError:
        """The error to fail a test with when the client broke on evolved responses."""
        changes = sorted(set(self.changes)) or ["(no response was evolved: did the test call the stub?)"]
        return ContractError(
            f"the client is not a tolerant reader: it broke once responses were evolved "
            f"(seed={self.seed}) with {type(error).__name__}: {error}\nchanges made to the responses:",
            changes,
            error,
        )
