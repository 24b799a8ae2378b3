"""Where the container backends' images come from: command line, environment, ini, pinned default,
the same for every service (the fault proxy's and the stub's shown here)."""

from __future__ import annotations

import re

import pytest

from pytest_ipc.backends.stub_container import DEFAULT_IMAGE as WIREMOCK_IMAGE
from pytest_ipc.backends.toxiproxy_container import DEFAULT_IMAGE as TOXIPROXY_IMAGE

PRINT_IMAGES = """
from pytest_ipc.fixtures.backends import image

def test_image(pytestconfig):
    print("IMAGES=" + image(pytestconfig, "toxiproxy") + "," + image(pytestconfig, "stub"))
"""


def images_chosen(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("-s", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    found = re.search(r"IMAGES=(\S+)", result.stdout.str())
    assert found is not None, result.stdout.str()
    return found.group(1).split(",")


def test_command_line_then_environment_then_ini_then_the_pinned_public_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(PRINT_IMAGES)
    for name in ("PYTEST_IPC_TOXIPROXY_IMAGE", "PYTEST_IPC_STUB_IMAGE"):
        monkeypatch.delenv(name, raising=False)
    assert images_chosen(pytester) == [TOXIPROXY_IMAGE, WIREMOCK_IMAGE]
    assert (TOXIPROXY_IMAGE, WIREMOCK_IMAGE) == ("ghcr.io/shopify/toxiproxy:2.12.0", "wiremock/wiremock:3.13.2")

    pytester.makeini("[pytest]\nipc_toxiproxy_image = from/ini:1\nipc_stub_image = from/ini:2\n")
    assert images_chosen(pytester) == ["from/ini:1", "from/ini:2"]
    monkeypatch.setenv("PYTEST_IPC_TOXIPROXY_IMAGE", "from/env:1")
    monkeypatch.setenv("PYTEST_IPC_STUB_IMAGE", "from/env:2")
    assert images_chosen(pytester) == ["from/env:1", "from/env:2"]
    chosen = images_chosen(pytester, "--ipc-toxiproxy-image=from/cli:1", "--ipc-stub-image=from/cli:2")
    assert chosen == ["from/cli:1", "from/cli:2"]


NETWORK_IMAGES = """
def test_network_images(ipc_session_network):
    images = ipc_session_network.images
    print("IMAGES=" + ",".join(images[name] for name in ("toxiproxy", "stub", "redis")))
"""


@pytest.mark.docker
def test_the_network_fixtures_run_the_services_images(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NETWORK_IMAGES)
    args = ["--ipc-toxiproxy-image=a/toxiproxy:1", "--ipc-stub-image=a/wiremock:1", "--ipc-redis-image=a/redis:1"]
    assert images_chosen(pytester, *args) == ["a/toxiproxy:1", "a/wiremock:1", "a/redis:1"]
