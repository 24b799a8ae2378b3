"""Choosing a backend: bad values are usage errors naming the choices; nothing available is a skip
with every backend's reason."""

from __future__ import annotations

import pytest

USES_REDIS = """
def test_uses_redis(redis_server):
    pass
"""


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("--ipc-redis-backend=docker-compose")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ipc-redis-backend: unknown backend 'docker-compose'; choose one of: auto, external, container, local*"])


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
                "*no redis broker can run here: external: no URL given (--ipc-redis-url*; container: *; "
                "local: redis-server not found (apt-get install redis-server)*"
            )
        ]
    )


def test_a_named_backend_that_cannot_run_skips_with_its_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(USES_REDIS)
    result = pytester.runpytest("-rs", "--ipc-redis-backend=external")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no redis broker can run here: external: no URL given*"])
    assert "local:" not in result.stdout.str()


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
