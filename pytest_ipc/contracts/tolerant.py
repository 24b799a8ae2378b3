"""Where the tolerant-reader check evolves responses: the `http_stub` fixture and respx routes.

The stub has a JSON hook (`json_transform`); respx has none, so the test's router answers through
a wrapper that evolves every JSON response its routes produce, pass-through calls excepted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from pytest_ipc.contracts.evolve import ResponseEvolver

if TYPE_CHECKING:
    import respx

    from pytest_ipc.stub import HttpStub

EVOLVABLE_FIXTURES = ("http_stub", "respx_mock")


class NothingToEvolve(Exception):
    """The test uses no fixture whose responses can be evolved."""


@contextmanager
def evolved_responses(fixtures: Mapping[str, Any], evolver: ResponseEvolver) -> Iterator[None]:
    """Evolve the JSON responses of whichever of `EVOLVABLE_FIXTURES` the test uses."""
    used = [name for name in EVOLVABLE_FIXTURES if name in fixtures]
    if not used:
        raise NothingToEvolve(
            f"the test uses none of the fixtures whose responses can be evolved: {', '.join(EVOLVABLE_FIXTURES)}"
        )
    with ExitStack() as stack:
        if "http_stub" in fixtures:
            stack.enter_context(_evolving_stub(fixtures["http_stub"], evolver))
        if "respx_mock" in fixtures:
            stack.enter_context(_evolving_respx(fixtures["respx_mock"], evolver))
        yield


@contextmanager
def _evolving_stub(stub: HttpStub, evolver: ResponseEvolver) -> Iterator[None]:
    stub.json_transform = evolver
    stub.journal.clear()  # the re-run's calls are counted afresh
    try:
        yield
    finally:
        stub.json_transform = None


@contextmanager
def _evolving_respx(router: respx.MockRouter, evolver: ResponseEvolver) -> Iterator[None]:
    plain_handler, plain_async_handler = router.handler, router.async_handler

    def handler(request: httpx.Request) -> httpx.Response:
        return _evolve_response(plain_handler(request), evolver)

    async def async_handler(request: httpx.Request) -> httpx.Response:
        return _evolve_response(await plain_async_handler(request), evolver)

    router.handler, router.async_handler = handler, async_handler  # type: ignore[method-assign]
    router.reset()  # call counts start afresh for the re-run
    try:
        yield
    finally:
        del router.handler, router.async_handler


def _evolve_response(response: httpx.Response, evolver: ResponseEvolver) -> httpx.Response:
    if "json" not in response.headers.get("content-type", ""):
        return response
    headers = [(name, value) for name, value in response.headers.multi_items() if name.lower() != "content-length"]
    return httpx.Response(response.status_code, headers=headers, json=evolver(response.json()))
