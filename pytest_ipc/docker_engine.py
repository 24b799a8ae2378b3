"""Which Docker engine pytest-ipc talks to, whether it answers, and how testcontainers must reach it.

Everything here is cheap enough to call while collecting tests: the engine ping has a short timeout
so that a machine without Docker skips container tests in milliseconds, with a reason that says
what to do about it.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ._net import LOOPBACK

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
PING_TIMEOUT = 2.0
# Images under this prefix come from images/build, never from a registry.
LOCAL_IMAGE_PREFIX = "local/"
BUILD_HINT = "build it with images/build"

TESTCONTAINERS_DEFAULTS = {
    # Ryuk, testcontainers' reaper, is itself an image to pull; we remove our containers ourselves
    # and sweep the ones a killed session left behind (backends.container.sweep_orphans).
    "TESTCONTAINERS_RYUK_DISABLED": "true",
    # Inside a container (/.dockerenv) testcontainers would dial the bridge gateway; our ports are
    # published on the engine's host, which for a local engine is this machine's loopback.
    "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
}


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
        client = docker.from_env(timeout=timeout)
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

    client = docker.from_env(timeout=PING_TIMEOUT)
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
    if image_present(image):
        return None
    if image.startswith(LOCAL_IMAGE_PREFIX):
        return f"image {image} not present locally; {BUILD_HINT}"
    if pull:
        return None
    return (
        f"image {image} not present locally; pull it (docker pull {image}) "
        f"or use a {LOCAL_IMAGE_PREFIX}<name>:debian image that images/build makes"
    )


def ensure_image(image: str, pull: bool = False) -> None:
    """Make sure the engine has `image`, pulling it when `pull` allows; raise RuntimeError saying how."""
    reason = missing_image_reason(image, pull)
    if reason is not None:
        raise RuntimeError(reason)
    if image_present(image):
        return
    import docker
    import docker.errors

    client = docker.from_env()
    try:
        client.images.pull(image)
    except docker.errors.DockerException as error:
        raise RuntimeError(
            f"image {image} is not present locally and pulling it failed ({_first_line(error)}); "
            f"without a registry, use a {LOCAL_IMAGE_PREFIX}<name>:debian image that images/build makes"
        ) from error
    finally:
        client.close()


def configure_testcontainers() -> None:
    """Apply TESTCONTAINERS_DEFAULTS unless the user set them, also to an already-loaded config.

    testcontainers reads its environment once, when `testcontainers.core.config` is imported, so
    setting the variables is not enough if something imported it first.
    """
    for name, value in TESTCONTAINERS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    testcontainers_config.ryuk_disabled = os.environ["TESTCONTAINERS_RYUK_DISABLED"].lower() == "true"
    testcontainers_config.connection_mode_override = ConnectionMode(os.environ["TESTCONTAINERS_CONNECTION_MODE"])


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


__all__ = [
    "DEFAULT_DOCKER_HOST",
    "LOCAL_IMAGE_PREFIX",
    "configure_testcontainers",
    "docker_host",
    "docker_unavailable_reason",
    "engine_is_local",
    "ensure_image",
    "image_present",
    "missing_image_reason",
    "published_host",
]
