"""Whole sessions, as a user runs them: consumer and provider tests together, partial runs,
conflicts, a messy pact directory. Each test names the false pass of issue 13 it guards against."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.contracts.inner_session import QUIET_SESSION

APPS = (Path(__file__).parent / "contract_apps.py").read_text()

PROVIDER_CONFTEST = """
import os

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
    with serving(orders_app(os.environ.get("ORDERS_VERSION", "v1"))) as url:
        yield url
"""

CONSUMER = """
import os

import httpx
import pytest
from pact import match

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


def test_reads_an_order(ipc_pact):
    body = {"id": match.int(1), "status": match.str("placed")}
    if os.environ.get("WANTS_CURRENCY"):
        body["currency"] = match.str("EUR")
    (
        ipc_pact.upon_receiving("a request for order 1")
        .given("an order exists", id=1)
        .with_request("GET", "/orders/1")
        .will_respond_with(200)
        .with_body(body)
    )
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/1").json()["id"] == 1


def test_reports_a_missing_order(ipc_pact):
    (
        ipc_pact.upon_receiving("a request for a missing order")
        .given("no orders exist")
        .with_request("GET", "/orders/999")
        .will_respond_with(404)
    )
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/999").status_code == 404
"""

PROVIDER = """
import pytest


@pytest.mark.pact_provider("Orders")
def test_orders_honour_their_consumers(pact_interaction, orders_url):
    pact_interaction.verify(orders_url)
"""

LEAN = ("-p", "no:anyio", "-p", "no:pytest_httpserver", "-p", "no:benchmark", "-p", "no:respx")


def project(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(contract_apps=APPS, test_consumer=CONSUMER, test_provider=PROVIDER)
    pytester.makeconftest(PROVIDER_CONFTEST)
    return pytester.path / "pacts"


def test_a_fresh_checkout_verifies_the_pacts_it_writes_in_the_same_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """False pass: with no pacts on disk at collection, provider tests were skipped and the run was
    green without verifying anything. Here the provider breaks the contract: the run must fail."""
    pact_dir = project(pytester)
    assert not pact_dir.exists()
    monkeypatch.setenv("ORDERS_VERSION", "breaking")

    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-v")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*test_consumer.py::test_reads_an_order PASSED*",
        "*test_consumer.py::test_reports_a_missing_order PASSED*",
        "*test_provider.py::test_orders_honour_their_consumers?Orders: pacts this session writes? FAILED*",
        "E * Orders breaks the contract 'Web -> Orders: a request for order 1 (given an order exists: id=1)':",
    ])
    assert (pact_dir / "Web-Orders.json").exists()


@pytest.mark.slow
def test_a_fresh_checkout_under_xdist_verifies_what_other_workers_wrote(pytester: pytest.Pytester) -> None:
    pact_dir = project(pytester)
    result = pytester.runpytest_subprocess(*QUIET_SESSION, *LEAN, "-n", "2", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*PASSED*test_provider.py::test_orders_honour_their_consumers?Orders: pacts this session writes*"])
    assert len(json.loads((pact_dir / "Web-Orders.json").read_text())["interactions"]) == 2


def test_provider_items_verify_what_this_session_wrote_not_what_was_on_disk(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer changes an interaction: the provider items collected from last run's file verify
    the new version in the same session (today's file is stale until the session ends)."""
    project(pytester)
    pytester.runpytest_inprocess(*QUIET_SESSION).assert_outcomes(passed=3)
    second = pytester.runpytest_inprocess(*QUIET_SESSION, "-v")
    second.assert_outcomes(passed=4, skipped=1)  # one item per interaction; nothing new
    monkeypatch.setenv("WANTS_CURRENCY", "1")

    third = pytester.runpytest_inprocess(*QUIET_SESSION, "-v")

    third.assert_outcomes(passed=3, failed=1, skipped=1)
    third.stdout.fnmatch_lines([
        "*honour_their_consumers?Web -> Orders: a request for order 1 (given an order exists: id=1)? FAILED*",
        "*missing the following keys: currency*",
    ])


PARTIAL = """
import os

import httpx
import pytest

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


def interaction(pact, description, status):
    pact.upon_receiving(description).with_request("GET", "/" + description).will_respond_with(status)
    with pact.serve() as server:
        assert httpx.get(f"{server.url}/{description}").status_code == status


def test_a(ipc_pact):
    interaction(ipc_pact, "a", 200)
    assert not os.environ.get("FAIL_A"), "a fails on purpose"


def test_b(ipc_pact):
    interaction(ipc_pact, "b", int(os.environ.get("B_STATUS", "200")))


def test_c(ipc_pact):
    interaction(ipc_pact, "c", 200)
"""


def interactions(pact_dir: Path) -> dict[str, int]:
    document = json.loads((pact_dir / "Web-Orders.json").read_text())
    return {item["description"]: item["response"]["status"] for item in document["interactions"]}


def test_partial_runs_replace_only_what_ran(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """False pass: `-k`, one file, `--lf` or `-x` rewrote the pair's pact with that subset only.
    A test removed from a collected module loses its interaction; --ipc-pact-prune starts afresh."""
    pytester.makepyfile(test_partial=PARTIAL)
    pact_dir = pytester.path / "pacts"

    pytester.runpytest_inprocess(*QUIET_SESSION).assert_outcomes(passed=3)
    assert interactions(pact_dir) == {"a": 200, "b": 200, "c": 200}

    monkeypatch.setenv("B_STATUS", "201")
    pytester.runpytest_inprocess(*QUIET_SESSION, "-k", "test_b").assert_outcomes(passed=1)
    assert interactions(pact_dir) == {"a": 200, "b": 201, "c": 200}

    monkeypatch.setenv("FAIL_A", "1")
    pytester.runpytest_inprocess(*QUIET_SESSION, "-x").assert_outcomes(failed=1)
    assert interactions(pact_dir) == {"b": 201, "c": 200}, "a ran and failed; b and c never ran"
    monkeypatch.delenv("FAIL_A")

    pytester.makepyfile(test_partial=PARTIAL.replace("def test_c(ipc_pact):", "def removed_test_c(ipc_pact):"))
    pytester.runpytest_inprocess(*QUIET_SESSION, "-k", "test_a").assert_outcomes(passed=1)
    assert interactions(pact_dir) == {"a": 200, "b": 201}, "test_c is gone from its module"

    pytester.runpytest_inprocess(*QUIET_SESSION, "-k", "test_a", "--ipc-pact-prune").assert_outcomes(passed=1)
    assert interactions(pact_dir) == {"a": 200}


CONFLICT = """
import httpx
import pytest

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


@pytest.mark.parametrize("status", [200, 404])
def test_order(ipc_pact, status):
    ipc_pact.upon_receiving("a request for order 1").with_request("GET", "/orders/1").will_respond_with(status)
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/1").status_code == status
"""


def test_two_tests_defining_one_interaction_differently_fail_the_session(pytester: pytest.Pytester) -> None:
    pact_dir = pytester.path / "pacts"
    pact_dir.mkdir()
    (pact_dir / "Web-Orders.json").write_text("{}")  # not even a pact: must be left as it was
    pytester.makepyfile(test_conflict=CONFLICT)

    result = pytester.runpytest_inprocess(*QUIET_SESSION)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*pytest-ipc pact conflicts*",
        (
            "Web -> Orders: 'a request for order 1' is defined differently by test_conflict.py::test_order?404? "
            "and by test_conflict.py::test_order?200?*Expected one definition per description and provider states*"
        ),
    ])
    assert (pact_dir / "Web-Orders.json").read_text() == "{}"


def test_other_json_in_the_pact_directory_is_ignored_with_a_warning(pytester: pytest.Pytester) -> None:
    """False pass (well, false error): a stray JSON file aborted collection."""
    pact_dir = project(pytester)
    pytester.runpytest_inprocess(*QUIET_SESSION).assert_outcomes(passed=3)
    (pact_dir / "notes.json").write_text(json.dumps({"todo": "ask the Orders team"}))
    (pact_dir / "broken.json").write_text("{")

    # every warning shown, but not pytest-benchmark's notice about xdist where that plugin is installed
    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-W", "always", "-p", "no:benchmark")

    result.assert_outcomes(passed=4, skipped=1)
    result.stdout.fnmatch_lines_random([
        "*notes.json is not a pact file*; ignored. Keep only pact files in the pact directory.",
        "*cannot read pact file *broken.json*; ignored*",
    ])


def test_a_provider_nobody_started_is_reported_as_unreachable(pytester: pytest.Pytester) -> None:
    """False pass of the message: a provider that is down was said to break the contract."""
    project(pytester)
    pytester.runpytest_inprocess(*QUIET_SESSION).assert_outcomes(passed=3)
    pytester.makepyfile(test_provider=PROVIDER.replace("pact_interaction.verify(orders_url)", 'pact_interaction.verify("http://127.0.0.1:9")'))

    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-k", "test_orders")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["E *ProviderUnreachable: nothing answers at http://127.0.0.1:9 — is the provider running?*"])
    assert "Orders breaks the contract" not in result.stdout.str()


def pending_pact(directory: Path, *, pending: bool) -> None:
    """A V4 pact (pact-python) whose interaction expects a field the v1 provider does not send."""
    import httpx
    import pact_ffi
    from pact import match

    from pytest_ipc.contracts import ManagedPact

    pact = ManagedPact("Web", "Orders")
    interaction = (
        pact.upon_receiving("a request for order 1 with its currency")
        .given("an order exists", id=1)
        .with_request("GET", "/orders/1")
        .will_respond_with(200)
        .with_body({"id": match.int(1), "currency": match.str("EUR")})
    )
    pact_ffi.set_pending(interaction._handle, pending=pending)
    with pact.serve() as server:
        httpx.get(f"{server.url}/orders/1")
    pact.write_file(directory, overwrite=True)


@pytest.mark.parametrize(("pending", "outcome"), [(True, {"xfailed": 1}), (False, {"failed": 1})])
def test_a_failing_pending_interaction_is_an_expected_failure(
    pytester: pytest.Pytester, pending: bool, outcome: dict[str, Any]
) -> None:
    """False pass: a pending interaction that failed passed silently."""
    pact_dir = pytester.path / "pacts"
    pending_pact(pact_dir, pending=pending)
    pytester.makepyfile(contract_apps=APPS, test_provider=PROVIDER)
    pytester.makeconftest(PROVIDER_CONFTEST)

    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-rx")

    result.assert_outcomes(**outcome)
    if pending:
        result.stdout.fnmatch_lines([
            "XFAIL*a request for order 1 with its currency*pending interaction(s) not honoured yet: Orders breaks the contract*",
            "*missing the following keys: currency",
        ])


STOPS_EARLY = """
import time

import httpx
import pytest

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


@pytest.mark.parametrize("number", range(6))
def test_consumer(ipc_pact, number):
    ipc_pact.upon_receiving(f"order {number}").with_request("GET", f"/orders/{number}").will_respond_with(404)
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/{number}").status_code == 404
    time.sleep(0.5)
    assert number != 1, "stops the session (-x)"


@pytest.mark.pact_provider("Orders", allow_missing=True)
def test_provider(pact_interaction):
    pact_interaction.verify("http://127.0.0.1:9")
"""


@pytest.mark.slow
def test_a_session_stopped_early_under_xdist_does_not_leave_provider_items_waiting(pytester: pytest.Pytester) -> None:
    """Provider items wait for the consumer tests on other workers; when the session stops (-x)
    before those run, they stop waiting as soon as every other worker is done."""
    pytester.makepyfile(test_stops=STOPS_EARLY)
    started = time.monotonic()
    result = pytester.runpytest_subprocess(*QUIET_SESSION, *LEAN, "-n", "2", "-x", timeout=300)
    assert time.monotonic() - started < 120, "a provider item waited for consumer tests that never ran"
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    if "test_provider" in result.stdout.str():  # xdist may stop before any provider item starts
        assert "600 s" not in result.stdout.str()
