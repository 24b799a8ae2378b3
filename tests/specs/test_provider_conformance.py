"""Provider conformance: real petstore providers (starlette in-process, plain WSGI, uvicorn on a
loopback port) checked against OpenAPI 3.0 and 3.1 documents; a conforming one passes, each broken
one fails naming the operation and the check, and bad input is a clear usage error."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis  # noqa: F401  # imported once here: pytester's in-process sessions drop modules they import
import yaml  # noqa: F401  # (and a second copy of yaml's C loader no longer resolves tags)

import pytest_ipc
from pytest_ipc import IpcUsageError
from pytest_ipc.contracts import ProviderUnreachable
from pytest_ipc.specs import ConformanceError, ProviderOperation, load_document
from pytest_ipc.specs.conformance import DEFAULT_CHECKS, SchemaCache, operations_of
from tests.contracts.contract_apps import serving
from tests.contracts.inner_session import QUIET_SESSION
from tests.specs.provider_apps import PETSTORE_30, PETSTORE_31, petstore_asgi, petstore_wsgi

CHECKOUT = str(Path(pytest_ipc.__file__).resolve().parents[1])
FEW = 5  # random requests per operation: the coverage phase's boundary and invalid cases come on top
DOCUMENTS = {path: load_document(path) for path in (PETSTORE_30, PETSTORE_31)}
SCHEMAS = SchemaCache()  # each document handed to schemathesis once for the module, as a session does


def operation(document: Path, label: str) -> ProviderOperation:
    (ref,) = operations_of(DOCUMENTS[document], [label])
    return ProviderOperation(ref, max_examples=FEW, schemas=SCHEMAS)


@pytest.fixture
def petstore_url() -> Iterator[str]:
    with serving(petstore_asgi()) as url:
        yield url


def test_conforming_providers_pass_one_item_per_operation(pytester: pytest.Pytester) -> None:
    """A starlette app against the 3.0 document, a WSGI app against the 3.1 one, in-process: every
    operation is an item of its own, and each sent invalid input as well as valid input."""
    pytester.makepyfile(test_petstore=f"""
        import pytest
        from tests.specs.provider_apps import petstore_asgi, petstore_wsgi

        def check(result):
            assert result.requests > result.negative_requests > 0, result

        @pytest.mark.openapi_provider({str(PETSTORE_30)!r})
        def test_asgi_30(openapi_operation):
            check(openapi_operation.verify(app=petstore_asgi(), max_examples={FEW}))

        @pytest.mark.openapi_provider({str(PETSTORE_31)!r})
        def test_wsgi_31(openapi_operation):
            check(openapi_operation.verify(app=petstore_wsgi(), max_examples={FEW}))
    """)
    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines([
        "*::test_asgi_30?GET /pets? PASSED*",
        "*::test_asgi_30?POST /pets? PASSED*",
        "*::test_asgi_30?GET /pets/{petId}? PASSED*",
        "*::test_wsgi_31?GET /pets? PASSED*",
        "*::test_wsgi_31?POST /pets? PASSED*",
        "*::test_wsgi_31?GET /pets/{petId}? PASSED*",
    ])
    assert not (pytester.path / ".hypothesis").exists(), "hypothesis wrote an example database"


def test_a_provider_on_a_url_declared_in_ini_and_option(pytester: pytest.Pytester, petstore_url: str) -> None:
    """The document from the ini file, the provider's URL from the command line: the test is one line."""
    (pytester.path / "petstore.yaml").write_bytes(PETSTORE_31.read_bytes())
    pytester.makeini("[pytest]\nipc_openapi_provider = petstore.yaml\n")
    pytester.makepyfile(test_petstore="""
        def test_petstore(openapi_operation):
            assert openapi_operation.verify().requests > 0
    """)
    result = pytester.runpytest_inprocess(*QUIET_SESSION, f"--ipc-openapi-provider-url={petstore_url}", "--ipc-openapi-max-examples=3")
    result.assert_outcomes(passed=3)


DEFECTS = [
    # defect, operation, the check that catches it, what the message shows
    ("wrong_body", "GET /pets/{petId}", "response_schema_conformance", ['"1" is not of type "integer"', 'body: {"id": "1"']),
    ("undeclared_status", "GET /pets/{petId}", "status_code_conformance", ["Received: 410", "Documented: 200, 400, 404", "response: 410"]),
    ("crash_on_invalid", "showPetById", "not_a_server_error", ["invalid input", "ValueError: invalid literal for int()", "curl -X GET"]),
    ("accepts_invalid", "POST /pets", "negative_data_rejection", ["invalid input", "response: 201", "validate this input and answer"]),
    ("missing_header", "listPets", "response_headers_conformance", ["X-Total-Count"]),
    ("wrong_content_type", "GET /pets/{petId}", "content_type_conformance", ["Received: text/plain", "Documented: application/json"]),
]


@pytest.mark.parametrize(("defect", "label", "check", "evidence"), DEFECTS, ids=[defect for defect, *_ in DEFECTS])
def test_each_broken_asgi_provider_fails_naming_operation_and_check(defect: str, label: str, check: str, evidence: list[str]) -> None:
    target = operation(PETSTORE_30, label)
    with pytest.raises(ConformanceError) as caught:
        target.verify(app=petstore_asgi(defect))
    message = str(caught.value)
    assert message.startswith(f"{target.label} does not conform to Petstore 3.0"), message
    assert caught.value.checks == (check,) and caught.value.operation == target.label
    for needle in [f"check {check} failed", "request (", "reproduce: curl", "what to do: ", *evidence]:
        assert needle in message, f"{needle!r} missing from:\n{message}"
    target.verify(app=petstore_asgi())  # the same operation of the conforming provider passes


@pytest.mark.parametrize("defect", ["crash_on_invalid", "accepts_invalid", "wrong_body"])
def test_broken_wsgi_and_url_providers_fail_against_the_31_document(defect: str) -> None:
    _, label, check, _ = next(row for row in DEFECTS if row[0] == defect)
    target = operation(PETSTORE_31, label)
    with pytest.raises(ConformanceError, match=rf"^{target.label} does not conform to Petstore 3\.1 .*check .*{check}"):
        target.verify(app=petstore_wsgi(defect))
    with serving(petstore_asgi(defect)) as url, pytest.raises(ConformanceError, match=rf"(?s)check .*{check}.*request \(.*{url}"):
        target.verify(url)


def test_an_item_fails_with_the_request_and_response_in_its_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_petstore=f"""
        import pytest
        from tests.specs.provider_apps import petstore_asgi

        @pytest.mark.openapi_provider({str(PETSTORE_30)!r}, operations=["GET /pets/{{petId}}", "POST /pets"])
        def test_petstore(openapi_operation):
            openapi_operation.verify(app=petstore_asgi("undeclared_status"), max_examples={FEW})
    """)
    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_petstore?POST /pets? PASSED*",
        "*test_petstore?GET /pets/{petId}? FAILED*",
        "E * GET /pets/{petId} does not conform to Petstore 3.0 *: check status_code_conformance failed",
        "E *request (valid input, *): GET http://testserver/pets/* (sent to the app in-process)",
        "E *response: 410 Gone",
        "E *what to do: document this status code*",
    ])
    assert "conformance.py" not in result.stdout.str(), "the failure shows plugin internals"


def test_the_same_seed_finds_the_same_failure() -> None:
    target = operation(PETSTORE_30, "POST /pets")
    messages = []
    for _ in range(2):
        with pytest.raises(ConformanceError) as caught:
            target.verify(app=petstore_asgi("accepts_invalid"))
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    counts = [target.verify(app=petstore_asgi(), seed=seed).requests for seed in (1, 2)]
    assert all(count > FEW for count in counts), counts


def test_headers_go_with_every_request() -> None:
    """A provider behind an API key: without the header every answer is an undocumented 401."""
    inner = petstore_wsgi()

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_API_KEY") != "secret":
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"message": "who are you?"}']
        return inner(environ, start_response)

    target = operation(PETSTORE_30, "GET /pets")
    with pytest.raises(ConformanceError, match=r"(?s)status_code_conformance.*Received: 401"):
        target.verify(app=guarded)
    assert target.verify(app=guarded, headers={"X-Api-Key": "secret"}).requests > 0


def test_a_failure_that_does_not_come_back_is_reported_as_such() -> None:
    """A provider that crashes once, on its 15th request (a random one, after the boundary cases):
    the failure is reported with that request, and says that sending it again got a good answer."""
    inner, count = petstore_wsgi(), 0

    def crashes_once(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        nonlocal count
        count += 1
        if count == 15:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"out of connections"]
        return inner(environ, start_response)

    with pytest.raises(ConformanceError, match=r"(?s)check not_a_server_error.*response: 500.*conforming answer when it was sent again"):
        operation(PETSTORE_30, "GET /pets").verify(app=crashes_once)


def test_an_async_test_verifies_without_blocking_its_loop() -> None:
    target = operation(PETSTORE_30, "GET /pets")

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        result = await target.aio.verify(app=petstore_asgi())
        ticker.cancel()
        assert result.requests > 0
        return ticks

    assert asyncio.run(main()) > 0


def test_nothing_is_left_behind_after_a_run() -> None:
    """No thread (schemathesis runs an ASGI app on an event-loop thread of its own), and hypothesis's
    storage directory and local-constants source are as they were."""
    from hypothesis import configuration
    from hypothesis.internal.conjecture import providers

    home, constants = vars(configuration).get("__hypothesis_home_directory"), providers._get_local_constants
    before = set(threading.enumerate())
    operation(PETSTORE_30, "GET /pets").verify(app=petstore_asgi())
    assert set(threading.enumerate()) - before == set()
    assert (vars(configuration).get("__hypothesis_home_directory"), providers._get_local_constants) == (home, constants)


def test_a_document_that_cannot_be_used_is_a_clear_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", asyncapi="asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\nchannels: {}\n")
    pytester.makefile(".yaml", broken="openapi: [3.0\n")
    pytester.makefile(".yaml", swagger="swagger: '2.0'\n")
    pytester.makefile(".yaml", empty="openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n")
    problems = {
        "missing": "cannot read API document */missing.yaml: No such file or directory",
        "asyncapi": "*asyncapi.yaml is an AsyncAPI document; provider conformance needs an OpenAPI 3.0 or 3.1 document",
        "broken": "*broken.yaml is neither JSON nor valid YAML*",
        "swagger": "*swagger.yaml: not an OpenAPI or AsyncAPI document*",
        "empty": "*empty.yaml declares no operation under `paths`*",
    }
    for name in problems:
        pytester.makepyfile(**{f"test_{name}": f"""
            import pytest

            @pytest.mark.openapi_provider("{name}.yaml")
            def test_api(openapi_operation):
                pass
        """})
    result = pytester.runpytest_inprocess(*QUIET_SESSION)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines_random([
        f"*test_{name}.py::test_api: cannot verify a provider against this document: {problem}" for name, problem in problems.items()
    ])


def test_usage_errors_name_the_problem_and_the_choices(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_no_document="""
            def test_no_document(openapi_operation):
                pass
        """,
        test_unknown_operation=f"""
            import pytest

            @pytest.mark.openapi_provider({str(PETSTORE_30)!r}, operations=["GET /cats"])
            def test_unknown_operation(openapi_operation):
                pass
        """,
        test_unknown_argument=f"""
            import pytest

            @pytest.mark.openapi_provider({str(PETSTORE_30)!r}, version=2)
            def test_unknown_argument(openapi_operation):
                pass
        """,
    )
    result = pytester.runpytest_inprocess(*QUIET_SESSION)
    result.stdout.fnmatch_lines_random([
        '*::test_no_document takes openapi_operation but names no OpenAPI document: mark it @pytest.mark.openapi_provider("openapi.yaml")'
        " or set --ipc-openapi-provider / PYTEST_IPC_OPENAPI_PROVIDER / ini ipc_openapi_provider",
        "*::test_unknown_operation: * has no operation 'GET /cats'; it has: GET /pets (listPets), POST /pets (createPet), "
        "GET /pets/{petId} (showPetById)",
        "*::test_unknown_argument: openapi_provider got version; valid: document, operations",
    ])
    bad = pytester.runpytest_inprocess(*QUIET_SESSION, "--ipc-openapi-max-examples=many")
    bad.stderr.fnmatch_lines(["ERROR: --ipc-openapi-max-examples: expected a whole number from 1, got 'many'"])
    bad_url = pytester.runpytest_inprocess(*QUIET_SESSION, "--ipc-openapi-provider-url=localhost:8000")
    bad_url.stderr.fnmatch_lines(["ERROR: --ipc-openapi-provider-url must be an http:// or https:// URL, got 'localhost:8000'"])


def test_verify_arguments_are_checked() -> None:
    target = operation(PETSTORE_30, "GET /pets")
    with pytest.raises(IpcUsageError, match=r"no provider to verify: pass base_url='http://host:port' or app=.*--ipc-openapi-provider-url"):
        target.verify()
    with pytest.raises(IpcUsageError, match=rf"unknown check 'schema'; choose from: {', '.join(DEFAULT_CHECKS)}, positive_data_acceptance"):
        target.verify(app=petstore_asgi(), checks=["schema"])
    with pytest.raises(IpcUsageError, match="unknown mode 'fuzzy'; choose from: positive, negative"):
        target.verify(app=petstore_asgi(), modes=["fuzzy"])
    with pytest.raises(IpcUsageError, match="max_examples is a whole number from 1, got 0"):
        target.verify(app=petstore_asgi(), max_examples=0)
    with pytest.raises(IpcUsageError, match="not both"):
        target.verify("http://127.0.0.1:1", app=petstore_asgi())


def test_nothing_listening_is_a_provider_that_is_down() -> None:
    with serving(petstore_asgi()) as url:
        pass  # the port is free again: nothing listens there now
    with pytest.raises(ProviderUnreachable, match=rf"nothing answers at {url} — is the provider running\?"):
        operation(PETSTORE_30, "GET /pets").verify(url)


def test_positive_mode_alone_sends_no_invalid_input() -> None:
    result = operation(PETSTORE_30, "POST /pets").verify(app=petstore_asgi("accepts_invalid"), modes=["positive"])
    assert result.requests > 0 and result.negative_requests == 0


def test_an_unused_plugin_imports_no_engine(tmp_path: Path) -> None:
    """Neither a session without conformance tests nor the collection of one loads schemathesis or
    hypothesis (their own pytest plugins are switched off, as a user without them has)."""
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    pass\n")
    (tmp_path / "test_conformance.py").write_text(
        f"import pytest\n\n@pytest.mark.openapi_provider({str(PETSTORE_30)!r})\ndef test_api(openapi_operation):\n    pass\n"
    )
    heavy = ("schemathesis", "hypothesis", "jsonschema", "pytest_ipc.specs.conformance")
    plugins = ("cacheprovider", "schemathesis", "hypothesispytest", "faker", "pact", "benchmark", "respx", "anyio", "xdist", "asyncio")
    quiet = ["-q", *[argument for name in plugins for argument in ("-p", f"no:{name}")]]
    code = (
        "import sys, pytest\n"
        f"pytest.main([*{quiet!r}, sys.argv[1] + '/test_plain.py'])\n"
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))\n"
        f"pytest.main([*{quiet!r}, '--collect-only', sys.argv[1] + '/test_conformance.py'])\n"
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))\n"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [CHECKOUT, os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True, env=environment)
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == "['pytest_ipc.specs.conformance']", run.stdout  # collection lists operations, nothing more
    assert "3 tests collected" in run.stdout, run.stdout
    assert next(line for line in lines if line.startswith("[")) == "[]", run.stdout
