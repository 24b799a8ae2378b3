"""The public surface follows ../shared/conventions.md: names, units, attributes, one base exception.

`pytest_ipc.__all__` (and each public submodule's `__all__`) is walked, as are the options, ini keys,
environment variables, fixtures and markers the plugin adds to a session; any name or unit that
breaks the conventions fails here with the rule it breaks.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_ipc
from pytest_ipc._errors import IpcError
from pytest_ipc.fixtures._settings import SETTINGS

PACKAGE = Path(pytest_ipc.__file__).parent
PUBLIC_MODULES = (
    "pytest_ipc",
    "pytest_ipc.aio",
    "pytest_ipc.faults",
    "pytest_ipc.resilience",
    "pytest_ipc.resilience.aio",
    "pytest_ipc.security",
    "pytest_ipc.security.aio",
    "pytest_ipc.stub",
    "pytest_ipc.client",
    "pytest_ipc.brokers",
    "pytest_ipc.brokers.aio",
    "pytest_ipc.cluster.aio",
    "pytest_ipc.messaging",
    "pytest_ipc.messaging.aio",
    "pytest_ipc.contracts",
    "pytest_ipc.contracts.aio",
    "pytest_ipc.report",
    "pytest_ipc.network",
    "pytest_ipc.protobuf",
    "pytest_ipc.rpc",
    "pytest_ipc.rpc.thrift",
    "pytest_ipc.thrift_idl",
    "pytest_ipc.specs",
    "pytest_ipc.specs.examples",
    "pytest_ipc.stub.openapi",
    "pytest_ipc.specs.asyncapi",
    "pytest_ipc.specs.payloads",
    "pytest_ipc.tls",
)
# A unit in a name is allowed only where the unit is not the convention (seconds, bytes, bytes/s).
UNIT_SUFFIX = re.compile(r"(^|_)(ms|millis|milliseconds|us|micros|s|secs|seconds|kb|kb_s|kbs|mb|rate_kb)$")
# Generic names a user's own suite could already use (conventions: prefix them with ipc_ or keep them private).
GENERIC = {
    "slow", "docker", "target_url", "fault_case", "injected_fault", "pact", "make_pact", "network", "report", "stub", "proxy", "broker"
}
# Environment variables the package sets on its own child processes (markers, not settings).
CHILD_MARKERS = {"PYTEST_IPC_OWNER_TOKEN", "PYTEST_IPC_RABBITMQ_NODE"}


def public_objects() -> Iterator[tuple[str, object]]:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            yield f"{module_name}.{name}", getattr(module, name)


@pytest.mark.parametrize("name", pytest_ipc.__all__)
def test_public_name_resolves(name: str) -> None:
    assert getattr(pytest_ipc, name) is not None


def test_the_public_api_is_small_and_each_name_has_a_docstring() -> None:
    # What a test writes, for HTTP, messaging, contracts, gRPC, Thrift, TLS and API documents: result types
    # and plumbing stay in the submodules.
    assert len(pytest_ipc.__all__) <= 110, f"{len(pytest_ipc.__all__)} top-level names: keep plumbing in submodules"
    documented_kinds = (inspect.isclass, inspect.isfunction, inspect.ismodule)
    undocumented = [name for name, value in public_objects() if any(kind(value) for kind in documented_kinds) and not inspect.getdoc(value)]
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_all_lists_exactly_the_names_the_import_block_provides() -> None:
    assert sorted(pytest_ipc.__all__) == pytest_ipc.__all__, "keep __all__ sorted"
    assert set(pytest_ipc.__all__) == set(pytest_ipc._public())


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pytest_ipc.Nope  # noqa: B018


def test_a_session_loads_nothing_behind_the_names(tmp_path: Path) -> None:
    """A session with the plugin, none of whose tests uses it, imports none of the modules behind the
    fixtures (what users pay for an installed but unused plugin: benchmarks/bench_overhead.py)."""
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    heavy = ("pytest_ipc.stub.server", "pytest_ipc.faults", "pytest_ipc.client", "pytest_ipc.toxiproxy.server", "pytest_ipc.brokers.kinds",
             "pytest_ipc.contracts.consumer", "pytest_ipc._loop", "pytest_ipc._http", "pytest_ipc.docker_engine.docker")
    code = (
        "import sys, pytest; pytest.main(['-q', '-p', 'no:cacheprovider', sys.argv[1]]); "
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout


def test_one_base_exception() -> None:
    exceptions = [(name, value) for name, value in public_objects() if isinstance(value, type) and issubclass(value, BaseException)]
    assert exceptions
    strays = [name for name, value in exceptions if not issubclass(value, IpcError) and not issubclass(value, Warning)]
    assert not strays, f"public exceptions that are not an IpcError: {strays}"


def _parameters(value: object) -> list[str]:
    try:
        return list(inspect.signature(value).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return []


def test_no_unit_in_public_parameter_and_field_names() -> None:
    offenders: list[str] = []
    for qualified, value in public_objects():
        names = [f"{qualified}({name})" for name in _parameters(value)] if callable(value) else []
        if isinstance(value, type):
            members = inspect.getmembers(value, lambda member: inspect.isfunction(member) or isinstance(member, property))
            for member_name, member in members:
                if member_name.startswith("_"):
                    continue
                names.append(f"{qualified}.{member_name}")
                if inspect.isfunction(member):
                    names += [f"{qualified}.{member_name}({name})" for name in _parameters(member)]
            if dataclasses.is_dataclass(value):
                names += [f"{qualified}.{field.name}" for field in dataclasses.fields(value)]
        offenders += [name for name in names if UNIT_SUFFIX.search(re.split(r"[.(]", name.rstrip(")"))[-1])]
    assert not offenders, f"names that carry a conventional unit (seconds, bytes, bytes/s need none): {sorted(set(offenders))}"


def test_a_url_is_a_property_never_a_method() -> None:
    methods = [
        qualified
        for qualified, value in public_objects()
        if isinstance(value, type) and inspect.isfunction(getattr(value, "url", None))
    ]
    assert not methods, f"classes whose url is a method: {methods}"


def test_async_forms_carry_the_names_of_the_blocking_ones() -> None:
    from pytest_ipc import aio

    for name in aio.__all__:
        assert hasattr(pytest_ipc, name), f"pytest_ipc.aio.{name} has no blocking twin pytest_ipc.{name}"


def test_every_setting_has_the_three_conventional_spellings() -> None:
    import pytest_ipc.plugin  # noqa: F401  (declares every setting)

    assert SETTINGS
    for spec in SETTINGS.values():
        stem = "_".join(part for part in (spec.area, spec.name) if part).replace("-", "_")  # "" : the area's switch
        assert spec.option == f"--ipc-{stem.replace('_', '-')}"
        assert spec.ini == f"ipc_{stem}"
        assert spec.env == f"PYTEST_IPC_{stem.upper()}"


def test_the_package_reads_no_environment_variable_but_its_settings() -> None:
    envs = {spec.env for spec in SETTINGS.values()} | CHILD_MARKERS
    read = {
        match
        for path in PACKAGE.rglob("*.py")
        for match in re.findall(r"\bPYTEST_IPC_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))
    }
    assert read <= envs, f"environment variables outside the declared settings: {sorted(read - envs)}"


def test_the_package_names_no_image_or_script_of_this_repository() -> None:
    """Defaults and hints are the public images; `local/*:debian`, images/* and source mounts are CI's."""
    ci_only = re.compile(r"local/[a-z0-9-]+:debian|images/(build|fetch-wiremock-jar|start-dockerd)|/src\b")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {match.group()}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (match := ci_only.search(line))
    ]
    assert not found, f"the package names the repository's own images or scripts: {found}"


# The one scoped exception: the Pact core reads its telemetry switch from the environment only, so
# `verify()` sets PACT_DO_NOT_TRACK for the verifier's own call and restores it (contracts/verification.py).
ENVIRONMENT_WRITES_ALLOWED = {"contracts/verification.py"}


def test_the_package_never_writes_the_process_environment() -> None:
    writes = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if str(path.relative_to(PACKAGE)) not in ENVIRONMENT_WRITES_ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"os\.environ\[[^]]+\]\s*=(?!=)|os\.environ\.(setdefault|update|pop)\(|os\.putenv\(", line)
    ]
    assert not writes, f"the plugin changes os.environ (a global side effect): {writes}"


SURFACE_PLUGIN = """
import json, os

def pytest_collection_finish(session):
    config, parser = session.config, session.config._parser
    options = [name for group in (parser._anonymous, *parser._groups) for option in group.options for name in option.names()]
    with open(os.environ["SURFACE_OUT"], "w") as out:
        json.dump({
            "options": [name for name in options if name.startswith("--")],
            "ini": list(parser._inidict),
            "fixtures": list(session._fixturemanager._arg2fixturedefs),
            "markers": [line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")],
        }, out)
"""


@pytest.fixture(scope="module")
def session_surface(pytester_module: Path) -> dict[str, set[str]]:
    """Options, ini keys, fixtures and markers a session gains from the plugin (with minus without):
    two collect-only sessions, run side by side, read by a plugin of their own (what `--help`,
    `--fixtures` and `--markers` list, in two pytest starts instead of six)."""
    (pytester_module / "surface_dump.py").write_text(SURFACE_PLUGIN)

    def start(name: str, *plugin: str) -> tuple[subprocess.Popen[bytes], Path]:
        out = pytester_module / f"{name}.json"
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "surface_dump", *plugin, "--collect-only", "-q"]
        environment = {**os.environ, "SURFACE_OUT": str(out), "PYTHONPATH": os.pathsep.join([str(pytester_module), *sys.path])}
        return subprocess.Popen(command, cwd=pytester_module, env=environment, stdout=subprocess.DEVNULL), out

    runs = [start("with"), start("without", "-p", "no:ipc")]
    surfaces = []
    for process, out in runs:
        assert process.wait(timeout=120) == 0, f"the collect-only session failed: {process.args}"
        surfaces.append({kind: set(names) for kind, names in json.loads(out.read_text()).items()})
    with_plugin, without = surfaces
    return {kind: with_plugin[kind] - without[kind] for kind in with_plugin}


@pytest.fixture(scope="module")
def pytester_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("surface")
    (directory / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    return directory


def test_options_and_ini_keys_follow_the_naming_rule(session_surface: dict[str, set[str]]) -> None:
    assert session_surface["options"], "the plugin added no option: did it load?"
    assert {option for option in session_surface["options"] if not option.startswith("--ipc-")} == set()
    assert {key for key in session_surface["ini"] if not key.startswith("ipc_")} == set()
    assert session_surface["options"] == {spec.option for spec in SETTINGS.values()}


def test_fixtures_and_markers_carry_no_generic_name(session_surface: dict[str, set[str]]) -> None:
    assert "http_stub" in session_surface["fixtures"]
    assert session_surface["fixtures"] & GENERIC == set()
    assert session_surface["markers"] & GENERIC == set()
    assert {"fault_matrix", "ipc_pact", "pact_provider"} <= session_surface["markers"]
