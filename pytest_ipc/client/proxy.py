"""A fluent handle on one proxy: one method per toxic type, ``down()``, and pytest-ipc's counters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ipc._net import split_host_port
from pytest_ipc.client.api import ToxiproxyTransport, api_path
from pytest_ipc.client.counters import LiveConnection, ProxyCounters
from pytest_ipc.client.errors import UnsupportedByServer
from pytest_ipc.client.toxics import Toxic, check_stream, check_toxicity, to_wire
from pytest_ipc.toxiproxy.model import Stream

if TYPE_CHECKING:
    from pytest_ipc.client.tls import TlsTermination
    from pytest_ipc.tls import Certificate


class Proxy:
    """One proxy as the server last described it (`refresh()` reads it again)."""

    def __init__(self, api: ToxiproxyTransport, data: Mapping[str, Any]) -> None:
        self._api = api
        #: What `create_proxy(tls=...)` asked for (None on a handle read back from the server): TLS faults issue from it.
        self.termination: TlsTermination | None = None
        self._load(data)

    def _load(self, data: Mapping[str, Any]) -> None:
        self.name: str = data["name"]
        self.listen: str = data["listen"]
        self.upstream: str = data["upstream"]
        self.enabled: bool = bool(data["enabled"])
        self.terminates_tls: bool = "tls" in data  # clients speak TLS to the proxy, toxics see plaintext

    @property
    def _path(self) -> str:
        return api_path("proxies", self.name)

    @property
    def host(self) -> str:
        return split_host_port(self.listen)[0]

    @property
    def port(self) -> int:
        return split_host_port(self.listen)[1]

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the listener, ready for `socket.create_connection`."""
        return split_host_port(self.listen)

    @property
    def url(self) -> str:
        """The listener as a URL for an HTTP client: https when the proxy terminates TLS, else http
        (for TLS passed through, write ``https://`` with `address`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.terminates_tls else 'http'}://{host}:{self.port}"

    def refresh(self) -> Proxy:
        self._load(self._api.get(self._path))
        return self

    # -- toxics (seconds, bytes, bytes per second; the wire's units are toxics.to_wire's business) --

    def add_toxic(
        self,
        toxic_type: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: object,
    ) -> Toxic:
        """Add a toxic of any type the server knows; the typed methods below are the usual way in.

        A built-in type's attributes take the typed methods' names and units; a type this client
        does not know (a server's custom toxic) gets its attributes passed through unconverted, in
        that server's own names and units.
        """
        body: dict[str, object] = {
            "type": toxic_type,
            "stream": check_stream(stream),
            "toxicity": check_toxicity(toxicity),
            "attributes": to_wire(toxic_type, attributes),
        }
        if name is not None:
            body["name"] = name
        return Toxic(self._api, self.name, self._api.post(api_path("proxies", self.name, "toxics"), body))

    def latency(
        self,
        latency: float,
        jitter: float = 0.0,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> Toxic:
        """Delay every chunk by `latency` +- `jitter` seconds (1 ms resolution)."""
        return self.add_toxic("latency", stream=stream, toxicity=toxicity, name=name, latency=latency, jitter=jitter)

    def bandwidth(
        self, rate: int, *, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None
    ) -> Toxic:
        """Limit throughput to `rate` bytes per second (sent rounded to whole KB/s of 1000 bytes); 0 stalls."""
        return self.add_toxic("bandwidth", stream=stream, toxicity=toxicity, name=name, rate=rate)

    def timeout(
        self, timeout: float, *, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None
    ) -> Toxic:
        """Swallow all data; close after `timeout` seconds without incoming data (0: hang forever)."""
        return self.add_toxic("timeout", stream=stream, toxicity=toxicity, name=name, timeout=timeout)

    def reset_peer(
        self, timeout: float = 0.0, *, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None
    ) -> Toxic:
        """Reset the connection (TCP RST) `timeout` seconds after the first data arrives."""
        return self.add_toxic("reset_peer", stream=stream, toxicity=toxicity, name=name, timeout=timeout)

    def slow_close(
        self, delay: float, *, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None
    ) -> Toxic:
        """Hold the close back by `delay` seconds after the other side closed."""
        return self.add_toxic("slow_close", stream=stream, toxicity=toxicity, name=name, delay=delay)

    def slicer(
        self,
        average_size: int,
        size_variation: int = 0,
        delay: float = 0.0,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> Toxic:
        """Cut data into pieces of about `average_size` bytes, `delay` seconds apart (1 µs resolution)."""
        return self.add_toxic(
            "slicer",
            stream=stream,
            toxicity=toxicity,
            name=name,
            average_size=average_size,
            size_variation=size_variation,
            delay=delay,
        )

    def limit_data(
        self, size: int, *, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None
    ) -> Toxic:
        """Close each connection once `size` bytes have passed in this direction."""
        return self.add_toxic("limit_data", stream=stream, toxicity=toxicity, name=name, size=size)

    def noop(self, *, stream: Stream = "downstream", toxicity: float = 1.0, name: str | None = None) -> Toxic:
        """A toxic that passes data unchanged: a marker, or a way to check a toxic reaches live connections."""
        return self.add_toxic("noop", stream=stream, toxicity=toxicity, name=name)

    def toxics(self) -> dict[str, Toxic]:
        """Every toxic, upstream chain first, each chain in the order the toxics were added."""
        listed = self._api.get(api_path("proxies", self.name, "toxics"))
        return {data["name"]: Toxic(self._api, self.name, data) for data in listed}

    def get_toxic(self, name: str) -> Toxic:
        return Toxic(self._api, self.name, self._api.get(api_path("proxies", self.name, "toxics", name)))

    def remove_toxic(self, name: str) -> None:
        self._api.delete(api_path("proxies", self.name, "toxics", name))

    def remove_all_toxics(self) -> None:
        for toxic in self.toxics().values():
            toxic.remove()

    # -- state ------------------------------------------------------------------------------------

    def disable(self) -> Proxy:
        """Close the listener and every live connection; new connections are refused. Toxics stay."""
        self._load(self._api.update(self._path, {"enabled": False}))
        return self

    def enable(self) -> Proxy:
        """Listen again, on the same port."""
        self._load(self._api.update(self._path, {"enabled": True}))
        return self

    @contextmanager
    def down(self) -> Iterator[Proxy]:
        """The service is down inside the block and back after it, whatever the block raises."""
        self.disable()
        try:
            yield self
        finally:
            self.enable()

    def delete(self) -> None:
        self._api.delete(self._path)

    def counters(self) -> ProxyCounters:
        """Connections and bytes seen, and how often each toxic fired (pytest-ipc's server only)."""
        return ProxyCounters.from_json(self._extension("counters", "per-proxy counters"))

    def connections(self) -> list[LiveConnection]:
        """The connections open through this proxy right now (pytest-ipc's server only)."""
        return [
            LiveConnection.from_json(data) for data in self._extension("connections", "the list of live connections")
        ]

    def set_tls_fault(
        self,
        *,
        certificate: Certificate | None = None,
        client_ca: Path | None = None,
        version: str = "",
        handshake: str = "",
        toxicity: float = 1.0,
    ) -> None:
        """Make this terminating proxy's handshakes meet a TLS fault (pytest-ipc's server only; the fault
        vocabulary's `faults.inject(..., into=proxy)` calls this): present `certificate`, require client
        certificates chaining to `client_ca`, speak only `version` ("TLSv1", "TLSv1.1"), or hold the
        handshake (`handshake` "stall" or "reset"), on each connection with probability `toxicity`."""
        body: dict[str, object] = {"version": version, "handshake": handshake, "toxicity": check_toxicity(toxicity)}
        if certificate is not None:
            body |= {"certificate": str(certificate.cert_path), "key": str(certificate.key_path)}
        if client_ca is not None:
            body["client_ca"] = str(client_ca)
        self._extension_call("POST", "tls_fault", "a TLS fault on a terminating proxy", body)

    def clear_tls_fault(self) -> None:
        """Take this proxy's TLS fault away (idempotent)."""
        self._extension_call("DELETE", "tls_fault", "a TLS fault on a terminating proxy")

    def _extension(self, endpoint: str, what: str) -> Any:
        """GET one of pytest-ipc's additions to the API, explaining a 404 from a server without it."""
        return self._extension_call("GET", endpoint, what)

    def _extension_call(self, method: str, endpoint: str, what: str, body: object = None) -> Any:
        try:
            return self._api.request(method, api_path("proxies", self.name, endpoint), body)
        except UnsupportedByServer as error:
            raise UnsupportedByServer(
                f"{what} is an addition of pytest-ipc's embedded Toxiproxy; this server (a real "
                f"Toxiproxy?) has no /proxies/{{name}}/{endpoint} endpoint: {error.message}",
                error.status,
                request=error.request,
            ) from error

    def __repr__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"Proxy({self.name!r}, listen={self.listen!r}, upstream={self.upstream!r}, {state})"
