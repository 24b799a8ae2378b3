"""The stub served from an OpenAPI document, in one run: `python benchmarks/bench_openapi_stub.py`.

Measures (1) how long a stub takes to be ready with a 200-operation document (the document parsed
from JSON, every operation a route; median of rounds, the server already running), and (2) what
request validation adds per request: the same operation served with and without validation
(`validate=False`), p50 of sequential requests over one keep-alive connection, rounds alternating so
load from other processes falls on both alike. The answer is the same fixed reply in both cases, so
the difference is the checking of path, query, header parameters and the JSON body.
Targets from the issue: ready <= 200 ms; validation adds <= 1 ms per request at p50.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.specs.documents

from pytest_ipc.specs import load_document
from pytest_ipc.stub import HttpStub
from tests.specs.documents import generated_spec

OPERATIONS = 200
ROUNDS = 7
REQUESTS = 300


def ready_ms(stub: HttpStub, text: str) -> float:
    samples = []
    for _ in range(ROUNDS):
        stub.reset()
        began = time.perf_counter()
        stub.serve_openapi(load_document(text))
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def per_request_us(connection: http.client.HTTPConnection, prefix: str) -> list[float]:
    body = json.dumps({"name": "widget", "kind": "b", "amount": 12.5, "labels": ["x"]})
    headers = {"content-type": "application/json"}
    samples = []
    for index in range(REQUESTS):
        began = time.perf_counter()
        connection.request("PUT", f"{prefix}/r17/{index + 1}?limit=5", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        samples.append(time.perf_counter() - began)
        if response.status != 200:
            raise RuntimeError(f"PUT answered {response.status}")
    return samples


def main() -> int:
    text = json.dumps(generated_spec(OPERATIONS))
    with HttpStub() as stub:
        ready = ready_ms(stub, text)
        stub.reset()
        checked = stub.serve_openapi(load_document(text), prefix="/checked")
        unchecked = stub.serve_openapi(load_document(text), prefix="/unchecked", validate=False)
        reply = {"id": 1, "name": "widget"}
        checked.route("replaceResource17").respond(json=reply)
        unchecked.route("replaceResource17").respond(json=reply)
        connection = http.client.HTTPConnection(stub.host, stub.port)
        with_validation: list[float] = []
        without: list[float] = []
        per_request_us(connection, "/checked")  # warm: validators built, caches filled
        for _ in range(ROUNDS):
            with_validation += per_request_us(connection, "/checked")
            without += per_request_us(connection, "/unchecked")
        connection.close()
        assert checked.violations == []
    p50_with = statistics.median(with_validation) * 1e6
    p50_without = statistics.median(without) * 1e6
    added = p50_with - p50_without
    print(f"stub ready with a {OPERATIONS}-operation document: {ready:.1f} ms (target <= 200 ms)")
    print(f"per request, p50: validated {p50_with:.0f} us, not validated {p50_without:.0f} us")
    print(f"validation adds {added:.0f} us per request at p50 (target <= 1000 us)")
    passed = ready <= 200 and added <= 1000
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
