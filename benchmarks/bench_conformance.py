"""Provider conformance cost per request: pytest-ipc's `verify()` against plain schemathesis, in one run.

`python benchmarks/bench_conformance.py [--rounds 3] [--max-examples 25]`

Each operation of the petstore document (tests/specs/documents/provider_petstore_30.yaml) is
checked against the same in-process starlette app two ways, with the same engine, seed, phases,
generation modes and checks:

- plain schemathesis: its hypothesis test for the operation (`create_test`) calling
  `case.call_and_validate(app=..., checks=...)` on every generated case;
- pytest-ipc: `ProviderOperation.verify(app=...)` (which also records each request, runs every check
  on its own so a failure names its check, and keeps hypothesis's caches in a temporary directory).

Both send the same requests; the figure is the time per request (median of the rounds). Target: at
most 1.5x plain schemathesis. The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import schemathesis.checks  # noqa: E402
from schemathesis.generation import derive_operation_seed  # noqa: E402
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test  # noqa: E402

from pytest_ipc.specs import load_document  # noqa: E402
from pytest_ipc.specs.conformance import DEFAULT_CHECKS, MODES, ProviderOperation, SchemaCache, operations_of  # noqa: E402
from tests.specs.provider_apps import PETSTORE_30, petstore_asgi  # noqa: E402

TARGET_RATIO = 1.5
SEED = 0


def plain_schemathesis(cache: SchemaCache, document: object, max_examples: int) -> tuple[float, int]:
    """Seconds and requests for every operation, schemathesis alone."""
    import hypothesis

    schema = cache.schema(document, MODES)  # type: ignore[arg-type]
    app = petstore_asgi()
    checks = [getattr(schemathesis.checks, name) for name in DEFAULT_CHECKS]
    settings = hypothesis.settings(
        hypothesis.settings.get_profile("default"), max_examples=max_examples, database=None, deadline=None, derandomize=False,
        report_multiple_bugs=False, suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink], verbosity=hypothesis.Verbosity.quiet,
    )
    sent = 0

    def one(case: object) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(app=app, checks=checks)  # type: ignore[attr-defined]

    started = time.perf_counter()
    for ref in operations_of(document):  # type: ignore[arg-type]
        operation = schema[ref.path][ref.method]
        test = create_test(
            operation=operation,
            test_func=one,
            config=HypothesisTestConfig(
                project=schema.config,
                modes=[HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING],
                settings=settings,
                apply_ci_profile=False,
                seed=derive_operation_seed(SEED, operation.label),
            ),
        )
        test()
    return time.perf_counter() - started, sent


def pytest_ipc_verify(cache: SchemaCache, document: object, max_examples: int) -> tuple[float, int]:
    """Seconds and requests for every operation, through `ProviderOperation.verify`."""
    app = petstore_asgi()
    sent = 0
    started = time.perf_counter()
    for ref in operations_of(document):  # type: ignore[arg-type]
        sent += ProviderOperation(ref, max_examples=max_examples, seed=SEED, schemas=cache).verify(app=app).requests
    return time.perf_counter() - started, sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-examples", type=int, default=25)
    options = parser.parse_args()
    document = load_document(PETSTORE_30)
    cache = SchemaCache()
    pytest_ipc_verify(cache, document, options.max_examples)  # warm-up: imports, schema, strategies
    plain_schemathesis(cache, document, options.max_examples)
    plain: list[float] = []
    ours: list[float] = []
    requests = (0, 0)
    for _ in range(options.rounds):
        seconds, plain_sent = plain_schemathesis(cache, document, options.max_examples)
        plain.append(seconds / plain_sent)
        seconds, our_sent = pytest_ipc_verify(cache, document, options.max_examples)
        ours.append(seconds / our_sent)
        requests = (plain_sent, our_sent)
    plain_ms, our_ms = statistics.median(plain) * 1000, statistics.median(ours) * 1000
    ratio = our_ms / plain_ms
    print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(f"requests per round (3 operations): plain schemathesis {requests[0]}, pytest-ipc {requests[1]}")
    print(f"plain schemathesis:  {plain_ms:7.2f} ms per request (median of {options.rounds})")
    print(f"pytest-ipc verify(): {our_ms:7.2f} ms per request (median of {options.rounds})")
    verdict = "PASS" if ratio <= TARGET_RATIO and requests[0] == requests[1] else "FAIL"
    print(f"{verdict}: pytest-ipc costs {ratio:.2f}x plain schemathesis per request (target <= {TARGET_RATIO}x, same requests)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
