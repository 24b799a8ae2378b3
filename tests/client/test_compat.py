"""Other Toxiproxy clients, unchanged, drive the embedded server: toxiproxy-python and the Node client."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

from pytest_ipc.client import ToxiproxyClient
from pytest_ipc.toxiproxy import EmbeddedToxiproxy

RoundTrip = Callable[..., bytes]


@pytest.fixture
def toxiproxy_python(monkeypatch: pytest.MonkeyPatch, embedded_server: EmbeddedToxiproxy) -> Toxiproxy:
    """toxiproxy-python keeps its server address in class attributes; point them at ours for one test."""
    monkeypatch.setattr(APIConsumer, "host", embedded_server.host)
    monkeypatch.setattr(APIConsumer, "port", embedded_server.port)
    return Toxiproxy()


def test_toxiproxy_python_drives_the_embedded_server(
    toxiproxy_python: Toxiproxy, client: ToxiproxyClient, echo_upstream: str, round_trip: RoundTrip
) -> None:
    assert json.loads(toxiproxy_python.version()) == {"version": client.version()}

    proxy = toxiproxy_python.create(upstream=echo_upstream, name="legacy")
    address = ("127.0.0.1", int(proxy.listen.rsplit(":", 1)[1]))
    assert round_trip(address) == b"ping"

    proxy.add_toxic(type="latency", attributes={"latency": 300})
    assert list(proxy.toxics()) == ["latency_downstream"]
    assert proxy.toxics()["latency_downstream"].attributes == {"latency": 300, "jitter": 0}
    started = time.monotonic()
    assert round_trip(address) == b"ping"
    assert time.monotonic() - started >= 0.3
    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}

    with proxy.down():
        assert client.get_proxy("legacy").enabled is False
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=2).close()
    assert round_trip(address) == b"ping"

    assert set(toxiproxy_python.proxies()) == {"legacy"}
    toxiproxy_python.destroy(proxy)
    assert toxiproxy_python.get_proxy("legacy") is None
    assert client.proxies() == {}


def test_toxiproxy_python_populate_and_reset(
    toxiproxy_python: Toxiproxy, client: ToxiproxyClient, echo_upstream: str
) -> None:
    created = toxiproxy_python.populate([{"name": "one", "upstream": echo_upstream, "listen": "127.0.0.1:0"}])
    assert [proxy.name for proxy in created] == ["one"]
    created[0].add_toxic(type="timeout", stream="upstream", attributes={"timeout": 0})
    created[0].disable()

    assert toxiproxy_python.reset() is True

    after = client.get_proxy("one")
    assert after.enabled is True
    assert after.toxics() == {}


NODE_SCRIPT = """
const { Toxiproxy } = require("toxiproxy-node-client");

async function main() {
  const [url, upstream] = process.argv.slice(2);
  const toxiproxy = new Toxiproxy(url);
  const version = JSON.parse(await toxiproxy.getVersion()).version;
  const proxy = await toxiproxy.createProxy({ name: "from-node", upstream, listen: "127.0.0.1:0" });
  const toxic = await proxy.addToxic({
    name: "slow", type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 250, jitter: 0 },
  });
  await toxic.update({ attributes: { latency: 400 }, toxicity: 0.5 });
  const fetched = (await proxy.getToxic("slow")).toJson();
  const disabled = await proxy.update({ enabled: false });
  await toxic.remove();
  await proxy.remove();
  const proxiesLeft = Object.keys(await toxiproxy.getAll());
  console.log(JSON.stringify({ version, listen: proxy.listen, fetched, enabled: disabled.enabled, proxiesLeft }));
}

main().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="session")
def node_client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """toxiproxy-node-client installed from npm into a private temp dir, or a skip naming why not."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("node and npm are needed for the Node client check")
    directory = tmp_path_factory.mktemp("node-client")
    directory.chmod(0o700)
    try:
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(directory),
                "toxiproxy-node-client@4",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"could not install toxiproxy-node-client from npm: {error}")
    (directory / "drive.js").write_text(NODE_SCRIPT)
    return directory


@pytest.mark.slow
def test_node_client_drives_the_embedded_server(
    node_client_dir: Path, client: ToxiproxyClient, echo_upstream: str
) -> None:
    node = shutil.which("node")
    assert node is not None
    finished = subprocess.run(
        [node, str(node_client_dir / "drive.js"), client.url, echo_upstream],
        cwd=node_client_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["version"] == client.version()
    assert report["listen"].startswith("127.0.0.1:")
    assert not report["listen"].endswith(":0")
    assert report["fetched"] == {
        "name": "slow",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 0.5,
        "attributes": {"latency": 400, "jitter": 0},
    }
    assert report["enabled"] is False
    assert report["proxiesLeft"] == []
