"""Verdicts on a client of a cluster, from what the client reported in its `ClientJournal`.

- `assert_no_confirmed_loss`: every publish the cluster confirmed was delivered;
- `assert_publishes_accounted`: every publish was confirmed or refused; one sent without waiting for
  a confirmation that never arrived was silently dropped;
- `assert_no_duplicate_effects`: no message took effect twice (the consumer is idempotent);
- `assert_failover_within`: after the last fault the client was connected to a surviving node
  within the budget.

Each failure says what was expected, what was measured and what to do, and ends with the timeline
of cluster events and client observations.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pytest_ipc._errors import IpcAssertionError, IpcUsageError
from pytest_ipc.cluster.core import Cluster
from pytest_ipc.cluster.timeline import CLIENT

Outcome = Literal["confirmed", "refused", "unconfirmed"]
OUTCOMES: tuple[Outcome, ...] = ("confirmed", "refused", "unconfirmed")
SHOWN = 10


def _listing(ids: Iterable[str]) -> str:
    ordered = sorted(ids)
    more = f" ... and {len(ordered) - SHOWN} more" if len(ordered) > SHOWN else ""
    return ", ".join(ordered[:SHOWN]) + more


@dataclass(frozen=True)
class Publish:
    """One publish attempt and how it ended."""

    message_id: str
    outcome: Outcome
    at: float
    detail: str = ""


class ClientJournal:
    """What one client of a cluster saw, written by the client's own callbacks; thread-safe.

    ``published(id, "confirmed")`` after the broker confirmed it, ``"refused"`` after an error or
    a timeout, ``"unconfirmed"`` when the client sent it without waiting; ``processed(id)`` for each
    side effect of a delivery; ``connected(port or node)`` whenever it (re)connects. Its entries go to
    the cluster's timeline too, under the client's `name`.
    """

    def __init__(self, cluster: Cluster, name: str = CLIENT) -> None:
        self.cluster = cluster
        self.name = name
        self._lock = threading.Lock()
        self.publishes: list[Publish] = []
        self.effects: list[str] = []
        self.connections: list[tuple[float, str | None]] = []

    def _event(self, text: str, kind: str, node: str | None = None) -> float:
        return self.cluster.timeline.record(self.name, text, kind=kind, node=node).at

    def published(self, message_id: str, outcome: Outcome, detail: str = "") -> None:
        """Record how the publish of `message_id` ended."""
        if outcome not in OUTCOMES:
            raise IpcUsageError(f"unknown publish outcome {outcome!r}; valid: {', '.join(OUTCOMES)}")
        at = self._event(f"publish {message_id}: {outcome}{f' ({detail})' if detail else ''}", f"publish-{outcome}")
        with self._lock:
            self.publishes.append(Publish(message_id, outcome, at, detail))

    def processed(self, message_id: str) -> None:
        """Record one side effect of `message_id` (call it where the consumer does its work)."""
        with self._lock:
            self.effects.append(message_id)
        self._event(f"processed {message_id}", "effect")

    def connected(self, where: int | str | None) -> None:
        """Record a (re)connection: to a node name, or to a client proxy port (mapped to its node)."""
        node = self.cluster.node_at(where) if isinstance(where, int) else where
        at = self._event(f"connected to {node or where}", "connect", node)
        with self._lock:
            self.connections.append((at, node))

    def disconnected(self, detail: str = "") -> None:
        """Record that the client lost its connection."""
        self._event(f"disconnected{f' ({detail})' if detail else ''}", "disconnect")

    def note(self, text: str) -> None:
        """Anything else worth seeing in the timeline."""
        self._event(text, "note")

    def outcomes(self, outcome: Outcome) -> list[str]:
        """The ids of the publishes that ended with `outcome`."""
        with self._lock:
            return [publish.message_id for publish in self.publishes if publish.outcome == outcome]

    def failure(self, lines: list[str]) -> IpcAssertionError:
        """An assertion error with `lines` and the timeline."""
        return IpcAssertionError(
            "\n".join([*lines, f"timeline of the {self.cluster.kind} cluster (client {self.name!r}):", self.cluster.timeline.render()])
        )


def assert_no_confirmed_loss(journal: ClientJournal, received: Iterable[str]) -> None:
    """Every publish the cluster confirmed is among `received` (the ids a consumer got, after heal)."""
    confirmed, got = set(journal.outcomes("confirmed")), set(received)
    if not confirmed:
        raise journal.failure(
            [
                "expected some publishes to be confirmed by the cluster; measured none, so the test proves nothing: "
                "publish before and after the fault and wait for each confirmation"
            ]
        )
    if lost := confirmed - got:
        raise journal.failure(
            [
                f"expected every one of {len(confirmed)} confirmed publish(es) to be delivered; {len(lost)} lost: {_listing(lost)}",
                "the cluster confirmed them and then lost them: confirmations from a node outside the majority, or a "
                "stream/queue not replicated to a quorum; publish to a replicated stream (quorum queue, R3 stream, "
                "replicas acknowledged with WAIT) and treat only its confirmation as success",
            ]
        )


def assert_publishes_accounted(journal: ClientJournal, received: Iterable[str]) -> None:
    """Every publish was confirmed or refused: none was sent without a confirmation and then lost."""
    dropped = set(journal.outcomes("unconfirmed")) - set(received)
    if not journal.publishes:
        raise journal.failure(["expected the client to publish during the test; it recorded no publish"])
    if dropped:
        unconfirmed = len(journal.outcomes("unconfirmed"))
        raise journal.failure(
            [
                f"expected every publish during the fault to be confirmed or refused; {len(dropped)} of "
                f"{unconfirmed} sent without waiting for a confirmation were silently dropped: {_listing(dropped)}",
                "the client does not use publisher confirms (fire and forget): wait for the broker's confirmation "
                "(JetStream publish ack, AMQP publisher confirms, Redis WAIT) and retry or report the message when "
                "it does not come",
            ]
        )


def assert_no_duplicate_effects(journal: ClientJournal) -> None:
    """No message took effect more than once (redeliveries after a failover must be skipped)."""
    repeated = {message_id: count for message_id, count in Counter(journal.effects).items() if count > 1}
    if repeated:
        shown = ", ".join(f"{message_id} ×{count}" for message_id, count in sorted(repeated.items())[:SHOWN])
        raise journal.failure(
            [
                f"expected each message to take effect once; {len(repeated)} took effect more than once: {shown}",
                "the consumer is not idempotent: a failover redelivers messages whose acknowledgement was lost; "
                "remember processed message ids (or make the effect idempotent) and skip repeats",
            ]
        )


def assert_failover_within(journal: ClientJournal, budget: float) -> float:
    """After the last fault the client connected to a node that survived it within `budget` seconds;
    returns the seconds it took."""
    fault = journal.cluster.unreachable_since_last_fault()
    if fault is None:
        raise journal.failure(["expected a fault (kill, pause, partition) in the timeline before the failover check; none happened"])
    began, down = fault
    survivors = sorted(set(journal.cluster.names) - down)
    with journal._lock:
        after = [(at, node) for at, node in journal.connections if at >= began and node in survivors]
    if after and after[0][0] - began <= budget:
        return after[0][0] - began
    measured = (
        f"it connected to {after[0][1]} only {after[0][0] - began:.3f} s after it"
        if after
        else "it never connected to a surviving node after it"
    )
    raise journal.failure(
        [
            f"expected the client to reconnect to a surviving node ({', '.join(survivors)}) within {budget:g} s after "
            f"the fault at {began:.3f} s (nodes out: {', '.join(sorted(down)) or 'none'}); {measured}",
            "give the client every node's address and let it reconnect on connection loss (e.g. nats-py "
            "allow_reconnect and several servers, redis-py Sentinel, pika with several hosts), with a reconnect "
            "delay well under the budget",
        ]
    )


def assert_cluster_client(journal: ClientJournal, received: Iterable[str], *, failover_budget: float | None = None) -> None:
    """All the verdicts at once: nothing confirmed lost, nothing silently dropped, no effect twice, and
    (with `failover_budget`) a reconnect to a survivor in time."""
    received = list(received)
    assert_publishes_accounted(journal, received)
    assert_no_confirmed_loss(journal, received)
    assert_no_duplicate_effects(journal)
    if failover_budget is not None:
        assert_failover_within(journal, failover_budget)
