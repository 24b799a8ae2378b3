"""Engine detection is fast and says what to do; testcontainers gets settings that work here."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testcontainers.core.config import ConnectionMode, testcontainers_config

from pytest_ipc import docker_engine
from pytest_ipc._net import free_port


@pytest.fixture
def pristine_testcontainers_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in docker_engine.TESTCONTAINERS_DEFAULTS:
        monkeypatch.setenv(name, "")  # so that monkeypatch restores it, whatever the test sets
        monkeypatch.delenv(name)
    saved = testcontainers_config.ryuk_disabled, testcontainers_config.connection_mode_override
    yield
    testcontainers_config.ryuk_disabled, testcontainers_config.connection_mode_override = saved


@pytest.mark.usefixtures("pristine_testcontainers_config")
def test_testcontainers_gets_our_defaults_even_after_it_read_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    testcontainers_config.ryuk_disabled = False
    testcontainers_config.connection_mode_override = None
    docker_engine.configure_testcontainers()
    assert testcontainers_config.ryuk_disabled is True
    assert testcontainers_config.connection_mode_override is ConnectionMode.docker_host


@pytest.mark.usefixtures("pristine_testcontainers_config")
def test_the_users_testcontainers_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "false")
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "bridge_ip")
    docker_engine.configure_testcontainers()
    assert testcontainers_config.ryuk_disabled is False
    assert testcontainers_config.connection_mode_override is ConnectionMode.bridge_ip


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
