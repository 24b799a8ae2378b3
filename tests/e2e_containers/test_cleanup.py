"""Everything the network fixtures create is gone afterwards: after a failing test and on Ctrl-C
too. Each case runs a whole pytest session (pytester), then asks the engine what is left."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests import images

pytestmark = [pytest.mark.docker, pytest.mark.slow]  # CI runs the slow tests (see the root conftest)

SESSION_NETWORK_TEST = f"""
def test_uses_the_session_network(ipc_session_network):
    network = ipc_session_network
    network.run("{images.PYTHON}", "sleeper", command=["sleep", "300"])
    network.proxy("sleeper:9")
    print("SESSION=" + network.name)
    {{ending}}
"""

PRIVATE_NETWORK_TEST = f"""
def test_uses_a_private_network(ipc_private_network):
    ipc_private_network.run("{images.PYTHON}", "sleeper", command=["sleep", "300"])
    print("PRIVATE=" + ipc_private_network.name)

def test_comes_later(ipc_private_network):
    print("LATER=" + ipc_private_network.name)
"""


def printed(output: str, label: str) -> str:
    match = re.search(rf"{label}=(\S+)", output)
    assert match is not None, output
    return match.group(1)


def leftovers(docker_client: Any, network: str) -> list[str]:
    containers = docker_client.containers.list(all=True, filters={"network": network})
    networks = docker_client.networks.list(names=[network])
    return [container.name for container in containers] + [item.name for item in networks]


def run_session(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(source)
    return pytester.runpytest_subprocess("-s", f"--ipc-toxiproxy-image={images.TOXIPROXY}", "-p", "no:cacheprovider")


def test_a_failing_test_leaves_nothing_and_private_networks_go_after_their_test(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    result = run_session(pytester, SESSION_NETWORK_TEST.format(ending="assert False") + PRIVATE_NETWORK_TEST)

    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    private, later = printed(output, "PRIVATE"), printed(output, "LATER")
    assert private != later
    for network in (printed(output, "SESSION"), private, later):
        assert leftovers(docker_client, network) == []


def test_ctrl_c_leaves_nothing(pytester: pytest.Pytester, docker_client: Any) -> None:
    result = run_session(pytester, SESSION_NETWORK_TEST.format(ending="raise KeyboardInterrupt"))

    output = result.stdout.str()
    assert "KeyboardInterrupt" in output
    assert leftovers(docker_client, printed(output, "SESSION")) == []
