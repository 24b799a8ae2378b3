"""`http_stub_group` and `ipc_dns` as a user sees them: whole pytest sessions run with pytester (in-process)."""

from __future__ import annotations

import threading

import pytest

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")

USER_TESTS = """
import dns.resolver
import httpx
import pytest

from pytest_ipc.discovery import dnspython_resolver

CAPTURED = {}


def test_unmatched_at_one_instance(http_stub_group):
    orders = http_stub_group(2, service="orders")
    orders.expect("GET", "/order").respond(json={"id": 1})
    assert httpx.get(orders.urls[1] + "/ordr").status_code == 404


@pytest.mark.http_stub_allow_unmatched
def test_allowed_by_marker(http_stub_group):
    assert httpx.get(http_stub_group(2).urls[0] + "/nothing").status_code == 404


def test_foreign_name(ipc_dns):
    with pytest.raises(dns.resolver.NoNameservers):
        dnspython_resolver(ipc_dns, lifetime=0.5).resolve("example.com", "A")


@pytest.mark.ipc_dns_allow_unmatched
def test_foreign_name_allowed(ipc_dns):
    with pytest.raises(dns.resolver.NoNameservers):
        dnspython_resolver(ipc_dns, lifetime=0.5).resolve("example.com", "A")


def test_a_group_and_its_records(http_stub_group, ipc_dns):
    orders = http_stub_group(3, service="orders")
    CAPTURED["url"] = orders.urls[0]
    assert orders.url == f"http://orders.ipc.test:{orders.port}"
    assert sorted(r.address for r in dnspython_resolver(ipc_dns).resolve("orders.ipc.test", "A")) == orders.hosts


def test_the_next_test_is_clean(http_stub_group, ipc_dns):
    assert ipc_dns.records == {} and ipc_dns.calls() == []
    payments = http_stub_group(2)
    assert payments.calls() == [] and payments[0].routes == []
    assert httpx.get(CAPTURED["url"] + "/late").status_code == 503  # the earlier test's port: a late request
    with pytest.raises(dns.resolver.NXDOMAIN):
        dnspython_resolver(ipc_dns).resolve("orders.ipc.test", "A")
"""


def test_teardown_reports_and_markers(pytester: pytest.Pytester) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=6, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched_at_one_instance*",
            "*http_stub_group orders.ipc.test:",
            "*instance 1 (127.0.0.11):",
            "*http_stub: 1 request(s) matched no route:",
            "*GET /ordr*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_foreign_name*",
            "*ipc_dns: 1 query(ies) for names outside its zone ipc.test (answered REFUSED):",
            "*udp A example.com -> REFUSED*",
        ]
    )
    result.stdout.fnmatch_lines(["*http_stub: late requests*", "*test_a_group_and_its_records GET /late"])
    left = [thread.name for thread in threading.enumerate() if thread.ident not in before]
    assert left == [], f"threads left by the session's DNS server and group instances: {left}"


def test_the_allow_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess(*QUIET, "--ipc-dns-allow-unmatched", "--ipc-stub-allow-unmatched")
    result.assert_outcomes(passed=6)
