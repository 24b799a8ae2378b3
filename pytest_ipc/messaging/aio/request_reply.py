"""Async request/reply: the responder and the correlating client of `messaging.request_reply`,
sharing their record and pairing logic (`ResponderRecord`, `RequestPairing`); `assert_all_correlated`
judges the round trips of both."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Self

from pytest_ipc.messaging.aio.channel import CaptureSubscription, Channel, Delivery, Subscription
from pytest_ipc.messaging.aio.faults import Duplicate, Reorder
from pytest_ipc.messaging.message import Message, new_id
from pytest_ipc.messaging.request_reply import Reply, RequestPairing, ResponderRecord, RoundTrip, echo_reply


class Responder(ResponderRecord):
    """Serves requests from a channel (see `messaging.request_reply.Responder`); made with
    `await Responder.serve(channel, ...)`, closed with `await close()` or `async with`."""

    def __init__(
        self,
        channel: Channel,
        compute: Callable[[Message], bytes] = echo_reply,
        *,
        duplicate_probability: float = 0.0,
        reorder_window: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(compute)
        self.channel = channel
        send: Callable[[Reply], Awaitable[object]] = self._send
        self._reorder: Reorder[Reply] | None = None
        if reorder_window > 1:
            send = self._reorder = Reorder(send, reorder_window, seed=seed)
        if duplicate_probability > 0:
            send = Duplicate(send, duplicate_probability, seed=seed)
        self._send_with_faults = send
        self.subscription: Subscription | None = None

    @classmethod
    async def serve(
        cls,
        channel: Channel,
        compute: Callable[[Message], bytes] = echo_reply,
        *,
        duplicate_probability: float = 0.0,
        reorder_window: int = 1,
        seed: int = 0,
    ) -> Responder:
        """A responder already consuming from `channel`."""
        responder = cls(channel, compute, duplicate_probability=duplicate_probability,
                        reorder_window=reorder_window, seed=seed)
        responder.subscription = await channel.consume(responder._serve)
        return responder

    async def _serve(self, delivery: Delivery) -> None:
        await self._send_with_faults(self._reply_to(delivery.message))

    async def _send(self, reply: Reply) -> None:
        address, message = reply
        await self.channel.bus.at(address).publish(message)

    async def close(self) -> None:
        """Stop serving; flush replies a reordering window still holds."""
        if self.subscription is not None:
            await self.subscription.close()
        if self._reorder is not None:
            await self._reorder.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()


class RequestReply(RequestPairing):
    """A correlation-aware async client (see `messaging.request_reply.RequestReply`); made with
    `await RequestReply.open(request_channel)`."""

    def __init__(self, request_channel: Channel, reply_channel: Channel, replies: CaptureSubscription) -> None:
        super().__init__(reply_channel.address)
        self.request_channel = request_channel
        self.reply_channel = reply_channel
        self.replies = replies

    @classmethod
    async def open(cls, request_channel: Channel, reply_channel: Channel | None = None) -> RequestReply:
        """A client listening on its reply channel (a new private one unless given)."""
        reply_channel = reply_channel or await request_channel.bus.reply_channel(f"replies-{new_id()[:8]}")
        return cls(request_channel, reply_channel, await reply_channel.capture())

    async def send_all(self, bodies: Iterable[bytes]) -> list[Message]:
        """Publish one request per body, all in flight together."""
        requests = self._new_requests(bodies)
        await asyncio.gather(*(self.request_channel.publish(request) for request in requests))
        self.requests.extend(requests)
        return requests

    async def wait_for_replies(self, timeout: float = 10.0) -> list[RoundTrip]:
        """Wait until every request has a reply (or time out), then pair them by correlation id."""
        # the unanswered requests show up in assert_all_correlated, with the rest of the picture
        with contextlib.suppress(AssertionError):
            await self.replies.wait_for(self._all_answered, timeout)
        return self.round_trips()

    def round_trips(self) -> list[RoundTrip]:
        """Each request with the first reply carrying its correlation id (or None)."""
        return self._pair(self.replies.messages)

    async def request_all(self, bodies: Sequence[bytes], timeout: float = 10.0) -> list[RoundTrip]:
        """`send_all`, then `wait_for_replies`."""
        await self.send_all(bodies)
        return await self.wait_for_replies(timeout)

    @property
    def duplicate_replies(self) -> int:
        """Replies beyond the first for a correlation id: what this client ignored."""
        return self._duplicates(self.replies.messages)

    async def close(self) -> None:
        """Stop listening for replies."""
        await self.replies.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
