"""The HTTP endpoints the Pact verifier calls back: provider states and message producers.

pact-python serves these from its own threads, retries a raising state handler for minutes and
hides the exception. Serving them ourselves lets a raising handler answer 400 at once (the verifier
gives up on 4xx) while the original exception is kept, so the test fails fast with it.

The handlers run on the test's own thread (the verifier runs on a helper thread meanwhile), so they
may touch whatever the test's fixtures set up, thread-bound objects such as SQLite connections too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pytest_ipc._http import Exchange, HttpServer, Request, Response
from pytest_ipc._loop import LoopThread
from pytest_ipc.contracts.messages import PublishedMessage, as_published
from pytest_ipc.contracts.states import ProviderStates

STATE_PATH = "/_pact/state"
MESSAGE_PATH = "/_pact/message"
MessageProducer = Callable[..., Any]
Call = tuple[Callable[[], Response], "Future[Response]"]


@dataclass
class VerificationContext:
    """What the callbacks of one verification run use, and the errors they caught."""

    states: ProviderStates
    messages: Mapping[str, MessageProducer] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)
    calls: queue.SimpleQueue[Call | None] = field(default_factory=queue.SimpleQueue)

    def run_alongside(self, verify: Callable[[], None]) -> None:
        """Run `verify` on a helper thread while this thread answers its callbacks; re-raise what
        `verify` raised."""
        raised: list[BaseException] = []

        def run() -> None:
            try:
                verify()
            except BaseException as error:  # handed to the test's thread
                raised.append(error)
            finally:
                self.calls.put(None)

        helper = threading.Thread(target=run, name="pytest-ipc-pact-verifier", daemon=True)
        helper.start()
        while (call := self.calls.get()) is not None:
            work, future = call
            try:
                future.set_result(work())
            except BaseException as error:  # answered as 400, re-raised by the caller
                future.set_exception(error)
        helper.join()
        if raised:
            raise raised[0]


class CallbackServer:
    """One loopback server per process, shared by every verification it runs (one at a time)."""

    def __init__(self) -> None:
        self._loop = LoopThread("pytest-ipc-pact-callbacks").start()
        self._server = HttpServer(self._handle)
        self._loop.run(self._server.start())
        self.host, self.port = self._server.address
        self.context: VerificationContext | None = None

    @property
    def state_url(self) -> str:
        return f"http://{self.host}:{self.port}{STATE_PATH}"

    def stop(self) -> None:
        self._loop.run(self._server.stop())
        self._loop.stop()

    async def _handle(self, request: Request, _exchange: Exchange) -> Response:
        context = self.context
        if context is None or request.method != "POST":
            return _text(404, "no verification is running")
        try:
            payload = json.loads(request.body or b"{}")
            if request.path == STATE_PATH:
                return await _on_test_thread(context, lambda: _change_state(context.states, payload))
            if request.path == MESSAGE_PATH:
                return await _on_test_thread(context, lambda: _produce_message(context.messages, payload))
        except Exception as error:  # kept and re-raised in the test
            context.errors.append(error)
            return _text(400, f"{type(error).__name__}: {error}")
        return _text(404, f"unknown callback {request.path}")


async def _on_test_thread(context: VerificationContext, work: Callable[[], Response]) -> Response:
    future: Future[Response] = Future()
    context.calls.put((work, future))
    return await asyncio.wrap_future(future)


def _change_state(states: ProviderStates, payload: dict[str, Any]) -> Response:
    """Set up or tear down one state; the handler's values go back to the verifier as JSON, which
    injects them into the interaction (pact-js `fromProviderState`, `ProviderState` generators)."""
    name = payload.get("state") or ""
    values: dict[str, Any] = {}
    if name:
        if payload.get("action") == "teardown":
            states.teardown(name)
        else:
            values = states.setup(name, payload.get("params") or {})
    return Response(200, json.dumps(values).encode(), [("content-type", "application/json")])


def _produce_message(messages: Mapping[str, MessageProducer], payload: dict[str, Any]) -> Response:
    description = payload.get("description", "")
    if description not in messages:
        known = ", ".join(repr(name) for name in sorted(messages)) or "none"
        raise LookupError(f"no producer for message {description!r}; producers: {known}")
    message: PublishedMessage = as_published(messages[description]())
    headers = [("content-type", message.content_type)]
    if message.metadata:
        encoded = base64.b64encode(json.dumps(message.metadata).encode()).decode()
        headers.append(("pact-message-metadata", encoded))
    return Response(200, message.body, headers)


def _text(status: int, text: str) -> Response:
    return Response(status, text.encode(), [("content-type", "text/plain; charset=utf-8")])
