"""Safe defaults: listeners on loopback, the admin API closed to browsers, random broker credentials,
private temp dirs, no shell."""

from __future__ import annotations

import ast
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pytest_ipc.backends.broker_local import LocalBroker
from pytest_ipc.backends.local import make_private_dir, remove_private_dir
from pytest_ipc.brokers.mqtt import LocalMosquitto
from pytest_ipc.brokers.nats import LocalNats
from pytest_ipc.brokers.rabbitmq import LocalRabbitMQ
from pytest_ipc.brokers.redis import LocalRedis
from pytest_ipc.client.client import ToxiproxyServer
from pytest_ipc.client.scoped import ScopedToxiproxy
from pytest_ipc.stub import HttpStub
from pytest_ipc.toxiproxy import EmbeddedToxiproxy
from tests.reliability.machine import listening_sockets, process_alive, process_group

pytestmark = pytest.mark.slow  # whole sessions, signals, load or containers: CI runs them (see the root conftest)

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_ipc"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def bound_hosts(port: int, pid: int | None = None) -> set[str]:
    """Every address a listening socket of `pid` on `port` is bound to."""
    return {host for host, listening_port in listening_sockets(pid) if listening_port == port}


def test_fixture_listeners_are_on_loopback(
    toxiproxy_server: ToxiproxyServer, toxiproxy: ScopedToxiproxy, http_stub: HttpStub
) -> None:
    proxy = toxiproxy.create_proxy(upstream=(http_stub.host, http_stub.port))
    api_port = httpx.URL(toxiproxy_server.url).port
    assert api_port is not None
    for what, port in [("admin API", api_port), ("proxy", proxy.port), ("HTTP stub", http_stub.port)]:
        assert bound_hosts(port) == {"127.0.0.1"}, f"the {what} listens on {bound_hosts(port) or 'nothing'}"


def test_the_standalone_server_defaults_to_loopback() -> None:
    command = [sys.executable, "-m", "pytest_ipc.toxiproxy", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            banner = server.stdout.readline() if server.stdout else ""
            port = httpx.URL(banner.rsplit(" ", 1)[-1].strip()).port
            assert port is not None, banner
            assert bound_hosts(port, server.pid) == {"127.0.0.1"}
        finally:
            server.terminate()
            server.wait(10)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/proxies", None), ("POST", "/proxies", {"name": "evil", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"}),
     ("POST", "/reset", None), ("GET", "/version", None)],
)
def test_the_admin_api_refuses_browsers(method: str, path: str, body: object) -> None:
    """A web page can make a browser send simple cross-origin requests; Toxiproxy refuses them by user agent."""
    with EmbeddedToxiproxy() as server, httpx.Client(base_url=server.url) as client:
        refused = client.request(method, path, json=body, headers={"User-Agent": BROWSER, "Origin": "https://evil.example"})
        assert refused.status_code == 403 and refused.text == "User agent not allowed\n"
        assert client.get("/proxies").json() == {}, "the refused request changed nothing"


def _shell_uses(tree: ast.AST) -> list[int]:
    """Lines calling something with ``shell=<anything but False>``, or os.system / os.popen."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                lines.append(node.lineno)
        function = node.func
        if (
            isinstance(function, ast.Attribute)
            and function.attr in ("system", "popen")
            and isinstance(function.value, ast.Name)
            and function.value.id == "os"
        ):
            lines.append(node.lineno)
    return lines


def test_no_shell_anywhere_in_the_package() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20, "the scan found the package"
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{line}" for path in sources for line in _shell_uses(ast.parse(path.read_text()))]
    assert offenders == []
    assert _shell_uses(ast.parse("import subprocess, os\nsubprocess.run('x', shell=True)\nos.system('x')")) == [2, 3]


@pytest.mark.parametrize(
    "broker_class", [LocalRedis, LocalNats, LocalMosquitto, pytest.param(LocalRabbitMQ, marks=pytest.mark.slow)]
)
def test_local_brokers_are_private(broker_class: type[LocalBroker]) -> None:
    """Random credentials per instance, a 0700 home, every listener of every process on loopback."""
    first, second = broker_class(), broker_class()
    assert first.username != second.username and first.password != second.password
    assert len(first.password) >= 32
    if (reason := first.missing_reason()) is not None:
        pytest.skip(reason)
    first.start()
    try:
        base, pid = first.base, first.process.pid
        assert pid is not None
        assert stat.S_IMODE(base.stat().st_mode) == 0o700
        group = process_group(pid)
        listeners = [address for member in group for address in listening_sockets(member)]
        assert {port for _, port in listeners} >= {first.ports[first.port_names[0]]}, listeners
        assert {host for host, _ in listeners} <= {"127.0.0.1", "::1"}, listeners
    finally:
        first.stop()
    assert not base.exists()
    assert [member for member in group if process_alive(member)] == []


def test_private_dirs_are_0700_and_removed() -> None:
    directory = make_private_dir("reliability")
    try:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    finally:
        remove_private_dir(directory)
    assert not directory.exists()
