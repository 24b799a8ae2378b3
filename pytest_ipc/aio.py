"""The async forms of pytest-ipc's blocking public names, under the same names, for async tests.

    from pytest_ipc import aio

    async def test_price_times_out(http_stub):
        async with httpx.AsyncClient(timeout=0.3) as client:
            with faults.inject(faults.hang(), into=http_stub):
                await aio.assert_timeout_honoured(lambda: client.get(http_stub.url_for("/price")), budget=0.3)

Methods follow the same rule on their objects (`await rabbitmq_server.aio.restart()`). Names that
do no I/O (the fault vocabulary, the messaging verdicts) have one form only, in `pytest_ipc`.
"""

from pytest_ipc.contracts.aio import can_i_deploy
from pytest_ipc.messaging.aio import (
    Capture,
    DeadLetterAfter,
    IdempotentConsumer,
    Redeliver,
    RequestReply,
    Responder,
    channels_for,
    consumer_down,
    duplicate,
    reorder,
)
from pytest_ipc.resilience.aio import (
    assert_breaker,
    assert_deadline_honoured,
    assert_deadline_propagated,
    assert_fallback,
    assert_forbidden_not_retried,
    assert_least_scopes,
    assert_reauthenticates_once,
    assert_request_cap,
    assert_retry_codes,
    assert_retry_jitter,
    assert_timeout_honoured,
    assert_token_refreshed,
)
from pytest_ipc.security.aio import assert_no_credentials_over_plaintext, assert_presents_client_certificate, assert_verifies_server

__all__ = [
    "Capture",
    "DeadLetterAfter",
    "IdempotentConsumer",
    "Redeliver",
    "RequestReply",
    "Responder",
    "assert_breaker",
    "assert_deadline_honoured",
    "assert_deadline_propagated",
    "assert_fallback",
    "assert_forbidden_not_retried",
    "assert_least_scopes",
    "assert_no_credentials_over_plaintext",
    "assert_presents_client_certificate",
    "assert_reauthenticates_once",
    "assert_request_cap",
    "assert_retry_codes",
    "assert_retry_jitter",
    "assert_timeout_honoured",
    "assert_token_refreshed",
    "assert_verifies_server",
    "can_i_deploy",
    "channels_for",
    "consumer_down",
    "duplicate",
    "reorder",
]
