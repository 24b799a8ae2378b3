"""Which Docker engine pytest-ipc talks to, whether it answers, how testcontainers runs our containers,
and how what a dead owner left on an engine is removed (`remove_owned`, for `pytest_ipc._lifecycle`).

Everything here is cheap enough to call while collecting tests: the engine ping has a short timeout
so that a machine without Docker skips container tests in milliseconds, with a reason that says
what to do about it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from pytest_ipc._errors import IpcError
from pytest_ipc._net import LOOPBACK
from pytest_ipc._owner import OWNER_LABEL

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
PING_TIMEOUT = 2.0
#: Removing a running container kills it first: on a busy machine that takes longer than a ping.
REMOVE_TIMEOUT = 30.0


class DockerEngineError(IpcError):
    """The engine did not answer, or refused what was asked; the message says which engine."""


class ImageUnavailable(IpcError):
    """An image is neither present nor pullable; the message says how to get it."""


def docker_host() -> str:
    """The engine address: DOCKER_HOST, or the default socket the docker SDK uses without it."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def engine_is_local() -> bool:
    """True when published ports land on this machine (a unix socket or a loopback TCP engine)."""
    address = urlsplit(docker_host())
    return address.scheme in ("unix", "npipe") or address.hostname in ("localhost", "127.0.0.1", "::1")


def published_host() -> str:
    """Where clients reach published ports: loopback for a local engine, else the engine's host."""
    if engine_is_local():
        return LOOPBACK
    return urlsplit(docker_host()).hostname or LOOPBACK


def docker_unavailable_reason(timeout: float = PING_TIMEOUT) -> str | None:
    """None when an engine answers a ping within `timeout`, otherwise a one-line reason and a hint."""
    try:
        import docker
        import docker.errors
        import testcontainers  # noqa: F401  (only whether it is there: the backend runs on it)
    except ImportError as error:
        return f"the {error.name} package is not installed; pip install 'pytest-ipc[containers]'"
    host = docker_host()
    hint = "start dockerd or set DOCKER_HOST"
    address = urlsplit(host)
    if address.scheme == "unix" and not os.path.exists(address.path):
        return f"no Docker engine answers at {host} (no such socket); {hint}"
    try:
        client = docker.from_env(timeout=timeout)  # type: ignore[arg-type]  # requests takes a float; the stubs say int
    except docker.errors.DockerException as error:
        return f"no Docker engine answers at {host}: {_first_line(error)}; {hint}"
    try:
        client.ping()
    except Exception as error:  # the SDK raises requests' and docker's errors alike
        return f"no Docker engine answers at {host}: {_first_line(error)}; {hint}"
    finally:
        client.close()
    return None


def image_present(name: str) -> bool:
    """True when the engine has image `name` locally (no pull is attempted)."""
    import docker
    import docker.errors

    client = docker.from_env(timeout=PING_TIMEOUT)  # type: ignore[arg-type]  # requests takes a float; the stubs say int
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()
    return True


def missing_image_reason(image: str, pull: bool = False) -> str | None:
    """None when the engine has `image` (or may pull it), otherwise a skip reason that says how to get it.

    Pulling is opt-in: machines with an engine but no registry (air-gapped CI) are common, and a
    pull that fails half-way through a fixture is worse than a backend that says up front it
    cannot run, so that automatic selection moves on to the next one.
    """
    if pull or image_present(image):
        return None
    return f"image {image} not present locally; pull it (docker pull {image}) or name an image the engine has"


def ensure_image(image: str, pull: bool = False) -> None:
    """Make sure the engine has `image`, pulling it when `pull` allows; raise ImageUnavailable saying how."""
    reason = missing_image_reason(image, pull)
    if reason is not None:
        raise ImageUnavailable(reason)
    if image_present(image):
        return
    import docker
    import docker.errors

    client = docker.from_env()
    try:
        client.images.pull(image)
    except docker.errors.DockerException as error:
        raise ImageUnavailable(
            f"image {image} is not present locally and pulling it failed ({_first_line(error)}); pull it where "
            f"a registry is reachable (docker pull {image}), or name an image the engine has"
        ) from error
    finally:
        client.close()


_ryuk_lock = threading.Lock()
_ryuk_users = 0
_ryuk_saved = False


@contextlib.contextmanager
def ryuk_disabled() -> Iterator[None]:
    """testcontainers without Ryuk, its reaper (an image to pull), for the calls inside the block.

    Set on testcontainers' own configuration object, never through the environment, and put back
    when the last concurrent block ends: the user's own testcontainers use keeps its settings. We
    remove our containers ourselves, and the owner's watchdog removes what a killed process left.
    """
    global _ryuk_users, _ryuk_saved
    from testcontainers.core.config import testcontainers_config

    with _ryuk_lock:
        if _ryuk_users == 0:
            _ryuk_saved = testcontainers_config.ryuk_disabled
            testcontainers_config.ryuk_disabled = True
        _ryuk_users += 1
    try:
        yield
    finally:
        with _ryuk_lock:
            _ryuk_users -= 1
            if _ryuk_users == 0:
                testcontainers_config.ryuk_disabled = _ryuk_saved


def remove_owned(host: str, token: str) -> list[str]:
    """Remove the containers, then the networks, that carry owner `token` on the engine at `host`.

    Returns their names. Raises DockerEngineError when the engine does not answer or refuses (the
    caller keeps the owner's record to try again later). Losing a race with another remover is fine.
    """
    try:
        import docker
        import docker.errors
        import requests
    except ImportError as error:  # another environment than the owner's: leave it to one that has it
        raise DockerEngineError(f"cannot reach {host}: the {error.name} package is not installed") from error

    label = {"label": f"{OWNER_LABEL}={token}"}
    removed: list[str] = []
    try:
        client = docker.from_env(
            environment={**os.environ, "DOCKER_HOST": host},
            timeout=REMOVE_TIMEOUT,  # type: ignore[arg-type]  # requests takes a float; the stubs say int
        )
    except docker.errors.DockerException as error:
        raise DockerEngineError(f"no Docker engine answers at {host}: {_first_line(error)}") from error
    api = client.api  # plain listings: the models' list() inspects each entry, racing other removals
    try:
        for container in api.containers(all=True, filters=label):
            _ignore_lost_race(functools.partial(api.remove_container, container["Id"], force=True, v=True))
            removed.append(container["Names"][0].lstrip("/"))
        for network in api.networks(filters=label):
            _ignore_lost_race(functools.partial(api.remove_network, network["Id"]))
            removed.append(network["Name"])
    except (docker.errors.DockerException, requests.RequestException) as error:
        raise DockerEngineError(f"the Docker engine at {host} failed a removal: {_first_line(error)}") from error
    finally:
        client.close()
    return removed


def _ignore_lost_race(remove: Callable[[], object]) -> None:
    """Another process (an xdist worker's sweep, a watchdog) removed it first, or is removing it."""
    import docker.errors

    try:
        remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if error.status_code != 409:  # "removal already in progress"
            raise


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


__all__ = [
    "DEFAULT_DOCKER_HOST",
    "DockerEngineError",
    "ImageUnavailable",
    "docker_host",
    "docker_unavailable_reason",
    "engine_is_local",
    "ensure_image",
    "image_present",
    "missing_image_reason",
    "published_host",
    "remove_owned",
    "ryuk_disabled",
]
