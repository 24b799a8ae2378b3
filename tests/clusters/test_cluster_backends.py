"""Where a cluster fixture's nodes run: the broker's own ``--ipc-<kind>-backend`` setting. ``auto``
runs them locally where the binaries are (whether or not a URL is given), ``external`` gives no
cluster, and a backend that cannot run skips with its reason. No cluster is started here."""

from __future__ import annotations

import shutil

import pytest

INNER_CHOICE = """
from pytest_ipc.cluster.nats import NatsCluster
from pytest_ipc.fixtures.clusters import node_runner

def test_choice(pytestconfig):
    print("runner:", node_runner(pytestconfig, NatsCluster).name)
"""
INNER_FIXTURE = """
def test_cluster(nats_cluster):
    raise AssertionError("no cluster was expected")
"""


def test_auto_runs_nodes_locally_even_with_a_url(pytester: pytest.Pytester) -> None:
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server is not installed")
    pytester.makepyfile(INNER_CHOICE)
    result = pytester.runpytest("-s", "--ipc-nats-backend=auto", "--ipc-nats-url=nats://127.0.0.1:1")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*runner: local*"])


def test_external_gives_no_cluster(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INNER_FIXTURE)
    result = pytester.runpytest("-rs", "--ipc-nats-backend=external", "--ipc-nats-url=nats://127.0.0.1:1")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*no nats cluster: --ipc-nats-backend external names one broker of yours*choose local, container or auto for clusters*"]
    )


def test_containers_without_an_engine_skip_with_its_reason(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makepyfile(INNER_FIXTURE)
    result = pytester.runpytest("-rs", "--ipc-nats-backend=container")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*no nats cluster can run here: container: no Docker engine answers at unix:///nonexistent/docker.sock (no such socket)*"]
    )


@pytest.mark.docker
def test_containers_without_the_image_skip_with_its_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(INNER_FIXTURE)
    result = pytester.runpytest("-rs", "--ipc-nats-backend=container", "--ipc-nats-image=local/no-such-nats:none")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no nats cluster can run here: container: image local/no-such-nats:none not present locally*"])


def test_a_redis_cluster_without_its_nodes_source_addresses_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis nodes dial from loopback addresses of their own (Linux has all of 127.0.0.0/8; macOS only
    127.0.0.1 until aliases are added): without them the cluster names what is missing."""
    from pytest_ipc.cluster import core
    from pytest_ipc.cluster.nats import NatsCluster
    from pytest_ipc.cluster.redis import RedisCluster

    assert RedisCluster().unavailable_reason() == RedisCluster().runner.unavailable_reason()  # Linux: 127.0.2.x is there
    monkeypatch.setattr(core, "PEER_SOURCES", "192.0.2")  # TEST-NET-1: on no interface of this machine
    reason = RedisCluster().unavailable_reason()
    assert reason is not None and "192.0.2.1-3" in reason and "ifconfig lo0 alias 192.0.2.1" in reason
    assert NatsCluster().unavailable_reason() == NatsCluster().runner.unavailable_reason()  # its peers have proxies of their own
