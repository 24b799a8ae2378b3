"""Request/reply over any bus: a correlating client, a fault-injecting responder, and the assertion
that every reply belongs to its request."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pytest_ipc.messaging.channel import Channel
from pytest_ipc.messaging.faults import Duplicate, Reorder
from pytest_ipc.messaging.message import Delivery, Message, new_id

Reply = tuple[str, Message]
"""A reply and the address it goes to (the request's reply_to)."""


def echo_reply(request: Message) -> bytes:
    """The default responder: a reply a test can recompute from its request."""
    return b"re:" + request.body


@dataclass(frozen=True)
class RoundTrip:
    """A request and the reply a client paired with it (None: no reply)."""

    request: Message
    reply: Message | None


class Responder:
    """Serves requests from `channel`: replies to `reply_to` with the request's correlation id.

    `duplicate_probability` sends some replies twice and `reorder_window` shuffles them, as retries
    and parallel workers do, so a client that pairs replies by arrival order is caught.
    """

    def __init__(
        self,
        channel: Channel,
        compute: Callable[[Message], bytes] = echo_reply,
        *,
        duplicate_probability: float = 0.0,
        reorder_window: int = 1,
        seed: int = 0,
    ) -> None:
        self.bus = channel.bus
        self.compute = compute
        self.served = 0
        send: Callable[[Reply], object] = self._send
        self._reorder: Reorder[Reply] | None = None
        if reorder_window > 1:
            send = self._reorder = Reorder(send, reorder_window, seed=seed)
        if duplicate_probability > 0:
            send = Duplicate(send, duplicate_probability, seed=seed)
        self._send_with_faults = send
        self.subscription = channel.consume(self._serve)

    def _serve(self, delivery: Delivery) -> None:
        request = delivery.message
        if request.reply_to is None:
            raise ValueError(f"request {request.message_id} has no reply_to: nowhere to answer")
        reply = Message(self.compute(request), correlation_id=request.correlation_id)
        self.served += 1
        self._send_with_faults((request.reply_to, reply))

    def _send(self, reply: Reply) -> None:
        address, message = reply
        self.bus.at(address).publish(message)

    def close(self) -> None:
        self.subscription.close()
        if self._reorder is not None:
            self._reorder.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class RequestReply:
    """A correlation-aware client: each request carries `reply_to` (its private reply channel) and a
    unique correlation id; replies are paired by that id, ignoring duplicates and arrival order."""

    def __init__(self, request_channel: Channel, reply_channel: Channel | None = None) -> None:
        self.request_channel = request_channel
        self.reply_channel = reply_channel or request_channel.bus.reply_channel(f"replies-{new_id()[:8]}")
        self.replies = self.reply_channel.capture()
        self.requests: list[Message] = []

    def send_all(self, bodies: Iterable[bytes], concurrency: int = 8) -> list[Message]:
        """Publish one request per body from `concurrency` threads at once, all in flight together."""
        requests = [Message(body, correlation_id=new_id(), reply_to=self.reply_channel.address) for body in bodies]
        with ThreadPoolExecutor(concurrency, thread_name_prefix="request") as pool:
            list(pool.map(self.request_channel.publish, requests))
        self.requests.extend(requests)
        return requests

    def wait_for_replies(self, timeout: float = 10.0) -> list[RoundTrip]:
        """Wait until every request has a reply (or time out), then pair them by correlation id."""
        wanted = {request.correlation_id for request in self.requests}
        try:
            self.replies.wait_for(lambda replies: wanted <= {reply.correlation_id for reply in replies}, timeout)
        except AssertionError:
            pass  # the unmatched requests show up in assert_all_correlated, with the rest of the picture
        return self.round_trips()

    def round_trips(self) -> list[RoundTrip]:
        first_reply: dict[str | None, Message] = {}
        for reply in self.replies.messages:
            first_reply.setdefault(reply.correlation_id, reply)
        return [RoundTrip(request, first_reply.get(request.correlation_id)) for request in self.requests]

    def request_all(self, bodies: Sequence[bytes], timeout: float = 10.0, concurrency: int = 8) -> list[RoundTrip]:
        self.send_all(bodies, concurrency)
        return self.wait_for_replies(timeout)

    @property
    def duplicate_replies(self) -> int:
        """Replies beyond the first for a correlation id: what this client ignored."""
        return len(self.replies) - len({reply.correlation_id for reply in self.replies.messages})

    def close(self) -> None:
        self.replies.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def assert_all_correlated(
    round_trips: Iterable[RoundTrip], expected_reply: Callable[[Message], bytes] | None = echo_reply
) -> None:
    """Every request got exactly one reply, carrying its correlation id (and, unless `expected_reply`
    is None, the body the responder computes from it). Lists unmatched, mismatched and duplicate pairs."""
    trips = list(round_trips)
    unmatched: list[str] = []
    mismatched: list[str] = []
    request_counts: dict[str | None, int] = {}
    reply_users: dict[str, int] = {}
    for trip in trips:
        request, reply = trip.request, trip.reply
        request_counts[request.correlation_id] = request_counts.get(request.correlation_id, 0) + 1
        if reply is None:
            unmatched.append(f"request {request.correlation_id} {request.body!r}: no reply")
            continue
        reply_users[reply.message_id] = reply_users.get(reply.message_id, 0) + 1
        wrong_id = reply.correlation_id != request.correlation_id
        wrong_body = expected_reply is not None and reply.body != expected_reply(request)
        if wrong_id or wrong_body:
            mismatched.append(
                f"request {request.correlation_id} {request.body!r} got reply "
                f"{reply.correlation_id} {reply.body!r}"
            )
    duplicates = [f"request {cid} paired {n} times" for cid, n in request_counts.items() if n > 1]
    duplicates += [f"reply {mid} paired with {n} requests" for mid, n in reply_users.items() if n > 1]
    if unmatched or mismatched or duplicates:
        sections = [(
            f"{len(unmatched)} unmatched, {len(mismatched)} mismatched, {len(duplicates)} duplicate "
            f"among {len(trips)} request/reply pair(s)"
        )]
        for title, entries in (("unmatched", unmatched), ("mismatched", mismatched), ("duplicate", duplicates)):
            sections += [f"  {title}: {entry}" for entry in entries[:20]]
        raise AssertionError("\n".join(sections))
