"""Consumer side as a user sees it: whole pytest sessions (also under xdist) writing pact files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc.contracts.pactfile import identity_of
from tests.contracts.inner_session import QUIET_SESSION

CONSUMER_TESTS = """
import httpx
import pytest
from pact import match

pytestmark = pytest.mark.ipc_pact("OrdersWeb", "Orders")


@pytest.mark.parametrize("number", range(12))
def test_get_order(ipc_pact, number):
    (
        ipc_pact.upon_receiving("a request for an order")
        .given("an order exists", id=number)
        .with_request("GET", f"/orders/{number}")
        .will_respond_with(200)
        .with_body({"id": match.int(number), "status": match.str("placed")})
    )
    with ipc_pact.serve() as server:
        order = httpx.get(f"{server.url}/orders/{number}").json()
    assert order["id"] == number
    assert number % 3 != 0, "every third test fails on purpose"


def test_note_where_fragments_go(pytestconfig):
    from pytest_ipc.fixtures.contracts import RECORDER_KEY

    with open("fragments-dir.txt", "w") as stream:
        stream.write(str(pytestconfig.stash[RECORDER_KEY].fragments_dir))
"""


def pact_json(directory: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((directory / name).read_text())
    return document


def descriptions(document: dict[str, Any]) -> list[str]:
    return sorted(interaction["description"] for interaction in document["interactions"])


def stale_pact(consumer: str, provider: str, *, owner: str | None = None) -> str:
    """A pact an earlier run left; `owner` is the node id of the test that wrote it, if any."""
    interaction = {"type": "Synchronous/HTTP", "description": "left over from last run",
                   "request": {"method": "GET", "path": "/"}, "response": {"status": 200}}
    metadata: dict[str, Any] = {"pactSpecification": {"version": "4.0"}}
    if owner is not None:
        metadata["pytest-ipc"] = {"rootdir": "..", "tests": {owner: [identity_of(interaction)]}}
    return json.dumps({"consumer": {"name": consumer}, "provider": {"name": provider},
                       "interactions": [interaction], "metadata": metadata})


@pytest.mark.slow
def test_under_xdist_pact_file_holds_exactly_the_passing_tests(pytester: pytest.Pytester) -> None:
    """Twelve tests on four workers, one description told apart by the state's `id` parameter: the
    file keeps the eight that passed (an earlier merge kept one of them), drops the interaction of a
    test removed from the module, leaves other pairs alone, and the pact directory holds pacts only."""
    pact_dir = pytester.path / "pacts"
    pact_dir.mkdir()
    (pact_dir / "OrdersWeb-Orders.json").write_text(stale_pact("OrdersWeb", "Orders", owner="test_consumer.py::test_removed"))
    (pact_dir / "Other-Orders.json").write_text(stale_pact("Other", "Orders"))
    pytester.makepyfile(test_consumer=CONSUMER_TESTS)

    lean = ("-p", "no:anyio", "-p", "no:pytest_httpserver", "-p", "no:benchmark", "-p", "no:respx")
    result = pytester.runpytest_subprocess(*QUIET_SESSION, *lean, f"--ipc-pact-dir={pact_dir}", "-n", "4")

    result.assert_outcomes(passed=9, failed=4)
    document = pact_json(pact_dir, "OrdersWeb-Orders.json")
    ids = sorted(item["providerStates"][0]["params"]["id"] for item in document["interactions"])
    assert ids == [number for number in range(12) if number % 3 != 0]
    assert descriptions(pact_json(pact_dir, "Other-Orders.json")) == ["left over from last run"], (
        "pairs this session did not touch must be left alone"
    )
    assert sorted(path.name for path in pact_dir.iterdir()) == ["OrdersWeb-Orders.json", "Other-Orders.json"], (
        "nothing but pacts in the pact directory (no lock file)"
    )
    fragments_dir = Path((pytester.path / "fragments-dir.txt").read_text())
    assert fragments_dir.name.startswith("pytest-ipc-pacts-")
    assert not fragments_dir.exists(), "the per-test fragments must be gone after the session"


CONSUMER_BEHAVIOURS = """
import json
import os

import httpx
from pact import match

PORTS = []


def test_fails_with_its_server_still_referenced(ipc_make_pact):
    pact = ipc_make_pact("A", "B")
    pact.upon_receiving("ping").with_request("GET", "/ping").will_respond_with(204)
    server = pact.serve().__enter__()  # never exited: only the fixture can stop it
    PORTS.append(server.port)
    assert httpx.get(f"{server.url}/ping").status_code == 204
    raise RuntimeError("boom, with the server still referenced by this traceback")


def test_passes_with_a_server(ipc_make_pact):
    pact = ipc_make_pact("C", "B")
    pact.upon_receiving("ping").with_request("GET", "/ping").will_respond_with(204)
    with pact.serve() as server:
        PORTS.append(server.port)
        assert httpx.get(f"{server.url}/ping").status_code == 204


def test_mock_servers_of_earlier_tests_are_closed():
    assert len(PORTS) == 2
    for port in PORTS:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2)
        except httpx.ConnectError:
            continue
        raise AssertionError(f"mock server on port {port} still answers")


def test_respx_lets_calls_to_the_mock_server_through(ipc_make_pact, respx_mock):
    respx_mock.get("https://payments.example/health").respond(200, json={"ok": True})
    pact = ipc_make_pact("Web", "Orders")
    pact.upon_receiving("a list").with_request("GET", "/orders").will_respond_with(200).with_body([])
    with pact.serve() as server:
        assert httpx.get(f"{server.url}/orders").json() == []
        assert httpx.get("https://payments.example/health").json() == {"ok": True}


def test_async_message(ipc_make_pact):
    pact = ipc_make_pact("Mailer", "OrderEvents")
    (
        pact.upon_receiving("an order placed event", "Async")
        .with_body({"order_id": match.int(7), "status": "placed"}, "application/json")
        .with_metadata({"routing_key": "orders.placed"})
    )
    received = []
    pact.verify(lambda body, metadata: received.append((json.loads(body), metadata["routing_key"])), "Async")
    assert received == [({"order_id": 7, "status": "placed"}, "orders.placed")]


def test_sync_message(ipc_make_pact):
    pact = ipc_make_pact("Mailer", "OrderEvents")
    interaction = pact.upon_receiving("a quote request", "Sync").with_body({"item": "pen"}, "application/json")
    interaction.will_respond_with().with_body({"price": match.number(1.5)}, "application/json")
    pact.verify(lambda body, metadata: None, "Sync")


def test_every_test_of_this_pair_fails(ipc_make_pact):
    ipc_make_pact("Stale", "B").upon_receiving("anything").with_request("GET", "/").will_respond_with(204)
    assert False


def test_the_environment_is_left_alone():
    assert "PACT_DO_NOT_TRACK" not in os.environ
"""


def test_consumer_fixture_behaviour_in_one_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers stop at test end, respx passes through, messages are recorded, failures leave no pact
    (the failing test wrote the stale pair last time: its file goes), the environment is untouched."""
    pact_dir = pytester.path / "from-env"
    pact_dir.mkdir()
    (pact_dir / "Stale-B.json").write_text(stale_pact("Stale", "B", owner="test_consumer.py::test_every_test_of_this_pair_fails"))
    pytester.makepyfile(test_consumer=CONSUMER_BEHAVIOURS)
    monkeypatch.setenv("PYTEST_IPC_PACT_DIR", str(pact_dir))
    monkeypatch.delenv("PACT_DO_NOT_TRACK", raising=False)

    result = pytester.runpytest_inprocess(*QUIET_SESSION)

    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["*FAILED*test_fails_with_its_server*", "*FAILED*test_every_test_of_this_pair_fails*"])
    assert sorted(path.name for path in pact_dir.glob("*.json")) == [
        "C-B.json",
        "Mailer-OrderEvents.json",
        "Web-Orders.json",
    ]
    kinds = sorted(
        (item["type"], item["description"]) for item in pact_json(pact_dir, "Mailer-OrderEvents.json")["interactions"]
    )
    assert kinds == [("Asynchronous/Messages", "an order placed event"), ("Synchronous/Messages", "a quote request")]
    assert descriptions(pact_json(pact_dir, "Web-Orders.json")) == ["a list"]


def test_user_choice_about_telemetry_is_kept(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        """
        import os
        def test_env():
            assert os.environ["PACT_DO_NOT_TRACK"] == "false"

        def test_pact_needs_names(ipc_pact):
            pass
        """
    )
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "false")
    result = pytester.runpytest_inprocess(*QUIET_SESSION)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*needs @pytest.mark.ipc_pact(consumer, provider)*"])
