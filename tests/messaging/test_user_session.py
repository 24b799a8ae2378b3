"""The messaging helpers as a user meets them: a whole pytest run on the plugin's broker fixtures,
with a failing test whose report names the duplicated effects."""

from __future__ import annotations

import pytest

USER_TESTS = '''
from pytest_ipc.messaging import channels_for, Capture, Message
from pytest_ipc.messaging.assertions import IdempotencyProbe, IdempotentConsumer
from pytest_ipc.messaging.faults import duplicate

def run(redis_broker, make_consumer):
    with channels_for(redis_broker) as bus:
        payments = bus.queue("payments")
        arrived, probe = Capture("arrived"), IdempotencyProbe()
        effect = make_consumer(lambda delivery: probe.record(delivery.message.message_id))
        payments.consume(lambda delivery: (arrived.add(delivery.message), effect(delivery)))
        sent = [Message(b"charge", message_id=f"payment-{n}") for n in range(3)]
        for message in sent:
            duplicate(payments.publish)(message)
        arrived.wait_for_count(6)
        probe.assert_exactly_once(sent)

def test_idempotent(redis_broker):
    run(redis_broker, IdempotentConsumer)

def test_naive(redis_broker):
    run(redis_broker, lambda handler: handler)
'''


def test_a_user_sees_which_effects_were_duplicated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_payments=USER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*duplicated: payment-0 x2, payment-1 x2, payment-2 x2*"])
