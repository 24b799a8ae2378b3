"""Choosing a backend: bad values are usage errors naming the choices; nothing available is a skip
with every backend's reason and a hint; `auto` follows one rule for every service."""

from __future__ import annotations

import pytest

from pytest_ipc.backends import AUTO_ORDER, NoBackendAvailable, choose_backend
from pytest_ipc.backends.services import SERVICES

USES_REDIS = """
def test_uses_redis(redis_server):
    pass
"""


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--ipc-redis-backend=docker-compose")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ipc-redis-backend: unknown backend 'docker-compose'; choose one of: auto, external, local, container*"]
    )


def test_unknown_backend_from_the_environment_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_IPC_REDIS_BACKEND", "kubernetes")
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*PYTEST_IPC_REDIS_BACKEND*unknown backend 'kubernetes'*"])


def test_a_url_of_the_wrong_kind_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--ipc-redis-url=http://127.0.0.1:6379")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-redis-url*'http://127.0.0.1:6379' is not a redis URL; expected redis://*"])


def test_nothing_available_skips_with_every_reason(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))  # no redis-server on it
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-docker.sock")
    monkeypatch.delenv("PYTEST_IPC_REDIS_URL", raising=False)
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            (
                "*no redis broker can run here: external: no URL given (--ipc-redis-url*; "
                "local: redis-server not found (apt-get install redis-server); container: no Docker engine answers* "
                "(hint: give one with --ipc-redis-url (redis://HOST:PORT), or install the broker's binary, or "
                "`docker pull` its image on a Docker engine (another image: --ipc-redis-image))"
            )
        ]
    )


def test_a_named_backend_that_cannot_run_skips_with_its_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-docker.sock")
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("-rs", "--ipc-redis-backend=container")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no redis broker can run here: container: no Docker engine answers*"])
    assert "local:" not in result.stdout.str()


def test_the_external_backend_without_a_url_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--ipc-redis-backend=external")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-redis-backend external needs a URL: give one with --ipc-redis-url / PYTEST_IPC_REDIS_URL*"])


class Fake:
    """A backend that can run or not, for the order `auto` tries them in."""

    def __init__(self, name: str, reason: str | None = None) -> None:
        self.name = name
        self.reason = reason

    def unavailable_reason(self) -> str | None:
        return self.reason

    def start(self) -> str:
        return self.name

    def stop(self) -> None:
        pass


def test_auto_tries_the_cheapest_first_whatever_order_a_service_lists() -> None:
    everything = [Fake("container"), Fake("local"), Fake("embedded"), Fake("external", "no URL given")]
    assert choose_backend(everything).name == "embedded"
    assert choose_backend([Fake("container"), Fake("local")]).name == "local"
    assert choose_backend([Fake("container"), Fake("local", "not installed")]).name == "container"
    with pytest.raises(NoBackendAvailable, match=r"^local: not installed; container: no engine$"):
        choose_backend([Fake("container", "no engine"), Fake("local", "not installed")])


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_service_has_the_same_settings_and_a_public_default_image(name: str) -> None:
    from pytest_ipc.fixtures.backends import BACKENDS, IMAGES, URLS

    choices = BACKENDS[name].choices
    assert choices[:2] == ("auto", "external") and "container" in choices
    assert list(choices[1:]) == sorted(choices[1:], key=AUTO_ORDER.index)
    assert (BACKENDS[name].option, URLS[name].option, IMAGES[name].option) == (
        f"--ipc-{name}-backend",
        f"--ipc-{name}-url",
        f"--ipc-{name}-image",
    )
    default = IMAGES[name].default
    assert default == SERVICES[name].default_image and default is not None and not default.startswith("local/")


def test_one_broker_per_session_however_many_tests_use_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        SEEN = set()

        @pytest.mark.parametrize("n", range(3))
        def test_uses_redis(redis_broker, n):
            SEEN.add((id(redis_broker.server), redis_broker.server.runtime.process.pid))
            assert len(SEEN) == 1
        """
    )
    result = pytester.runpytest("--ipc-redis-backend=local")
    result.assert_outcomes(passed=3)
