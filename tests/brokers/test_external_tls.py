"""External brokers over TLS: the external backend given a TLS URL (amqps://, rediss://, tls://, mqtts://)
and the CA bundle and client certificate speaks TLS in its own plumbing (namespace cleanup) and hands
tests the same files (`handle.tls`). The brokers are private ones of the local backend with mutual TLS,
so no system broker's config changes; the session's RabbitMQ listens on mutual TLS already."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.backends.broker_external import ExternalBroker
from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.brokers.endpoint import TLS_SCHEMES, BrokerKind, parse_broker_url
from pytest_ipc.brokers.kinds import KINDS
from pytest_ipc.brokers.redis import redis_client
from pytest_ipc.brokers.server import BrokerServer
from pytest_ipc.brokers.tls import ClientTls, ListenerTls
from pytest_ipc.tls import CertificateAuthority
from tests.brokers.test_tls import EXPECTED, UNTRUSTED, round_trip

KINDS_UNDER_TEST: list[BrokerKind] = ["rabbitmq", "redis", "nats", "mqtt"]


@pytest.fixture(scope="module")
def tls_brokers(ipc_tls_ca: CertificateAuthority) -> Iterator[Callable[[BrokerKind], LocalBroker]]:
    """Private Redis, NATS and Mosquitto with a mutual-TLS listener, started on first use."""
    started: dict[str, LocalBroker] = {}

    def broker(kind: BrokerKind) -> LocalBroker:
        if kind not in started:
            local = KINDS[kind].local(ListenerTls.issue(ipc_tls_ca, mutual=True))
            if (reason := local.missing_reason()) is not None:
                pytest.skip(reason)
            started[kind] = local.start()
        return started[kind]

    try:
        yield broker
    finally:
        for local in started.values():
            local.stop()


@pytest.fixture
def tls_url(request: pytest.FixtureRequest, tls_brokers: Callable[[BrokerKind], LocalBroker]) -> Callable[[BrokerKind], str]:
    """The TLS URL of a broker with mutual TLS, with its admin login, as a user would give it."""

    def url(kind: BrokerKind) -> str:
        if kind == "rabbitmq":
            server: BrokerServer = request.getfixturevalue("rabbitmq_server")
            if server.tls is None or not server.tls.mutual:
                pytest.skip("the session's RabbitMQ was not started with --ipc-rabbitmq-tls mutual")
            endpoint = server.endpoint
        else:
            endpoint = tls_brokers(kind).endpoint
        tls_port = endpoint.extra_ports["tls"]
        plain = endpoint.url.split("://", 1)[1].rsplit(":", 1)[0]  # credentials@host
        return f"{TLS_SCHEMES[kind]}://{plain}:{tls_port}"

    return url


def external(kind: BrokerKind, url: str, files: ClientTls | None) -> BrokerServer:
    spec = KINDS[kind]
    backend = ExternalBroker(kind, url, spec.external_isolation, "the test", users=spec.external_users, client_tls=files)
    return BrokerServer(backend.start(), "external", "ext-tls")


def mutual_files(ca: CertificateAuthority) -> ClientTls:
    certificate = ca.client_certificate()
    return ClientTls(ca.bundle_path, certificate.cert_path, certificate.key_path)


@pytest.mark.parametrize("kind", KINDS_UNDER_TEST)
def test_an_external_tls_url_is_spoken_over_tls_by_tests_and_cleanup(
    kind: BrokerKind, tls_url: Callable[[BrokerKind], str], ipc_tls_ca: CertificateAuthority
) -> None:
    url = tls_url(kind)
    server = external(kind, url, mutual_files(ipc_tls_ca))
    try:
        assert server.endpoint.tls and server.endpoint.port == parse_broker_url(kind, url)[0].port
        handle = server.isolate().open()
        try:
            tls = handle.tls
            assert handle.url.startswith(f"{TLS_SCHEMES[kind]}://") and tls.url == handle.url
            assert tls.mutual and tls.bundle_path == ipc_tls_ca.bundle_path
            assert tls.client_certificate is not None and tls.client_certificate.subject == ipc_tls_ca.client_certificate().subject
            assert round_trip(kind, handle) == EXPECTED[kind]
            with pytest.raises((ssl.SSLError, redis.ConnectionError)) as refused:  # a client trusting only the system's CAs
                round_trip(kind, handle, ca=False)
            assert UNTRUSTED in str(refused.value)
            if kind == "redis":  # cleanup (over TLS) must find what the test left
                with redis_client(handle.endpoint) as client:
                    client.set(handle.name("left"), b"1")
        finally:
            handle.close()  # the namespace's cleanup connects over TLS, with the client certificate
        if kind == "redis":
            with redis_client(server.endpoint) as client:
                assert client.keys(f"{handle.namespace}:*") == []
    finally:
        server.close()


@pytest.mark.slow
def test_without_the_client_certificate_a_mutual_tls_broker_refuses_the_plugin_too(
    tls_url: Callable[[BrokerKind], str], ipc_tls_ca: CertificateAuthority
) -> None:
    server = external("redis", tls_url("redis"), ClientTls(ipc_tls_ca.bundle_path))
    try:
        handle = server.isolate().open()
        assert not handle.tls.mutual and handle.tls.client_certificate is None
        with pytest.raises(redis.ConnectionError):  # the cleanup's connection is refused by the broker
            handle.close()
    finally:
        server.close()


def test_tls_files_are_checked_against_the_url(
    tls_url: Callable[[BrokerKind], str], ipc_tls_ca: CertificateAuthority, tmp_path: Path
) -> None:
    plain = tls_url("redis").replace("rediss://", "redis://")
    with pytest.raises(
        IpcUsageError, match=r"TLS files were given, but the external redis URL is not a TLS one \(redis://\); use rediss://"
    ):
        external("redis", plain, ClientTls(ipc_tls_ca.bundle_path))
    with pytest.raises(IpcUsageError, match="a client certificate needs its key"):
        ClientTls(ipc_tls_ca.bundle_path, ipc_tls_ca.client_certificate().cert_path)
    with pytest.raises(IpcUsageError, match=r"TLS file '.*missing.pem' does not exist"):
        ClientTls(tmp_path / "missing.pem")
    server = external("redis", tls_url("redis"), None)  # a TLS URL without files: the system's CAs
    try:
        with pytest.raises(IpcUsageError, match=r"handle\.tls needs the CA bundle given, --ipc-redis-ca-bundle PATH"):
            _ = server.isolate().tls
    finally:
        server.close()


def test_the_options_reach_the_external_backend(
    pytester: pytest.Pytester, tls_url: Callable[[BrokerKind], str], ipc_tls_ca: CertificateAuthority
) -> None:
    certificate = ipc_tls_ca.client_certificate()
    pytester.makepyfile(
        """
        import redis

        def test_over_tls(redis_broker):
            tls = redis_broker.tls
            assert redis_broker.url.startswith("rediss://") and tls.mutual
            files = {"ssl_ca_certs": str(tls.bundle_path), "ssl_certfile": str(tls.client_certificate.cert_path),
                     "ssl_keyfile": str(tls.client_certificate.key_path)}
            with redis.Redis.from_url(redis_broker.url, **files) as client:
                client.set(redis_broker.name("k"), b"v")
                assert client.get(redis_broker.name("k")) == b"v"
        """
    )
    options = ["-p", "no:cacheprovider", "--ipc-redis-backend=external", f"--ipc-redis-url={tls_url('redis')}"]
    result = pytester.runpytest(
        *options,
        f"--ipc-redis-ca-bundle={ipc_tls_ca.bundle_path}",
        f"--ipc-redis-client-cert={certificate.cert_path}",
        f"--ipc-redis-client-key={certificate.key_path}",
    )
    result.assert_outcomes(passed=1)
    result = pytester.runpytest(*options, f"--ipc-redis-client-cert={certificate.cert_path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ipc-redis-ca-bundle / --ipc-redis-client-cert / --ipc-redis-client-key: a client certificate needs its key*"]
    )
