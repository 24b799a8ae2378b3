"""Request/reply over any bus: a correlating client, a fault-injecting responder that records what it
answered, and the verdict that every request got its own reply.

How a pair is judged: a reply belongs to the request it was computed from. The `Responder` knows
that for every reply it sent (by the reply's message id, or its body when the client kept only the
body), so `assert_all_correlated(round_trips, responder=...)` needs no id of ours on the client's
messages: a client that correlates by its own correlation ids, by a reply address per request
(NATS inboxes) or in any other way passes as long as each request gets its own reply. Request
bodies must be distinct within a run, so that the request a reply answers can be told. The
responder's record of the requests as they arrived (their correlation ids and reply addresses)
then explains a wrong pair: a client that ignores correlation ids, or requests that carry none.

`ResponderRecord` and `RequestPairing` hold that logic once, for the sync classes here and the async
ones in `messaging.aio`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc.messaging.channel import Channel
from pytest_ipc.messaging.faults import Duplicate, Reorder
from pytest_ipc.messaging.message import Delivery, Message, new_id

Reply = tuple[str, Message]
"""A reply and the address it goes to (the request's reply_to)."""

SHOWN = 20
"""How many pairs a failure message lists."""


def echo_reply(request: Message) -> bytes:
    """The default responder: a reply a test can recompute from its request."""
    return b"re:" + request.body


@dataclass(frozen=True)
class RoundTrip:
    """A request and the reply a client paired with it (None: no reply). For a client under test that
    works with bodies, `RoundTrip(Message(sent_body), Message(reply_body))` is enough."""

    request: Message
    reply: Message | None


class ResponderRecord:
    """What a responder answered: each request as it arrived and the reply computed from it."""

    def __init__(self, compute: Callable[[Message], bytes]) -> None:
        self.compute = compute
        self.served = 0
        self._answers: dict[str, Message] = {}  # reply message id -> the request it answers
        self._requests: list[Message] = []
        self._lock = threading.Lock()

    def _reply_to(self, request: Message) -> Reply:
        """The reply to `request` and where it goes (the request's correlation id echoed)."""
        if request.reply_to is None:
            raise IpcUsageError(
                f"request {request.body[:40]!r} has no reply_to: nowhere to answer; requests must name "
                "their reply address"
            )
        reply = Message(self.compute(request), correlation_id=request.correlation_id)
        with self._lock:
            self.served += 1
            self._answers[reply.message_id] = request
            self._requests.append(request)
        return request.reply_to, reply

    @property
    def requests(self) -> list[Message]:
        """The requests as they arrived, in arrival order."""
        with self._lock:
            return list(self._requests)

    def request_answered_by(self, reply: Message) -> Message | None:
        """The request `reply` was computed from: by the reply's message id when it is one of ours,
        else by its body (None when no reply of ours has that body)."""
        with self._lock:
            if reply.message_id in self._answers:
                return self._answers[reply.message_id]
            for request in self._answers.values():
                if self.compute(request) == reply.body:
                    return request
        return None


class RequestPairing:
    """A correlating client's bookkeeping: its requests, each with a unique correlation id and its
    reply address, and the replies paired with them by that id (duplicates and order ignored)."""

    def __init__(self, reply_address: str) -> None:
        self.reply_address = reply_address
        self.requests: list[Message] = []

    def _new_requests(self, bodies: Iterable[bytes]) -> list[Message]:
        return [Message(body, correlation_id=new_id(), reply_to=self.reply_address) for body in bodies]

    def _all_answered(self, replies: list[Message]) -> bool:
        return {request.correlation_id for request in self.requests} <= {reply.correlation_id for reply in replies}

    def _pair(self, replies: list[Message]) -> list[RoundTrip]:
        first_reply: dict[str | None, Message] = {}
        for reply in replies:
            first_reply.setdefault(reply.correlation_id, reply)
        return [RoundTrip(request, first_reply.get(request.correlation_id)) for request in self.requests]

    @staticmethod
    def _duplicates(replies: list[Message]) -> int:
        return len(replies) - len({reply.correlation_id for reply in replies})


class Responder(ResponderRecord):
    """Serves requests from `channel`: replies to `reply_to` with the request's correlation id, and
    records which request each reply answers (the evidence `assert_all_correlated` judges by).

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
        super().__init__(compute)
        self.bus = channel.bus
        send: Callable[[Reply], object] = self._send
        self._reorder: Reorder[Reply] | None = None
        if reorder_window > 1:
            send = self._reorder = Reorder(send, reorder_window, seed=seed)
        if duplicate_probability > 0:
            send = Duplicate(send, duplicate_probability, seed=seed)
        self._send_with_faults = send
        self.subscription = channel.consume(self._serve)

    def _serve(self, delivery: Delivery) -> None:
        self._send_with_faults(self._reply_to(delivery.message))

    def _send(self, reply: Reply) -> None:
        address, message = reply
        self.bus.at(address).publish(message)

    def close(self) -> None:
        """Stop serving; flush replies a reordering window still holds."""
        self.subscription.close()
        if self._reorder is not None:
            self._reorder.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class RequestReply(RequestPairing):
    """A correlation-aware client: each request carries `reply_to` (its private reply channel) and a
    unique correlation id; replies are paired by that id, ignoring duplicates and arrival order."""

    def __init__(self, request_channel: Channel, reply_channel: Channel | None = None) -> None:
        self.request_channel = request_channel
        self.reply_channel = reply_channel or request_channel.bus.reply_channel(f"replies-{new_id()[:8]}")
        super().__init__(self.reply_channel.address)
        self.replies = self.reply_channel.capture()

    def send_all(self, bodies: Iterable[bytes], concurrency: int = 8) -> list[Message]:
        """Publish one request per body from `concurrency` threads at once, all in flight together."""
        requests = self._new_requests(bodies)
        with ThreadPoolExecutor(concurrency, thread_name_prefix="request") as pool:
            list(pool.map(self.request_channel.publish, requests))
        self.requests.extend(requests)
        return requests

    def wait_for_replies(self, timeout: float = 10.0) -> list[RoundTrip]:
        """Wait until every request has a reply (or time out), then pair them by correlation id."""
        # the unanswered requests show up in assert_all_correlated, with the rest of the picture
        with contextlib.suppress(AssertionError):
            self.replies.wait_for(self._all_answered, timeout)
        return self.round_trips()

    def round_trips(self) -> list[RoundTrip]:
        """Each request with the first reply carrying its correlation id (or None)."""
        return self._pair(self.replies.messages)

    def request_all(self, bodies: Sequence[bytes], timeout: float = 10.0, concurrency: int = 8) -> list[RoundTrip]:
        """`send_all`, then `wait_for_replies`."""
        self.send_all(bodies, concurrency)
        return self.wait_for_replies(timeout)

    @property
    def duplicate_replies(self) -> int:
        """Replies beyond the first for a correlation id: what this client ignored."""
        return self._duplicates(self.replies.messages)

    def close(self) -> None:
        """Stop listening for replies."""
        self.replies.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def assert_all_correlated(
    round_trips: Iterable[RoundTrip],
    *,
    responder: ResponderRecord | None = None,
    expected_reply: Callable[[Message], bytes] | None = echo_reply,
) -> None:
    """Every request got its own reply: the reply computed from it.

    With `responder` (ours), its record decides which request each reply answers, and what it saw on
    the wire explains a wrong pair. Without one, a reply is its request's when its body is
    `expected_reply(request)`, or, with `expected_reply=None`, when it carries the request's
    correlation id. Lists unanswered and wrongly paired requests and names the client's defect."""
    trips = list(round_trips)
    bodies = Counter(trip.request.body for trip in trips)
    repeated = [body for body, count in bodies.items() if count > 1]
    if repeated:
        raise IpcUsageError(
            f"request bodies must be distinct, so that a reply can be traced to its request; "
            f"{repeated[0][:40]!r} was sent {bodies[repeated[0]]} times"
        )
    unanswered: list[str] = []
    wrong: list[str] = []
    defects: list[str] = []
    for trip in trips:
        request, reply = trip.request, trip.reply
        if reply is None:
            unanswered.append(f"request {request.body[:40]!r}: no reply")
            continue
        verdict = _judge(request, reply, responder, expected_reply)
        if verdict is not None:
            wrong.append(verdict[0])
            if verdict[1] not in defects:
                defects.append(verdict[1])
    if not unanswered and not wrong:
        return
    lines = [
        f"expected every request to get its own reply; among {len(trips)} request/reply pair(s): "
        f"{len(unanswered)} unanswered, {len(wrong)} given another request's reply"
    ]
    lines += [f"  {defect}" for defect in defects]
    lines += [f"  wrong pair: {entry}" for entry in wrong[:SHOWN]]
    lines += [f"  unanswered: {entry}" for entry in unanswered[:SHOWN]]
    if unanswered and not wrong:
        lines.append(
            "  no reply arrived for these, or the client discarded its own: is the responder up, and does "
            "the client wait long enough?"
        )
    raise IpcAssertionError("\n".join(lines))


def _judge(
    request: Message,
    reply: Message,
    responder: ResponderRecord | None,
    expected_reply: Callable[[Message], bytes] | None,
) -> tuple[str, str] | None:
    """None when `reply` is `request`'s own, else (what went wrong, the defect it shows)."""
    label = f"request {request.body[:40]!r} got reply {reply.body[:40]!r}"
    if responder is not None:
        answered = responder.request_answered_by(reply)
        if answered is not None and answered.body == request.body:
            return None
        if answered is None:
            return f"{label}, which the responder never sent", "the client returned a reply the responder never sent"
        return f"{label}, the reply to request {answered.body[:40]!r}", _defect(request, answered, responder)
    if expected_reply is not None:
        if reply.body == expected_reply(request):
            return None
        return f"{label}, expected {expected_reply(request)[:40]!r}", (
            "the client paired a reply with the wrong request: match each reply to its request by "
            "correlation id"
        )
    if request.correlation_id is None:
        raise IpcUsageError(
            f"request {request.body[:40]!r} carries no correlation id and no expected_reply was given: "
            "nothing to judge the pair by; pass responder= or expected_reply="
        )
    if reply.correlation_id == request.correlation_id:
        return None
    return f"{label} with correlation id {reply.correlation_id}, expected {request.correlation_id}", (
        "the client ignores correlation ids: it took a reply whose correlation id is not its request's"
    )


def _defect(request: Message, answered: Message, responder: ResponderRecord) -> str:
    """Why a client took `answered`'s reply for `request`, from the requests as they arrived."""
    arrived = next((seen for seen in responder.requests if seen.body == request.body), None)
    if arrived is None:
        return "the client took a reply for a request the responder never received"
    if arrived.correlation_id is None:
        if arrived.reply_to == answered.reply_to:
            return (
                "the client's requests carry no correlation id and share one reply address, so replies "
                "cannot be told apart: put a unique correlation id on each request and match replies by it"
            )
        return "the client took a reply that was sent to another request's reply address"
    if arrived.correlation_id == answered.correlation_id:
        return f"the client reused correlation id {arrived.correlation_id} on several requests: make each one unique"
    return (
        f"the client ignores correlation ids: it took the reply carrying correlation id "
        f"{answered.correlation_id} for its request carrying {arrived.correlation_id}; match each reply to "
        "its request by correlation id and drop replies nobody waits for"
    )
