"""Engine detection is fast and says what to do; testcontainers runs our containers without Ryuk, set
per call on its own configuration, never in the environment."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from pytest_ipc import docker_engine
from pytest_ipc._net import free_port
from pytest_ipc.backends.container import ContainerBackend
from tests.containers.container_specs import REDIS


@pytest.fixture
def users_testcontainers_settings() -> Iterator[None]:
    """Ryuk on, as a user's own testcontainers use may want it; put back whatever was there."""
    saved = testcontainers_config.ryuk_disabled
    testcontainers_config.ryuk_disabled = False
    yield
    testcontainers_config.ryuk_disabled = saved


def settings_in_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("TESTCONTAINERS_")}


@pytest.mark.usefixtures("users_testcontainers_settings")
def test_ryuk_is_off_only_while_our_containers_start() -> None:
    environment = settings_in_environment()
    with docker_engine.ryuk_disabled():
        assert testcontainers_config.ryuk_disabled is True
        with docker_engine.ryuk_disabled():  # another of our starts, at the same time
            assert testcontainers_config.ryuk_disabled is True
        assert testcontainers_config.ryuk_disabled is True, "the outer start still runs"
    assert testcontainers_config.ryuk_disabled is False
    assert settings_in_environment() == environment


@pytest.mark.docker
@pytest.mark.usefixtures("users_testcontainers_settings")
def test_a_container_start_leaves_the_users_testcontainers_settings_and_environment_alone(
    backends: list[ContainerBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_during_start: list[bool] = []
    start = DockerContainer.start

    def recording_start(container: DockerContainer) -> DockerContainer:
        seen_during_start.append(testcontainers_config.ryuk_disabled)
        return start(container)

    monkeypatch.setattr(DockerContainer, "start", recording_start)
    environment = dict(os.environ)
    backend = ContainerBackend(REDIS)
    backends.append(backend)
    backend.start()
    assert seen_during_start == [True]
    assert testcontainers_config.ryuk_disabled is False
    assert dict(os.environ) == environment


def test_an_engine_that_refuses_connections_is_reported_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DOCKER_HOST", address)
    started = time.monotonic()
    reason = docker_engine.docker_unavailable_reason()
    assert reason is not None
    assert reason.startswith(f"no Docker engine answers at {address}: ")
    assert reason.endswith("; start dockerd or set DOCKER_HOST")
    assert "\n" not in reason
    assert time.monotonic() - started < 5


def test_where_published_ports_are_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    expectations = {
        "unix:///run/docker.sock": "127.0.0.1",
        "tcp://127.0.0.1:2375": "127.0.0.1",
        "tcp://docker:2376": "docker",
    }
    for address, host in expectations.items():
        monkeypatch.setenv("DOCKER_HOST", address)
        assert docker_engine.published_host() == host


@pytest.mark.docker
def test_a_running_engine_answers_and_knows_its_images() -> None:
    assert docker_engine.docker_unavailable_reason() is None
    assert docker_engine.image_present("local/redis:debian")
    assert not docker_engine.image_present("local/never-built:debian")


def test_the_plugin_leaves_a_users_own_docker_marker_alone(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker` and `slow` are this repository's markers, not the plugin's: a user's own `docker`
    test runs even without an engine, and the plugin registers neither name."""
    pytester.makeini("[pytest]\nmarkers =\n    docker: the user's own marker\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.docker
        def test_users_own_docker_test():
            pass
        """
    )
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'absent.sock'}")
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider", "-p", "no:benchmark", "--strict-markers")
    result.assert_outcomes(passed=1)
    markers = pytester.runpytest("--markers", "-p", "no:cacheprovider", "-p", "no:benchmark").stdout.str()
    assert "@pytest.mark.slow" not in markers


def test_a_missing_client_library_is_named_with_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "testcontainers", None)  # what an absent package looks like to import
    assert docker_engine.docker_unavailable_reason() == (
        "the testcontainers package is not installed; pip install 'pytest-ipc[containers]'"
    )
