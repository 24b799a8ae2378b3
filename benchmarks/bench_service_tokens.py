"""What checking a JWT costs the HTTP stub, in one run: `python benchmarks/bench_service_tokens.py`.

Sequential requests per second over one keep-alive http.client connection to the same stub, on
three routes measured in alternating rounds: no auth (the baseline), `require_bearer` (a string
compare) and `require_jwt` (ES256 signature against the JWKS keys, iss, aud, exp, nbf, scopes, the
claims kept in the journal). Also the token endpoint's rate (a client-credentials grant: parse the
form, check the client, sign a token). Each figure is the best of its rounds, so load from other
processes on a shared machine does not decide the ratio.
Target: a JWT route answers at least 0.5x as many requests per second as the baseline route.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import time

from pytest_ipc.stub import HttpStub

HOST = "127.0.0.1"
TARGET = 0.5


def rate(port: int, method: str, path: str, headers: dict[str, str], body: str | None, seconds: float) -> float:
    """Requests per second over one keep-alive connection for about `seconds`."""
    connection = http.client.HTTPConnection(HOST, port)
    done, started = 0, time.perf_counter()
    try:
        while (elapsed := time.perf_counter() - started) < seconds:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200, (path, answer.status)
            done += 1
    finally:
        connection.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.3, help="length of one measuring round")
    options = parser.parse_args()
    with HttpStub(HOST) as stub:
        issuer = stub.token_issuer(audience="orders-api")
        issuer.add_client("billing", "s3cret", scopes="orders:read")
        stub.expect("GET", "/open").respond(json=[])
        stub.expect("GET", "/bearer").require_bearer("t0k3n").respond(json=[])
        stub.expect("GET", "/jwt").require_jwt(issuer, scopes="orders:read").respond(json=[])
        token = issuer.issue("billing", scopes="orders:read")
        basic = "Basic " + base64.b64encode(b"billing:s3cret").decode()
        cases = {
            "no auth (baseline)": ("GET", "/open", {}, None),
            "require_bearer": ("GET", "/bearer", {"authorization": "Bearer t0k3n"}, None),
            "require_jwt (ES256)": ("GET", "/jwt", {"authorization": f"Bearer {token}"}, None),
            "token endpoint (grant)": (
                "POST", "/oauth/token",
                {"authorization": basic, "content-type": "application/x-www-form-urlencoded"},
                "grant_type=client_credentials&scope=orders%3Aread",
            ),
        }  # fmt: skip
        best = dict.fromkeys(cases, 0.0)
        for _ in range(options.rounds):
            for name, (method, path, headers, body) in cases.items():
                best[name] = max(best[name], rate(stub.port, method, path, headers, body, options.seconds))
                stub.journal.clear()  # the journal grows with every request; keep rounds alike
    baseline = best["no auth (baseline)"]
    print(f"{'route':<26}{'requests/s':>12}{'per request':>14}{'vs baseline':>13}")
    for name, value in best.items():
        print(f"{name:<26}{value:>12.0f}{1e6 / value:>11.0f} us{value / baseline:>12.2f}x")
    ratio = best["require_jwt (ES256)"] / baseline
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    print(f"{verdict}: require_jwt answers {ratio:.2f}x the baseline's requests per second (target >= {TARGET:.2f}x)")


if __name__ == "__main__":
    main()
