"""The link from a stub server (embedded or WireMock) back to the `HttpStub` it serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ipc.stub.server import HttpStub


class AttachedServer:
    """Base of the stub servers: `HttpStub` attaches itself; the server reads its routes and journal."""

    _attached: HttpStub | None = None

    def attach(self, stub: HttpStub) -> None:
        self._attached = stub

    @property
    def _stub(self) -> HttpStub:
        if self._attached is None:
            raise RuntimeError("the server serves no stub: HttpStub attaches it")
        return self._attached
