"""ContainerBackend's contract: reasons up front, nothing left behind, same ports across restarts."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pytest_ipc._net import LOOPBACK
from pytest_ipc._owner import OWNER_LABEL, owner_token
from pytest_ipc.backends import NoBackendAvailable, choose_backend
from pytest_ipc.backends import container as container_module
from pytest_ipc.backends.container import ContainerBackend, ContainerStartError, private_network
from pytest_ipc.backends.local import reserve_port
from pytest_ipc.docker_engine import ImageUnavailable
from tests.containers.container_specs import REDIS, container_ids_of


def test_reason_names_the_engine_and_the_hint_without_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    backend = ContainerBackend(REDIS)
    reason = backend.unavailable_reason()
    assert reason == (
        f"no Docker engine answers at unix://{tmp_path}/docker.sock (no such socket); start dockerd or set DOCKER_HOST"
    )
    with pytest.raises(NoBackendAvailable, match=r"^container: no Docker engine answers"):
        choose_backend([backend])


@pytest.mark.docker
def test_a_missing_image_is_unavailable_unless_pulling_is_allowed(docker_client: Any) -> None:
    unpulled = ContainerBackend(dataclasses.replace(REDIS, image="pytest-ipc-tests/never-published:0"))
    assert unpulled.unavailable_reason() == (
        "image pytest-ipc-tests/never-published:0 not present locally; pull it "
        "(docker pull pytest-ipc-tests/never-published:0) or name an image the engine has"
    )
    with pytest.raises(ImageUnavailable, match="not present locally"):
        unpulled.start()
    pulled = ContainerBackend(dataclasses.replace(REDIS, image="pytest-ipc-tests/never-published:0", pull=True))
    assert pulled.unavailable_reason() is None  # it might be pullable: only trying tells
    before = container_ids_of(docker_client, owner_token())
    failed_pull = (
        r"never-published:0 is not present locally and pulling it failed .*; pull it where a registry is reachable "
        r"\(docker pull pytest-ipc-tests/never-published:0\), or name an image the engine has"
    )
    with pytest.raises(ImageUnavailable, match=failed_pull):
        pulled.start()
    assert container_ids_of(docker_client, owner_token()) == before


@pytest.mark.docker
def test_start_labels_the_container_and_stop_removes_it(backends: list[ContainerBackend], docker_client: Any) -> None:
    backend = ContainerBackend(REDIS)
    backends.append(backend)
    assert backend.name == "container" and backend.unavailable_reason() is None
    endpoint = backend.start()
    labels = docker_client.containers.get(endpoint.container_id).labels
    assert labels[OWNER_LABEL] == owner_token()
    backend.stop()
    assert endpoint.container_id not in container_ids_of(docker_client, owner_token())
    backend.stop()  # idempotent


@pytest.mark.docker
def test_a_container_that_exits_fails_the_start_with_its_output_and_is_removed(docker_client: Any) -> None:
    spec = dataclasses.replace(REDIS, command=["sh", "-c", "echo config is broken >&2; exit 3"])
    before = container_ids_of(docker_client, owner_token())
    with pytest.raises(ContainerStartError, match=r"(?s)exited while starting.*config is broken"):
        ContainerBackend(spec).start()
    assert container_ids_of(docker_client, owner_token()) == before


@pytest.mark.docker
def test_a_probe_that_never_passes_times_out_with_its_last_error_and_removes_the_container(docker_client: Any) -> None:
    def refuses(_endpoint: object) -> bool:
        raise ConnectionRefusedError("still booting")

    spec = dataclasses.replace(REDIS, ready=refuses, ready_timeout=0.5)
    before = container_ids_of(docker_client, owner_token())
    with pytest.raises(ContainerStartError, match=r"not ready within 0.5 s \(ConnectionRefusedError: still booting\)"):
        ContainerBackend(spec).start()
    assert container_ids_of(docker_client, owner_token()) == before


@pytest.mark.docker
def test_kill_and_start_keep_the_ports_and_the_data(backends: list[ContainerBackend]) -> None:
    # Redis with an append-only file, so the data outlives a SIGKILL.
    spec = dataclasses.replace(REDIS, command=["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no",
                                               "--appendonly", "yes", "--appendfsync", "always", "--dir", "/tmp"])
    backend = ContainerBackend(spec)
    backends.append(backend)
    endpoint = backend.start()
    # No retries: a failing command must fail at once, not after redis-py's backoff.
    client = redis.Redis(endpoint.host, endpoint.ports["redis"], socket_timeout=2, retry=Retry(NoBackoff(), 0))
    try:
        client.set("survives", "yes")
        backend.kill_container()
        with pytest.raises(redis.ConnectionError):
            client.get("survives")
        assert backend.start_container() == endpoint
        assert client.get("survives") == b"yes"
        backend.stop_container(timeout=5)
        with pytest.raises(redis.ConnectionError):
            client.get("survives")
        assert backend.start_container() == endpoint
        assert client.get("survives") == b"yes"
    finally:
        client.close()


@pytest.mark.docker
def test_containers_on_a_private_network_reach_each_other_by_alias(docker_client: Any) -> None:
    with private_network() as network:
        assert docker_client.networks.get(network).attrs["Labels"][OWNER_LABEL] == owner_token()
        server = ContainerBackend(dataclasses.replace(REDIS, network=network, network_aliases=("cache",)))
        neighbour = ContainerBackend(dataclasses.replace(REDIS, network=network))
        try:  # both must be gone before the network can go
            server.start()
            neighbour_id = neighbour.start().container_id
            result = docker_client.containers.get(neighbour_id).exec_run(["redis-cli", "-h", "cache", "ping"])
            assert (result.exit_code, result.output.strip()) == (0, b"PONG")
        finally:
            server.stop()
            neighbour.stop()
    assert not docker_client.networks.list(names=[network])


class TakenPort:
    """Stands in for the reservation of a port that a foreign program listens on."""

    def __init__(self, port: int) -> None:
        self.port = port

    def getsockname(self) -> tuple[str, int]:
        return (LOOPBACK, self.port)

    def close(self) -> None:
        pass


@pytest.fixture
def foreign_listener() -> Iterator[socket.socket]:
    with socket.create_server((LOOPBACK, 0)) as listener:
        yield listener


@pytest.mark.docker
def test_a_host_port_taken_by_another_program_is_retried_on_a_fresh_one(
    backends: list[ContainerBackend], foreign_listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = foreign_listener.getsockname()[1]
    handed_out = iter([TakenPort(taken)])
    monkeypatch.setattr(container_module, "reserve_port", lambda: next(handed_out, None) or reserve_port())
    backend = ContainerBackend(REDIS)
    backends.append(backend)
    assert backend.start().ports["redis"] != taken


@pytest.mark.docker
def test_host_ports_stay_reserved_while_the_container_is_down(backends: list[ContainerBackend]) -> None:
    """docker-proxy binds next to our reservation; while the container is killed, nobody else can
    bind the port (a plain bind is what another program's choice of a free port does)."""
    backend = ContainerBackend(REDIS)
    backends.append(backend)
    port = backend.start().ports["redis"]
    backend.kill_container()
    with socket.socket() as other, pytest.raises(OSError, match="Address already in use"):
        other.bind((LOOPBACK, port))
    assert backend.start_container().ports["redis"] == port
