"""`python -m pytest_ipc merge`: real sharded sessions merged into what one unsharded session writes.

Four real pytest sessions run once per module, each in a directory of its own (a runner's
checkout): shard 1 and shard 2 split the suite by file, `whole` runs it unsharded, and `clash` is
shard 2 run from a commit where one interaction answers differently. Each session writes its pact
directory and a JSON resilience report into its own artifact directory, as a CI job uploads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_ipc
from pytest_ipc.__main__ import main as cli
from pytest_ipc.contracts.broker import PactBroker
from pytest_ipc.contracts.broker_fake import FakePactBroker
from pytest_ipc.contracts.merge import OWNERSHIP
from pytest_ipc.contracts.pactfile import locked

pytestmark = pytest.mark.slow  # real sessions in separate directories: CI runs the slow tests (see the root conftest)

CHECKOUT = Path(pytest_ipc.__file__).resolve().parents[1]
LEAN = [
    "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:faker", "-p", "no:benchmark", "-p", "no:anyio",
    "-p", "no:pytest_httpserver", "-p", "no:respx", "-p", "no:asyncio", "-p", "no:randomly",
]
SERVE = """
import os

import httpx
from pact import match


def serve(ipc_pact, description, path, status=200, **states):
    interaction = ipc_pact.upon_receiving(description)
    for name, params in states.items():
        interaction = interaction.given(name.replace("_", " "), **params)
    interaction.with_request("GET", path).will_respond_with(status).with_body({"id": match.int(1)})
    with ipc_pact.serve() as server:
        assert httpx.get(f"{server.url}{path}").status_code == status
"""
ORDERS_1 = """
import pytest
from serving import serve

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


def test_reads_order_1(ipc_pact, ipc_report):
    serve(ipc_pact, "a request for an order", "/orders/1", an_order_exists={"id": 1})
    ipc_report.record("orders-api", "latency", "recovered", 0.25)


def test_lists_orders(ipc_pact, ipc_report):
    serve(ipc_pact, "a request for the order list", "/orders")
    ipc_report.record("orders-api", "outage", "served fallback", 0.1)
"""
ORDERS_2 = """
import os

import pytest
from serving import serve

pytestmark = pytest.mark.ipc_pact("Web", "Orders")


def test_reads_order_2(ipc_pact, ipc_report):
    serve(ipc_pact, "a request for an order", "/orders/2", an_order_exists={"id": 2})
    ipc_report.record("orders-api", "latency", "recovered", 0.75)


def test_lists_orders_too(ipc_pact):
    serve(ipc_pact, "a request for the order list", "/orders", status=int(os.environ.get("LIST_STATUS", "200")))
"""
PAYMENTS = """
import pytest
from serving import serve

pytestmark = pytest.mark.ipc_pact("Web", "Payments")


def test_pays(ipc_pact, ipc_report):
    serve(ipc_pact, "a payment", "/payments/1")
    ipc_report.record("payments-api", "outage", "failed fast", 0.05)
"""
# Shard 2 runs under pytest-xdist, as a big shard would: its workers' pacts and records are merged
# by its controller first, then with shard 1's.
SESSIONS: dict[str, tuple[list[str], dict[str, str]]] = {
    "shard-1": (["-p", "no:xdist", "test_orders_1.py"], {}),
    "shard-2": (["-n", "2", "test_orders_2.py", "test_payments.py"], {}),
    "whole": (["-p", "no:xdist"], {}),
    "clash": (["-p", "no:xdist", "test_orders_2.py", "test_payments.py"], {"LIST_STATUS": "500"}),
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the four sessions at once, each in its own checkout writing pacts/ and report.json there;
    `<artifacts>/<name>/` holds them as the merging job downloads them. Under xdist the workers share
    one run of them (the first to come makes them, under a lock; the others wait and read)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's directory, shared by its workers
    base = base / "sharded"
    with locked(base):
        if not (base / "done").exists():
            run_sessions(base)
            (base / "done").touch()
    return base / "artifacts"


def run_sessions(base: Path) -> None:
    shutil.rmtree(base / "runners", ignore_errors=True)
    shutil.rmtree(base / "artifacts", ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")]))}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    running: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, (selection, extra) in SESSIONS.items():
            checkout = base / "runners" / name
            checkout.mkdir(parents=True)
            for file, text in {"serving.py": SERVE, "test_orders_1.py": ORDERS_1, "test_orders_2.py": ORDERS_2,
                               "test_payments.py": PAYMENTS}.items():
                (checkout / file).write_text(text)
            (checkout / "pytest.ini").write_text("[pytest]\n")
            command = [sys.executable, "-m", "pytest", *LEAN, "-q", "--ipc-report-json=report.json", *selection]
            running[name] = subprocess.Popen(
                command, cwd=checkout, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        for name, process in running.items():
            output, _ = process.communicate(timeout=240)
            assert process.returncode == 0, f"{name} session failed:\n{output}"
            upload = base / "artifacts" / name  # what the job uploads and the merging job downloads
            shutil.copytree(base / "runners" / name / "pacts", upload / "pacts")
            shutil.copy(base / "runners" / name / "report.json", upload / "report.json")
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def merge(*args: str | Path) -> int:
    return cli(["merge", *map(str, args)])


def cells(report: dict[str, Any]) -> dict[tuple[str, str, str], int]:
    return {(row["dependency"], row["fault"], row["outcome"]): row["count"] for row in report["summary"]}


def test_merged_shards_equal_the_unsharded_session(artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The merged pacts are, file for file, what the unsharded session wrote (an interaction both
    shards define identically is kept once, owned by both tests; same description with other provider
    state parameters stays apart), and the merged report holds every cell of both shards."""
    out, report = tmp_path / "pacts", tmp_path / "merged" / "report.json"

    assert merge(artifacts / "shard-1", artifacts / "shard-2", "--pacts", out, "--report", report) == 0

    whole = artifacts / "whole"
    assert sorted(path.name for path in out.iterdir()) == sorted(path.name for path in (whole / "pacts").iterdir())
    assert sorted(path.name for path in out.iterdir()) == ["Web-Orders.json", "Web-Payments.json"]
    for path in out.iterdir():
        assert load(path) == load(whole / "pacts" / path.name), path.name
    orders = load(out / "Web-Orders.json")
    described = [
        (item["description"], [state.get("params") for state in item.get("providerStates", [])]) for item in orders["interactions"]
    ]
    assert described == [("a request for an order", [{"id": 1}]), ("a request for an order", [{"id": 2}]),
                         ("a request for the order list", [])]
    owners = orders["metadata"][OWNERSHIP]["tests"]
    assert owners["test_orders_1.py::test_lists_orders"] == owners["test_orders_2.py::test_lists_orders_too"]

    merged, unsharded = load(report), load(whole / "report.json")
    shard_cells = [cells(load(artifacts / name / "report.json")) for name in ("shard-1", "shard-2")]
    assert set(cells(merged)) == set(shard_cells[0]) | set(shard_cells[1])
    assert cells(merged)[("orders-api", "latency", "recovered")] == 2, "one cell in both shards: its records add up"
    assert merged["summary"] == unsharded["summary"]
    assert sorted(map(json.dumps, merged["records"])) == sorted(map(json.dumps, unsharded["records"]))
    assert "2 pact file(s) from 2 shard(s)" in capsys.readouterr().out


def test_conflicting_shards_name_both_files_and_write_nothing(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Shard 2 from another commit answers the order list with 500: the merge is an error naming
    both shards' files, and nothing is written (a later step must not publish half a merge)."""
    out, report = tmp_path / "pacts", tmp_path / "report.json"

    assert merge(artifacts / "shard-1", artifacts / "clash", "--pacts", out, "--report", report) == 1

    error = capsys.readouterr().err
    assert "merge: nothing written; 1 problem(s):" in error
    assert (
        "Web -> Orders: 'a request for the order list' is defined differently by test_orders_2.py::test_lists_orders_too "
        f"(in {artifacts / 'clash' / 'pacts' / 'Web-Orders.json'}) and by test_orders_1.py::test_lists_orders "
        f"(in {artifacts / 'shard-1' / 'pacts' / 'Web-Orders.json'})"
    ) in error
    assert "start every shard with an empty pact directory" in error
    assert not out.exists() and not report.exists()


def test_one_test_in_two_shards_is_kept_once_in_the_pact_and_refused_in_the_report(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Overlapping shards: identical interactions deduplicate, but the report would count the
    overlap twice, so it is an error naming both shards."""
    assert merge(artifacts / "shard-1", artifacts / "shard-2", artifacts / "shard-2", "--pacts", tmp_path / "pacts") == 0
    assert load(tmp_path / "pacts" / "Web-Orders.json") == load(artifacts / "whole" / "pacts" / "Web-Orders.json")

    assert merge(artifacts / "shard-1", artifacts / "shard-2" / "report.json", artifacts / "shard-2",
                 "--report", tmp_path / "report.json") == 1
    error = capsys.readouterr().err
    assert (
        f"test_orders_2.py::test_reads_order_2 recorded outcomes in {artifacts / 'shard-2' / 'report.json'} and in "
        f"{artifacts / 'shard-2' / 'report.json'}: expected every test to run in one shard only"
    ) in error
    assert not (tmp_path / "report.json").exists()


def copy_shard(artifacts: Path, name: str, into: Path) -> Path:
    """A shard's artifacts copied so a test can change them (as another version or commit would)."""
    target = into / name
    for path in (artifacts / name).rglob("*.json"):
        (target / path.relative_to(artifacts / name)).parent.mkdir(parents=True, exist_ok=True)
        (target / path.relative_to(artifacts / name)).write_text(path.read_text())
    return target


def test_different_pact_specification_versions_are_an_error(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = copy_shard(artifacts, "shard-2", tmp_path)
    pact_file = shard / "pacts" / "Web-Orders.json"
    document = load(pact_file)
    document["metadata"]["pactSpecification"]["version"] = "3.0.0"
    pact_file.write_text(json.dumps(document))

    assert merge(artifacts / "shard-1", shard, "--pacts", tmp_path / "out") == 1

    error = capsys.readouterr().err
    assert "Web -> Orders: tests write different Pact specification versions (V3: test_orders_2.py::test_lists_orders_too " in error
    assert f"(in {pact_file})" in error and f"V4: test_orders_1.py::test_lists_orders (in {artifacts / 'shard-1'}" in error
    assert not (tmp_path / "out").exists()


def test_one_file_name_for_two_pairs_is_an_error(artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard = copy_shard(artifacts, "shard-2", tmp_path)
    renamed = shard / "pacts" / "Web-Orders.json"
    renamed.unlink()
    (shard / "pacts" / "Web-Payments.json").rename(renamed)  # Web -> Payments under Orders' name

    assert merge(artifacts / "shard-1", shard, "--pacts", tmp_path / "out") == 1

    error = capsys.readouterr().err
    assert (
        f"Web-Orders.json holds Web -> Orders in {artifacts / 'shard-1' / 'pacts' / 'Web-Orders.json'} and Web -> Payments "
        f"in {renamed}. Expected one consumer and provider per file name across the shards"
    ) in error


def test_report_formats_must_agree_and_unknown_fields_travel_through(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fields a newer report adds (per record, per cell, per document) reach the merged report as
    they were; a format another pytest-ipc wrote is refused, naming each shard's format."""
    first, second = copy_shard(artifacts, "shard-1", tmp_path), copy_shard(artifacts, "shard-2", tmp_path)
    one, two = load(first / "report.json"), load(second / "report.json")
    one["records"][0]["trace"] = {"attempts": [0.1, 0.15]}
    latency = next(row for row in one["summary"] if row["fault"] == "latency")
    latency["verdict"] = "ok"
    next(row for row in two["summary"] if row["fault"] == "latency")["verdict"] = "ok"
    one["suite"] = two["suite"] = "shop"
    (first / "report.json").write_text(json.dumps(one))
    (second / "report.json").write_text(json.dumps(two))

    assert merge(first, second, "--report", tmp_path / "merged.json") == 0
    merged = load(tmp_path / "merged.json")
    assert merged["suite"] == "shop"
    assert next(row for row in merged["summary"] if row["fault"] == "latency")["verdict"] == "ok"
    assert {"attempts": [0.1, 0.15]} in [record.get("trace") for record in merged["records"]]

    next(row for row in two["summary"] if row["fault"] == "latency")["verdict"] = "slow"
    (second / "report.json").write_text(json.dumps(two))
    assert merge(first, second, "--report", tmp_path / "conflict.json") == 1
    assert "has verdict='ok' in" in capsys.readouterr().err

    two["format"] = 3
    (second / "report.json").write_text(json.dumps(two))
    assert merge(first, second, "--report", tmp_path / "other.json") == 1
    error = capsys.readouterr().err
    assert f"the resilience reports have different formats (format 2: {first / 'report.json'}; format 3: {second / 'report.json'})" in error
    assert not (tmp_path / "other.json").exists() and not (tmp_path / "conflict.json").exists()


def test_a_shard_without_its_report_is_an_error(artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An artifact upload that lost one shard's report would hide that shard's cells."""
    assert merge(artifacts / "shard-1", artifacts / "shard-2" / "pacts", "--report", tmp_path / "r.json") == 1
    assert f"no resilience report in {artifacts / 'shard-2' / 'pacts'}, while other shards have one" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{a}/shard-1"], "nothing to write: give --pacts DIR"),
        (["{t}/missing", "--pacts", "{t}/out"], "no shard at {t}/missing"),
        (["{t}/empty", "--pacts", "{t}/out"], "no pact files in {t}/empty"),
        (["{a}/shard-1", "--report", "{t}"], "is a directory; give a file name"),
        (["{t}/broken", "--pacts", "{t}/out"], "cannot read {t}/broken/bad.json"),
    ],
)
def test_usage_errors(
    artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "coverage.json").write_text("{}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bad.json").write_text('{"consumer": ')
    assert merge(*(argument.format(a=artifacts, t=tmp_path) for argument in arguments)) == 2
    assert message.format(t=tmp_path) in capsys.readouterr().err


@pytest.fixture
def broker() -> Iterator[FakePactBroker]:
    with FakePactBroker(token="t0ken") as fake:
        yield fake


def test_the_merged_pacts_are_what_pact_publish_sends_to_the_broker(
    artifacts: Path, tmp_path: Path, broker: FakePactBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final job of the CI recipe: merge, then publish the merged directory with pact-publish;
    the broker serves the provider one pact per pair holding both shards' interactions."""
    monkeypatch.setenv("PYTEST_IPC_PACT_BROKER_URL", broker.url)
    monkeypatch.setenv("PYTEST_IPC_PACT_BROKER_TOKEN", "t0ken")
    out = tmp_path / "pacts"

    assert merge(artifacts / "shard-1", artifacts / "shard-2", "--pacts", out) == 0
    assert cli(["pact-publish", str(out), "--consumer-version", "c7", "--branch", "main"]) == 0

    assert broker.published_versions("Web") == [{"number": "c7", "branch": "main", "tags": []}]
    with PactBroker(broker.url, token="t0ken") as client:
        (orders,) = client.pacts_for_verification("Orders", selectors=[{"mainBranch": True}])
        (payments,) = client.pacts_for_verification("Payments", selectors=[{"mainBranch": True}])
    assert orders.document["interactions"] == load(out / "Web-Orders.json")["interactions"]
    assert [item["description"] for item in orders.document["interactions"]] == [
        "a request for an order", "a request for an order", "a request for the order list"
    ]
    assert payments.document["interactions"] == load(out / "Web-Payments.json")["interactions"]


JS_PACT = Path(__file__).parents[1] / "contracts" / "pacts_from_js" / "WebJS3-Orders.json"


def test_pacts_of_another_tool_merge_without_pytest_ipc_bookkeeping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pact files no pytest-ipc session wrote (pact-js here) merge by description and provider states
    too; no ownership metadata is added, and a difference names both files."""
    for shard in ("a", "b"):
        (tmp_path / shard).mkdir()
        shutil.copy(JS_PACT, tmp_path / shard / JS_PACT.name)
    assert merge(tmp_path / "a", tmp_path / "b", "--pacts", tmp_path / "out") == 0
    assert load(tmp_path / "out" / JS_PACT.name) == load(JS_PACT)

    changed = load(JS_PACT)
    changed["interactions"][0]["response"]["status"] = 599
    (tmp_path / "b" / JS_PACT.name).write_text(json.dumps(changed))
    assert merge(tmp_path / "a", tmp_path / "b", "--pacts", tmp_path / "out2") == 1
    error = capsys.readouterr().err
    assert f"is defined differently by a test pytest-ipc does not know (in {tmp_path / 'b' / JS_PACT.name}) and by a test" in error
    assert f"(in {tmp_path / 'a' / JS_PACT.name})" in error
