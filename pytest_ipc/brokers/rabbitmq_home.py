"""A private RabbitMQ home whose plugins directory holds only what a node enables.

RabbitMQ reads every application in its plugins directory at boot (to resolve the enabled plugins'
dependencies), and every one of them is on the VM's code path: Debian's package ships 70, and a
node using 22 spends about 2 s of its 4.4 s boot on the other 48 (`benchmarks/bench_shared_brokers.py`
prints the boot). `rabbitmq-env` takes its home from ``RABBITMQ_SCRIPTS_DIR/..``, so a directory of
symlinks (the installation's files, and a ``plugins`` directory with only the enabled plugins and
their dependencies) boots the same node in about 2.4 s. The home lives in the node's own directory,
as everything else of it does; a node in a container keeps its image's installation.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

#: The applications every node runs: RabbitMQ itself and its boot-time configuration step.
CORE_APPLICATIONS = ("rabbit", "rabbitmq_prelaunch")
_DEPENDENCY_KEYS = ("applications", "included_applications", "optional_applications")


def installation(server_script: str) -> Path:
    """The installation's root (``sbin``, ``plugins``, ...), from its server script through symlinks."""
    return Path(os.path.realpath(server_script)).parent.parent


@functools.cache
def _plugin_directories(plugins: Path) -> dict[str, Path]:
    """Each application in the plugins directory by name (``rabbit-3.10.8`` is ``rabbit``)."""
    return {entry.name.rpartition("-")[0]: entry for entry in plugins.iterdir() if (entry / "ebin").is_dir()}


@functools.cache
def _dependencies(directory: Path, name: str) -> tuple[str, ...]:
    """The applications `name`'s ``.app`` file names as dependencies (Erlang terms; a regex serves)."""
    text = (directory / "ebin" / f"{name}.app").read_text()
    names: list[str] = []
    for key in _DEPENDENCY_KEYS:
        found = re.search(r"\{\s*" + key + r"\s*,\s*\[([^\]]*)\]", text)
        if found:
            names += [item.strip().strip("'") for item in found.group(1).split(",") if item.strip()]
    return tuple(names)


def plugin_closure(plugins: Path, enabled: Iterable[str]) -> dict[str, Path]:
    """The applications a node with `enabled` plugins loads from `plugins`: those, RabbitMQ's own,
    and everything they depend on (OTP's applications live elsewhere and are left out)."""
    available = _plugin_directories(plugins)
    wanted: dict[str, Path] = {}
    pending = [*CORE_APPLICATIONS, *enabled]
    while pending:
        name = pending.pop()
        if name in wanted or name not in available:
            continue
        wanted[name] = available[name]
        pending += _dependencies(available[name], name)
    return wanted


def enable_plugins(base: Path, enabled: Sequence[str], server_script: str | None) -> dict[str, str]:
    """Write the node's ``enabled_plugins`` file in `base`; for a node run by `server_script` on this
    machine, also build ``base/home`` and return the environment that boots from it (None: the node
    runs in a container, on its image's installation, and the environment stays as it is)."""
    (base / "enabled_plugins").write_text(f"[{','.join(enabled)}].\n")
    if server_script is None:
        return {}
    root = installation(server_script)
    home = base / "home"
    (home / "plugins").mkdir(parents=True)
    (home / "sbin").mkdir()  # a real directory: the scripts take its parent for the home
    for entry in root.iterdir():
        if entry.name not in ("plugins", "sbin"):
            (home / entry.name).symlink_to(entry)
    for script in (root / "sbin").iterdir():
        (home / "sbin" / script.name).symlink_to(script)
    for directory in plugin_closure(root / "plugins", enabled).values():
        (home / "plugins" / directory.name).symlink_to(directory)
    return {"RABBITMQ_SCRIPTS_DIR": str(home / "sbin")}
