"""Provider verification as a user sees it: one pytest item per interaction, from files and a broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ipc.contracts.broker import PactBroker
from pytest_ipc.contracts.broker_fake import FakePactBroker
from tests.contracts.contract_pacts import write_events_pact, write_orders_pact
from tests.contracts.inner_session import QUIET_SESSION

CONFTEST = """
import pytest
from contract_apps import ORDERS, orders_app, serving
from pytest_ipc.contracts import provider_state


@provider_state("an order exists", provider="Orders")
def an_order_exists(params):
    ORDERS[params["id"]] = {"id": params["id"], "item": "pen", "quantity": 2, "status": "placed", "total": 19.0}


@provider_state("no orders exist", provider="Orders")
def no_orders():
    ORDERS.clear()


@pytest.fixture(scope="session")
def orders_url():
    with serving(orders_app("v2")) as url:
        yield url


@pytest.fixture(scope="session")
def strict_orders_url():
    with serving(orders_app("strict")) as url:
        yield url
"""

PROVIDER_TESTS = """
import pytest
from pytest_ipc.contracts import PublishedMessage


@pytest.mark.pact_provider("Orders")
def test_orders(pact_interaction, orders_url):
    pact_interaction.verify(orders_url)


@pytest.mark.pact_provider("Orders", consumers=["OrdersWebV1"])
def test_strict_orders(pact_interaction, strict_orders_url):
    pact_interaction.verify(strict_orders_url)


def order_placed():
    return PublishedMessage(b'{"order_id": 1, "status": "paid"}', metadata={"routing_key": "orders.placed"})


@pytest.mark.pact_provider("OrderEvents")
def test_events(pact_interaction):
    pact_interaction.verify(messages={"an order placed event": order_placed})


@pytest.mark.pact_provider("Nobody")
def test_nobody(pact_interaction):
    pact_interaction.verify("http://127.0.0.1:9")


@pytest.mark.pact_provider("NobodyYet", allow_missing=True)
def test_nobody_yet(pact_interaction):
    pact_interaction.verify("http://127.0.0.1:9")
"""


@pytest.fixture
def fake_broker(tmp_path: Path) -> Iterator[str]:
    """A Pact Broker (the in-repo fake, on a real loopback port) with BrokerWeb's pact on its main branch."""
    write_orders_pact(tmp_path, "V1")
    document = json.loads((tmp_path / "OrdersWebV1-Orders.json").read_text())
    document["consumer"]["name"] = "BrokerWeb"
    with FakePactBroker() as broker, PactBroker(broker.url) as client:
        client.publish([document], consumer_version="1.0.0", branch="main")
        yield broker.url


def test_one_item_per_interaction_from_files_and_broker(pytester: pytest.Pytester, fake_broker: str) -> None:
    pact_dir = pytester.path / "pacts"
    write_orders_pact(pact_dir, "V1")
    write_orders_pact(pact_dir, "V2")
    write_events_pact(pact_dir)
    pytester.makepyfile(contract_apps=(Path(__file__).parent / "contract_apps.py").read_text())
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_provider=PROVIDER_TESTS)

    result = pytester.runpytest_inprocess(
        *QUIET_SESSION, "-v", "-rs", f"--ipc-pact-dir={pact_dir}", f"--ipc-pact-broker-url={fake_broker}"
    )

    # Orders: 4 interactions x 3 consumers (V1, V2, BrokerWeb); strict: V1's 4; events: 1. No pacts
    # at all fails (a run that verifies nothing is not green) unless the test allows it.
    result.assert_outcomes(passed=16, failed=2, skipped=1)
    result.stdout.fnmatch_lines_random(
        [
            "*test_orders?OrdersWebV1 -> Orders: a request for order 1 (given an order exists: id=1)? PASSED*",
            "*test_orders?OrdersWebV2 -> Orders: the XML view of order 1 (given an order exists: id=1)? PASSED*",
            "*test_orders?BrokerWeb -> Orders: an order is placed? PASSED*",
            "*test_events?Mailer -> OrderEvents: an order placed event? PASSED*",
            "*test_strict_orders?OrdersWebV1 -> Orders: an order is placed? FAILED*",
            "*test_nobody?Nobody: pacts this session writes? FAILED*",
            "*SKIPPED*no pact with provider 'NobodyYet'*allow_missing=True*",
            "E * Orders breaks the contract 'OrdersWebV1 -> Orders: an order is placed':",
            "E * - StatusMismatch *expected 201*422*",
            "E *NoPactsFound: no pact with provider 'Nobody' in *: expected at least one interaction to verify, found none*",
            "*pytest-ipc REST maturity*",
            "Orders: level 3 (hypermedia)*verbs: GET, POST; status codes: 200, 201, 404*",
            "OrderEvents: not classified (no HTTP interactions (messages only))",
        ]
    )


def test_missing_marker_is_a_collection_error_and_q_silences_the_summary(pytester: pytest.Pytester) -> None:
    pact_dir = pytester.path / "pacts"
    write_events_pact(pact_dir)
    pytester.makepyfile(
        test_unmarked="""
        def test_unmarked(pact_interaction):
            pass
        """,
        test_events="""
        import pytest
        from pytest_ipc.contracts import PublishedMessage

        @pytest.mark.pact_provider("OrderEvents")
        def test_events(pact_interaction):
            pact_interaction.verify(messages={"an order placed event": lambda: PublishedMessage(
                b'{"order_id": 1, "status": "placed"}', metadata={"routing_key": "orders.placed"})})
        """,
    )
    result = pytester.runpytest_inprocess(
        *QUIET_SESSION, "-q", "--continue-on-collection-errors", f"--ipc-pact-dir={pact_dir}"
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_unmarked takes pact_interaction but has no @pytest.mark.pact_provider*"])
    assert "REST maturity" not in result.stdout.str()


def test_broker_url_must_be_http(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess(*QUIET_SESSION, "--ipc-pact-broker-url=ftp://broker.example")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-pact-broker-url must be an http:// or https:// URL, got 'ftp://broker.example'*"])


@pytest.fixture
def pending_broker(tmp_path: Path) -> Iterator[str]:
    """A broker where V1's pact was verified by a provider build (not pending) and V2's never was (pending)."""
    documents = [json.loads(write_orders_pact(tmp_path, version).read_text()) for version in ("V1", "V2")]
    with FakePactBroker() as broker, PactBroker(broker.url) as client:
        for document in documents:
            client.publish([document], consumer_version="1.0.0", branch="main")
        (verified,) = [pact for pact in client.pacts_for_verification("Orders") if pact.pair[0] == "OrdersWebV1"]
        client.publish_verification_results(verified, success=True, provider_version="0.9.0")
        yield broker.url


def test_a_pact_the_broker_says_is_pending_fails_as_expected_failures(pytester: pytest.Pytester, pending_broker: str) -> None:
    """The V2 consumer expects `currency`, which the v1 provider does not send yet: pending, so XFAIL."""
    pytester.makepyfile(contract_apps=(Path(__file__).parent / "contract_apps.py").read_text())
    pytester.makeconftest(CONFTEST.replace('orders_app("v2")', 'orders_app("v1")'))
    pytester.makepyfile(test_provider=PROVIDER_TESTS.split("\n\n@pytest.mark.pact_provider(\"Orders\", consumers")[0])

    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-v", f"--ipc-pact-broker-url={pending_broker}", "-k", "test_orders")

    result.assert_outcomes(passed=7, xfailed=1)
    result.stdout.fnmatch_lines(["*test_orders?OrdersWebV2 -> Orders: a request for order 1 (given an order exists: id=1)? XFAIL*"])
