"""The Pact Broker workflow end to end, against the in-repo fake broker on a real loopback port.

A consumer session publishes its pacts with a version, branch and tags; provider sessions fetch
pacts by consumer version selectors, verify them as items and publish verification results;
can-i-deploy follows. Pending and WIP pacts fail as expected failures without failing the build;
a pact the provider honoured before fails it. Credentials: accepted and refused, never printed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pytest_ipc import aio
from pytest_ipc.__main__ import main as cli
from pytest_ipc.contracts.broker import PactBroker, can_i_deploy
from pytest_ipc.contracts.broker_fake import FakePactBroker
from pytest_ipc.contracts.errors import PactBrokerError
from tests.contracts.inner_session import QUIET_SESSION

TOKEN = "t0ken-never-printed"
# Plugins the inner sessions do not need: each costs a tenth of a second or more per session here
# (unraisableexception collects garbage five times at session end; the outer session still does).
UNUSED_PLUGINS = ("anyio", "asyncio", "benchmark", "pytest_httpserver", "respx", "schemathesis", "unraisableexception", "xdist")
LEAN = (*QUIET_SESSION, *(f"-pno:{name}" for name in UNUSED_PLUGINS))
CONSUMER_TESTS = """
import httpx
import pytest
from pact import match

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


def test_web_reads_an_order(ipc_pact):
    (
        ipc_pact.upon_receiving("a request for order 1")
        .given("an order exists", id=1)
        .with_request("GET", "/orders/1")
        .will_respond_with(200)
        .with_body({"id": match.int(1), "status": match.str("placed")})
    )
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}/orders/1").json()["status"] == "placed"
"""
PROVIDER_CONFTEST = """
import os

import pytest
from contract_apps import ORDERS, orders_app, serving
from pytest_ipc.contracts import provider_state


@provider_state("an order exists", provider="Orders")
def an_order_exists(params):
    ORDERS[params["id"]] = {"id": params["id"], "item": "pen", "quantity": 2, "status": "placed", "total": 19.0}


@pytest.fixture(scope="session")
def orders_url():
    with serving(orders_app(os.environ["ORDERS_APP"])) as url:
        yield url
"""
PROVIDER_TESTS = """
import pytest


@pytest.mark.pact_provider("Orders")
def test_orders(pact_interaction, orders_url):
    pact_interaction.verify(orders_url)
"""


@pytest.fixture
def broker() -> Iterator[FakePactBroker]:
    with FakePactBroker(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(
        contract_apps=(Path(__file__).parent / "contract_apps.py").read_text(), test_consumer=CONSUMER_TESTS, test_provider=PROVIDER_TESTS
    )
    pytester.makeconftest(PROVIDER_CONFTEST)
    monkeypatch.setenv("PYTEST_IPC_PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("ORDERS_APP", "v1")
    return pytester


def provider_session(project: pytest.Pytester, broker: FakePactBroker, *args: str) -> pytest.RunResult:
    """A provider build: the broker's pacts only (no local pact directory)."""
    return project.runpytest_inprocess(
        *LEAN, "test_provider.py", "-v", "-rxX", f"--ipc-pact-broker-url={broker.url}", "--ipc-pact-dir=no-local-pacts",
        "--ipc-pact-branch=main", *args,
    )


def orders_pact(consumer: str) -> dict[str, object]:
    """A V3 pact of `consumer` reading order 1, as a consumer build would have published it."""
    interaction = {
        "description": "a request for order 1",
        "providerStates": [{"name": "an order exists", "params": {"id": 1}}],
        "request": {"method": "GET", "path": "/orders/1"},
        "response": {
            "status": 200,
            "body": {"id": 1, "status": "placed"},
            "matchingRules": {"body": {"$.id": {"matchers": [{"match": "type"}]}, "$.status": {"matchers": [{"match": "type"}]}}},
        },
    }
    return {
        "consumer": {"name": consumer}, "provider": {"name": "Orders"}, "interactions": [interaction],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }


def changed_pact(pact_file: Path, **expected: str) -> dict[str, object]:
    """The consumer's pact with more fields expected in the response (a breaking consumer change)."""
    document = json.loads(pact_file.read_text())
    body = document["interactions"][0]["response"]["body"]
    (body["content"] if "contentType" in body else body).update(expected)  # V4 wraps the body
    return dict(document)


def test_publish_verify_and_can_i_deploy(project: pytest.Pytester, broker: FakePactBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = project.runpytest_inprocess(
        *LEAN, "test_consumer.py", f"--ipc-pact-broker-url={broker.url}", "--ipc-pact-consumer-version=c1",
        "--ipc-pact-branch=main", "--ipc-pact-tag=feature-a,reviewed", "--ipc-pact-dir=consumer-pacts",
    )
    consumer.assert_outcomes(passed=1)
    consumer.stdout.fnmatch_lines(
        ["*pytest-ipc Pact Broker*", "published 1 pact(s) as consumer version c1 on branch main tagged feature-a, reviewed"]
    )
    assert broker.published_versions("Web") == [{"number": "c1", "branch": "main", "tags": ["feature-a", "reviewed"]}]

    first = provider_session(project, broker, "--ipc-pact-provider-version=p1")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines([
        "*test_orders?Web -> Orders: a request for order 1 (given an order exists: id=1)? PASSED*",
        "Web -> Orders: published verification result (success) as provider version p1",
    ])
    (result,) = broker.verification_results("Orders")
    assert (result["success"], result["providerApplicationVersion"], result["providerVersionBranch"]) == (True, "p1", "main")
    assert [test["success"] for test in result["testResults"]] == [True]

    with PactBroker(broker.url, token=TOKEN) as client:
        client.create_environment("production", production=True)
        client.record_deployment("Orders", "p1", "production")
        client.record_deployment("Web", "c1", "production")
        monkeypatch.setenv("PYTEST_IPC_PACT_BROKER_URL", broker.url)
        assert can_i_deploy("Web", "c1", to_environment="production")

        # The consumer's main branch now expects `currency`, which the deployed provider p1 lacks; a
        # feature branch expects `note`. c1's pact, verified by p1 on main, is not pending any more.
        written = project.path / "consumer-pacts" / "Web-Orders.json"
        client.publish([changed_pact(written, currency="EUR")], consumer_version="c2", branch="main")
        client.publish([changed_pact(written, note="x")], consumer_version="c3", branch="feat-x")

    # The webhook-style rebuild of the deployed provider: c1 (deployed) passes and is not pending;
    # c2 (main) and c3 (work in progress) fail as pending: the build stays green.
    second = provider_session(project, broker, "--ipc-pact-provider-version=p1", "--ipc-pact-include-wip-since=2020-01-01")
    assert second.ret == pytest.ExitCode.OK
    second.assert_outcomes(passed=1, xfailed=2)
    second.stdout.fnmatch_lines_random([
        "XFAIL*pending interaction(s) not honoured yet (a pending pact of the Pact Broker, so its failure does not fail the session"
        " (This pact is in pending state for this version of Orders because a successful verification result for a version of"
        " Orders from branch 'main' has not yet been published.*",
        "XFAIL*(a work-in-progress pact of the Pact Broker, so its failure does not fail the session*'work in progress'*",
        "Web -> Orders: published verification result (failure) as provider version p1",
    ])
    assert sorted(result["success"] for result in broker.verification_results("Orders")) == [False, False, True, True]

    answer = can_i_deploy("Web", "c2", to_environment="production")
    assert not answer and answer.deployable is False
    assert answer.reason == (
        "The verification for the pact between version c2 of Web and the version of Orders currently in production (p1) failed"
    )
    assert can_i_deploy("Web", "c1", to_environment="production"), "c1 is still compatible with what is deployed"
    assert cli(["pact-can-i-deploy", "--pacticipant=Web", "--version=c2", "--to-environment=production"]) == 1
    assert not asyncio.run(aio.can_i_deploy("Web", "c2", to_environment="production"))


def test_a_pact_the_provider_honoured_before_fails_the_build(
    project: pytest.Pytester, broker: FakePactBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c1 was verified on main by an earlier provider build; a provider change that breaks it is no
    pending failure but a red build, and its failure is published."""
    with PactBroker(broker.url, token=TOKEN) as client:
        client.publish([orders_pact("Web")], consumer_version="c1", branch="main")
        (earlier,) = client.pacts_for_verification("Orders", provider_branch="main")
        assert earlier.pending
        client.publish_verification_results(earlier, success=True, provider_version="p1", provider_branch="main")
    monkeypatch.setenv("ORDERS_APP", "breaking")  # total becomes a string, status disappears

    broken = provider_session(project, broker, "--ipc-pact-provider-version=p2", '--ipc-pact-selectors=[{"branch": "main"}]')

    assert broken.ret == pytest.ExitCode.TESTS_FAILED
    broken.assert_outcomes(failed=1)
    broken.stdout.fnmatch_lines([
        "E * Orders breaks the contract 'Web -> Orders: a request for order 1 (given an order exists: id=1)':*",
        "Web -> Orders: published verification result (failure) as provider version p2",
    ])
    assert [result["success"] for result in broker.verification_results("Orders")] == [True, False]


def test_a_failing_consumer_session_publishes_nothing(project: pytest.Pytester, broker: FakePactBroker) -> None:
    project.makepyfile(test_red="def test_red():\n    assert False\n")
    result = project.runpytest_inprocess(
        *LEAN, "test_consumer.py", "test_red.py", f"--ipc-pact-broker-url={broker.url}",
        "--ipc-pact-consumer-version=c1", "--ipc-pact-dir=consumer-pacts",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["pacts not published: the session did not pass (exit status 1); only a green consumer build publishes"])
    assert broker.published_versions("Web") == []

    url = broker.url
    broker.stop()  # a green consumer build whose broker is gone: red, and the summary says why
    unreachable = project.runpytest_inprocess(
        *LEAN, "test_consumer.py", f"--ipc-pact-broker-url={url}", "--ipc-pact-consumer-version=c1", "--ipc-pact-dir=pacts"
    )
    unreachable.assert_outcomes(passed=1)
    assert unreachable.ret == pytest.ExitCode.TESTS_FAILED
    unreachable.stdout.fnmatch_lines([f"ERROR publishing pacts: cannot reach the Pact Broker at {url} (GET /: ConnectError*check the URL*"])


def test_refused_credentials_stop_the_session_with_what_to_do(
    project: pytest.Pytester, broker: FakePactBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_IPC_PACT_BROKER_TOKEN", "wrong-" + TOKEN)
    result = provider_session(project, broker)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        "*fetching the pacts of 'Orders' for verification: the Pact Broker at http://127.0.0.1:* answered 401 Unauthorized to GET /: "
        "the bearer token was not accepted. Expected credentials the broker accepts; set PYTEST_IPC_PACT_BROKER_TOKEN (a bearer token) "
        "or PYTEST_IPC_PACT_BROKER_USERNAME and PYTEST_IPC_PACT_BROKER_PASSWORD (basic auth)*"
    ])
    assert TOKEN not in result.stdout.str() + result.stderr.str()


def test_basic_and_bearer_credentials_accepted_and_refused() -> None:
    with FakePactBroker(username="ci", password="pa55", token=TOKEN, read_only_token="read-only") as fake:
        for good in ({"username": "ci", "password": "pa55"}, {"token": TOKEN}):
            with PactBroker(fake.url, **good) as client:
                assert client.pacts_for_verification("Orders") == []
        with PactBroker(fake.url.replace("http://", "http://ci:pa55@")) as client:
            assert client.pacts_for_verification("Orders") == []
        refusals = {
            "no credentials were sent": {},
            "the basic-auth user 'ci' was not accepted": {"username": "ci", "password": "wrong"},
            "the bearer token was not accepted": {"token": "wrong"},
        }
        for said, credentials in refusals.items():
            with PactBroker(fake.url, **credentials) as client, pytest.raises(PactBrokerError, match="answered 401 Unauthorized") as error:
                client.pacts_for_verification("Orders")
            assert said in str(error.value) and "pa55" not in str(error.value) and error.value.status == 401
        with PactBroker(fake.url, token="read-only") as client, pytest.raises(PactBrokerError) as error:
            client.create_environment("test")
        assert "answered 403 Forbidden to POST /environments: the bearer token may not do this" in str(error.value)
        assert "read-write token" in str(error.value)
        with PactBroker(fake.url, token=TOKEN) as client, pytest.raises(PactBrokerError) as error:
            client.record_deployment("Nobody", "1", "test")
        assert "answered 404 Not Found to GET /pacticipants/Nobody/versions/1: expected version 1 of Nobody" in str(error.value)
    unreachable = r"cannot reach the Pact Broker at http://127\.0\.0\.1:\d+ .*check the URL .*running"
    with PactBroker(fake.url) as client, pytest.raises(PactBrokerError, match=unreachable):
        client.pacts_for_verification("Orders")


def test_selectors_pick_main_branch_deployed_released_and_consumer(tmp_path: Path) -> None:
    """The fake's selector semantics: main branch per consumer, deployed/released per environment."""

    def pact(consumer: str, field: str) -> dict[str, object]:
        response = {"status": 200, "body": {field: 1}}
        interactions = [{"description": f"{consumer} reads {field}", "request": {"method": "GET", "path": "/"}, "response": response}]
        return {"consumer": {"name": consumer}, "provider": {"name": "Orders"}, "interactions": interactions}

    with FakePactBroker() as fake, PactBroker(fake.url) as client:
        client.publish([pact("Web", "a")], consumer_version="w1", branch="main")
        client.publish([pact("Web", "b")], consumer_version="w2", branch="main")
        client.publish([pact("Web", "c")], consumer_version="w3", branch="feat")
        client.publish([pact("App", "d")], consumer_version="a1", branch="develop", tags=["store"])
        client.publish([pact("App", "e")], consumer_version="a2", branch="develop")
        client.create_environment("production")
        client.record_deployment("Web", "w1", "production")
        client.record_release("App", "a1", "production")

        def chosen(*selectors: dict[str, object]) -> list[str]:
            pacts = client.pacts_for_verification("Orders", selectors=selectors)
            return sorted(pact.document["interactions"][0]["description"] for pact in pacts)

        assert chosen({"mainBranch": True}) == ["App reads e", "Web reads b"]
        assert chosen({"deployed": True}) == ["Web reads a"]
        assert chosen({"released": True, "environment": "production"}) == ["App reads d"]
        assert chosen({"deployedOrReleased": True}) == ["App reads d", "Web reads a"]
        assert chosen({"branch": "feat"}) == ["Web reads c"]
        assert chosen({"branch": "feat", "fallbackBranch": "develop"}) == ["App reads e", "Web reads c"]
        assert chosen({"latest": True, "consumer": "Web"}) == ["Web reads c"]
        assert chosen({"tag": "store", "latest": True}) == ["App reads d"]
        assert chosen({"mainBranch": True}, {"mainBranch": True, "consumer": "Web"}) == ["App reads e", "Web reads b"]  # deduplicated
        headers = {"Content-Type": "application/json"}
        assert httpx.patch(f"{fake.url}/pacticipants/Web", json={"mainBranch": "feat"}, headers=headers).status_code == 200
        assert chosen({"mainBranch": True, "consumer": "Web"}) == ["Web reads c"]
        legacy = httpx.put(f"{fake.url}/pacts/provider/Orders/consumer/Legacy/version/l1", json=pact("Legacy", "g"))
        assert legacy.status_code == 201 and "pb:publish-verification-results" in legacy.json()["_links"]
        matrix = httpx.get(f"{fake.url}/matrix?q[][pacticipant]=Web&q[][version]=w1&latestby=cvp&environment=production").json()
        assert matrix["summary"]["deployable"] is None and matrix["summary"]["unknown"] == 1
        assert "no version is currently recorded as deployed/released in this environment" in matrix["summary"]["reason"]
        with pytest.raises(ValueError, match=r"unknown selector key\(s\) mainbranch; valid keys: branch, consumer"):
            chosen({"mainbranch": True})
        assert cli(["pact-publish", str(tmp_path / "none"), "--consumer-version=x", f"--broker-url={fake.url}"]) == 1
        (tmp_path / "Web-Orders.json").write_text(json.dumps(pact("Web", "f")))
        assert cli(["pact-publish", str(tmp_path), "--consumer-version=w4", "--branch=main", "--tag=t", f"--broker-url={fake.url}"]) == 0
        assert fake.published_versions("Web")[-1] == {"number": "w4", "branch": "main", "tags": ["t"]}


def test_bad_broker_settings_are_usage_errors_naming_the_choices(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    unknown = pytester.runpytest_inprocess(
        *LEAN, "--ipc-pact-broker-url=http://127.0.0.1:9", '--ipc-pact-selectors=[{"mainbranch": true}]'
    )
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines([
        "*--ipc-pact-selectors: unknown selector key(s) mainbranch; valid keys: branch, consumer, deployed, deployedOrReleased,*"
    ])
    nowhere = pytester.runpytest_inprocess(*LEAN, "--ipc-pact-consumer-version=c1")
    assert nowhere.ret == pytest.ExitCode.USAGE_ERROR
    nowhere.stderr.fnmatch_lines(["*--ipc-pact-consumer-version needs a Pact Broker to publish to: set --ipc-pact-broker-url*"])
