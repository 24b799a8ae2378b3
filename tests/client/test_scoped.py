"""ScopedToxiproxy, the object behind the ``toxiproxy`` fixture: it touches only what it created."""

from __future__ import annotations

import pytest

from pytest_ipc.client import ScopedToxiproxy, ToxiproxyClient, ToxiproxyError
from pytest_ipc.toxiproxy import EmbeddedToxiproxy


def test_names_are_prefixed_numbered_and_cleaned(client: ToxiproxyClient, echo_upstream: str) -> None:
    with ScopedToxiproxy(client, "test_retry[orders/v2 api]-gw1") as scoped:
        names = [scoped.create_proxy(echo_upstream).name for _ in range(2)]
        named = scoped.create_proxy(echo_upstream, name="exactly-this")

        assert names == ["test_retry-orders-v2-api-gw1-1", "test_retry-orders-v2-api-gw1-2"]
        assert named.name == "exactly-this"
        assert sorted(client.proxies()) == sorted([*names, "exactly-this"])
    assert client.proxies() == {}


def test_reset_and_close_leave_other_proxies_alone(client: ToxiproxyClient, echo_upstream: str) -> None:
    bystander = client.create_proxy("someone-else", upstream=echo_upstream)
    bystander.latency(0.1)
    bystander.disable()
    scoped = ScopedToxiproxy(client, "mine")
    ours = scoped.create_proxy(echo_upstream)
    ours.timeout(0)
    ours.disable()

    scoped.reset()

    assert ours.refresh().enabled is True
    assert ours.toxics() == {}
    assert bystander.refresh().enabled is False
    assert list(bystander.toxics()) == ["latency_downstream"]

    scoped.close()

    assert list(client.proxies()) == ["someone-else"]


def test_close_tolerates_proxies_the_test_deleted_and_reports_real_failures(echo_upstream: str) -> None:
    with EmbeddedToxiproxy() as server, ToxiproxyClient(server.url, timeout=2) as client:
        scoped = ScopedToxiproxy(client, "gone")
        scoped.create_proxy(echo_upstream).delete()
        scoped.close()  # the proxy is gone already: nothing to report

        scoped.create_proxy(echo_upstream)
        server.stop()  # every later request fails
        with pytest.raises(ToxiproxyError, match=r"could not delete proxies: gone-2: .*no connection"):
            scoped.close()
