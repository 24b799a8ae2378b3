"""The gRPC stub over TLS and mutual TLS (`grpc_tls_stub`), its TLS faults, and the security assertions
judging real grpcio clients (sync and grpc.aio) against it: correct ones pass, broken ones are named."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from types import ModuleType

import grpc
import pytest

from pytest_ipc import faults
from pytest_ipc.faults.errors import FaultNotSupported, FaultUsageError
from pytest_ipc.protobuf import ProtoSchema
from pytest_ipc.rpc.errors import RpcUsageError
from pytest_ipc.rpc.grpc_server import GrpcStub
from pytest_ipc.security import (
    SecurityUsageError,
    aio,
    assert_no_credentials_over_plaintext,
    assert_presents_client_certificate,
    assert_verifies_server,
    is_verification_failure,
)
from pytest_ipc.tls import CertificateAuthority

SECRET = "s3cr3t-token-value"
GET = "/shop.v1.Orders/Get"


@pytest.fixture
def orders(grpc_tls_stub: GrpcStub, shop_schema: ProtoSchema) -> GrpcStub:
    grpc_tls_stub.serve(shop_schema)
    grpc_tls_stub.expect("Orders/Get").respond({"id": "o-1", "status": "paid"})
    return grpc_tls_stub


def _get(channel: grpc.Channel, shop_pb2: ModuleType, metadata: tuple[tuple[str, str], ...] = ()) -> object:
    return channel.unary_unary(
        GET, request_serializer=shop_pb2.GetOrder.SerializeToString, response_deserializer=shop_pb2.Order.FromString
    )(shop_pb2.GetOrder(id="o-1"), timeout=3, metadata=metadata)


def client(
    stub: GrpcStub,
    shop_pb2: ModuleType,
    credentials: Callable[[], grpc.ChannelCredentials],
    *,
    options: list[tuple[str, str]] | None = None,
) -> Callable[[], object]:
    """A service that opens a new secure channel per call (as a short-lived client does) and closes it."""

    def call() -> object:
        with grpc.secure_channel(stub.target, credentials(), options=options or []) as channel:
            return _get(channel, shop_pb2)

    return call


def trusting(ca: CertificateAuthority, certificate: bool = False) -> Callable[[], grpc.ChannelCredentials]:
    """The correct client's credentials: the session CA only (and its client certificate for mutual TLS)."""
    if not certificate:
        return lambda: grpc.ssl_channel_credentials(root_certificates=ca.bundle_pem)
    mine = ca.client_certificate()
    return lambda: grpc.ssl_channel_credentials(root_certificates=ca.bundle_pem, private_key=mine.key_pem, certificate_chain=mine.chain_pem)


def trust_on_first_use(stub: GrpcStub) -> Callable[[], grpc.ChannelCredentials]:
    """A broken client: it trusts whatever certificate the server shows it (fetched, then pinned as the root)."""
    return lambda: grpc.ssl_channel_credentials(root_certificates=ssl.get_server_certificate((stub.host, stub.port)).encode())


# -- the stub over TLS -----------------------------------------------------------------------------
def test_a_client_trusting_the_session_ca_is_answered_over_tls(
    orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType
) -> None:
    answer = client(orders, shop_pb2, trusting(ipc_tls_ca))()
    assert answer.status == "paid"  # type: ignore[attr-defined]
    assert _get(orders.channel(), shop_pb2).id == "o-1"  # type: ignore[attr-defined]  # the stub's own channel trusts its CA
    with pytest.raises(grpc.RpcError) as caught:  # plain text to a TLS listener gets no answer
        _get(grpc.insecure_channel(orders.target), shop_pb2)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert len(orders.calls()) == 2


def test_mutual_tls_needs_the_client_certificate(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    orders.require_client_certificate()
    with pytest.raises(grpc.RpcError) as caught:
        client(orders, shop_pb2, trusting(ipc_tls_ca))()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert client(orders, shop_pb2, trusting(ipc_tls_ca, certificate=True))().id == "o-1"  # type: ignore[attr-defined]
    assert _get(orders.channel(client_certificate=ipc_tls_ca.client_certificate()), shop_pb2).id == "o-1"  # type: ignore[attr-defined]
    assert len(orders.calls()) == 2


@pytest.mark.parametrize(
    "fault",
    [faults.expired_certificate(), faults.not_yet_valid_certificate(), faults.wrong_host(), faults.unknown_ca(), faults.self_signed()],
    ids=lambda fault: fault.name,
)
def test_each_bad_server_certificate_fails_a_verifying_client(
    orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType, fault: faults.Fault
) -> None:
    call = client(orders, shop_pb2, trusting(ipc_tls_ca))
    with faults.inject(fault, into=orders) as active:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert active.activations() >= 1  # the handshakes that met the bad certificate
    assert is_verification_failure(caught.value), str(caught.value)
    assert orders.calls() == []
    assert call().id == "o-1"  # type: ignore[attr-defined]  # the valid certificate is back after the block


def test_client_certificate_faults(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    with faults.inject(faults.client_cert_required(), into=orders):
        with pytest.raises(grpc.RpcError):
            client(orders, shop_pb2, trusting(ipc_tls_ca))()
        client(orders, shop_pb2, trusting(ipc_tls_ca, certificate=True))()
    with faults.inject(faults.client_cert_rejected(), into=orders):  # even the right certificate is refused
        with pytest.raises(grpc.RpcError):
            client(orders, shop_pb2, trusting(ipc_tls_ca, certificate=True))()
    with faults.inject(faults.client_cert_expired(), into=orders):  # the client's chain is judged expired
        with pytest.raises(grpc.RpcError):
            client(orders, shop_pb2, trusting(ipc_tls_ca, certificate=True))()
    with faults.inject(faults.old_protocol("TLSv1"), into=orders):  # grpc-core speaks TLS 1.2+ only
        with pytest.raises(grpc.RpcError):
            client(orders, shop_pb2, trusting(ipc_tls_ca))()
    client(orders, shop_pb2, trusting(ipc_tls_ca))()  # no client certificate needed after the blocks
    assert len(orders.calls()) == 2


def test_tls_faults_need_the_tls_stub(grpc_stub: GrpcStub, orders: GrpcStub) -> None:
    with pytest.raises(
        FaultUsageError, match=r"needs the stub serving TLS .* \(the grpc_tls_stub fixture\); 127\.0\.0\.1:\d+ \(gRPC, plain\) has no TLS"
    ):
        with faults.inject(faults.unknown_ca(), into=grpc_stub):
            pass
    with pytest.raises(FaultNotSupported, match="asyncio runs the stub's handshake"):
        with faults.inject(faults.handshake_stall(), into=orders):
            pass
    with pytest.raises(RpcUsageError, match="needs a stub serving TLS"):
        grpc_stub.require_client_certificate()
    with pytest.raises(RpcUsageError, match="needs the stub serving TLS"):
        grpc_stub.channel(client_certificate=object())  # type: ignore[arg-type]


# -- assert_verifies_server ------------------------------------------------------------------------
def test_a_verifying_grpc_client_passes(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    outcomes = assert_verifies_server(client(orders, shop_pb2, trusting(ipc_tls_ca)), orders)
    assert [is_verification_failure(outcome.error) for outcome in outcomes if outcome.error] == [True, True]
    assert len(orders.calls()) == 1  # the control call with the valid certificate; none under a fault


def test_a_client_trusting_any_certificate_is_caught(orders: GrpcStub, shop_pb2: ModuleType) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_verifies_server(client(orders, shop_pb2, trust_on_first_use(orders)), orders)
    message = str(caught.value)
    assert message.startswith("server not verified: expected the handshake to fail when the stub presented unknown-ca")
    assert "measured 1 request(s) reaching the stub" in message
    assert "it does not verify the server's certificate chain against your CA (root_certificates taken from the server" in message


def test_a_target_name_override_is_caught(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    # the chain is checked against the right CA; the name is whatever the override says
    override = [("grpc.ssl_target_name_override", "wrong-host.pytest-ipc.test")]
    with pytest.raises(AssertionError) as caught:
        assert_verifies_server(client(orders, shop_pb2, trusting(ipc_tls_ca), options=override), orders)
    message = str(caught.value)
    assert "presented wrong-host" in message and "it verifies the chain but not the host name (grpc.ssl_target_name_override" in message


def test_a_client_with_the_wrong_root_proves_nothing(orders: GrpcStub, shop_pb2: ModuleType, grpc_stub: GrpcStub) -> None:
    system_roots = client(orders, shop_pb2, lambda: grpc.ssl_channel_credentials())  # the system's CAs, not the session's
    with pytest.raises(AssertionError, match=r"reached the stub 0 time\(s\): a client that refuses every server proves nothing"):
        assert_verifies_server(system_roots, orders)
    with pytest.raises(
        AssertionError,
        match=r"no TLS handshake reached the stub .* did the call use the stub's address \(127\.0\.0\.1:\d+ \(gRPC over TLS\)\)",
    ):
        assert_verifies_server(lambda: 1 / 0, orders)
    with pytest.raises(SecurityUsageError, match=r"needs the gRPC stub serving TLS .*got the plain one"):
        assert_verifies_server(lambda: None, grpc_stub)


@pytest.mark.asyncio
async def test_grpc_aio_clients_are_judged_alike(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    def calling(credentials: Callable[[], grpc.ChannelCredentials], options: list[tuple[str, str]] | None = None) -> Callable[[], object]:
        async def call() -> object:
            async with grpc.aio.secure_channel(orders.target, credentials(), options=options or []) as channel:
                method = channel.unary_unary(
                    GET, request_serializer=shop_pb2.GetOrder.SerializeToString, response_deserializer=shop_pb2.Order.FromString
                )
                return await method(shop_pb2.GetOrder(id="o-1"), timeout=3)

        return call

    await aio.assert_verifies_server(calling(trusting(ipc_tls_ca)), orders)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="it does not verify the server's certificate chain against your CA"):
        await aio.assert_verifies_server(calling(trust_on_first_use(orders)), orders)  # type: ignore[arg-type]
    override = [("grpc.ssl_target_name_override", "wrong-host.pytest-ipc.test")]
    with pytest.raises(AssertionError, match="it verifies the chain but not the host name"):
        await aio.assert_verifies_server(calling(trusting(ipc_tls_ca), override), orders)  # type: ignore[arg-type]
    await aio.assert_presents_client_certificate(calling(trusting(ipc_tls_ca, certificate=True)), orders)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="client certificate not presented"):
        await aio.assert_presents_client_certificate(calling(trusting(ipc_tls_ca)), orders)  # type: ignore[arg-type]


# -- assert_presents_client_certificate -------------------------------------------------------------
def test_a_client_presenting_its_certificate_passes(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    outcome = assert_presents_client_certificate(client(orders, shop_pb2, trusting(ipc_tls_ca, certificate=True)), orders)
    assert outcome.error is None and outcome.value.id == "o-1"  # type: ignore[attr-defined]


def test_a_client_without_its_certificate_is_caught(orders: GrpcStub, ipc_tls_ca: CertificateAuthority, shop_pb2: ModuleType) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_presents_client_certificate(client(orders, shop_pb2, trusting(ipc_tls_ca)), orders)
    message = str(caught.value)
    assert message.startswith("client certificate not presented: expected the call to succeed against a stub that requires")
    assert "measured 0 request(s) reaching it" in message
    assert "grpc.ssl_channel_credentials(root_certificates=..., private_key=key, certificate_chain=cert)" in message


# -- assert_no_credentials_over_plaintext at the plain gRPC stub ------------------------------------
def test_a_token_in_metadata_over_an_insecure_channel_is_caught(
    grpc_stub: GrpcStub, shop_schema: ProtoSchema, shop_pb2: ModuleType, orders: GrpcStub
) -> None:
    grpc_stub.serve(shop_schema)
    grpc_stub.expect("Orders/Get").respond({"id": "o-1"})

    def leaky() -> object:
        with grpc.insecure_channel(grpc_stub.target) as channel:
            return _get(channel, shop_pb2, metadata=(("authorization", f"Bearer {SECRET}"),))

    with pytest.raises(AssertionError) as caught:
        assert_no_credentials_over_plaintext(leaky, grpc_stub)
    message = str(caught.value)
    assert message.startswith("credentials sent over plain text: expected no credential to reach the plain listener")
    assert "/shop.v1.Orders/Get: metadata authorization (Bearer scheme)" in message and SECRET not in message
    assert "use a secure channel (grpc.secure_channel)" in message

    def clean() -> object:
        with grpc.insecure_channel(grpc_stub.target) as channel:
            return _get(channel, shop_pb2)

    assert assert_no_credentials_over_plaintext(clean, grpc_stub).error is None
    with pytest.raises(AssertionError, match=r"no call reached the plain gRPC stub .* did the call use the stub's target"):
        assert_no_credentials_over_plaintext(lambda: None, grpc_stub)
    with pytest.raises(SecurityUsageError, match="needs the plain gRPC stub"):
        assert_no_credentials_over_plaintext(lambda: None, orders)
