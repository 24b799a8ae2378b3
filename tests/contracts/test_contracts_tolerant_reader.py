"""The tolerant_reader marker as a user sees it: clients re-run against evolved stub and respx responses."""

from __future__ import annotations

import pytest

from tests.contracts.inner_session import QUIET_SESSION

CLIENTS = """
from dataclasses import dataclass

import httpx
import pytest

ORDER = {"id": 1, "status": "placed", "note": "leave at the door", "customer": {"name": "Ada"}}


@dataclass
class Order:
    id: int
    status: str
    note: str
    customer: dict


def strict_client(url):
    return Order(**httpx.get(url).json())


def positional_client(url):
    order_id, status, *_ = httpx.get(url).json().values()
    return order_id, status


def note_reading_client(url):
    return httpx.get(url).json()["note"]


def tolerant_client(url):
    body = httpx.get(url).json()
    return body["id"], body["status"], body.get("note", ""), body["customer"]["name"]


@pytest.fixture
def order_url(http_stub):
    http_stub.expect("GET", "/orders/1").respond(json=ORDER)
    return http_stub.url_for("/orders/1")


@pytest.mark.tolerant_reader(seed=1)
def test_strict_client(order_url, http_stub):
    assert strict_client(order_url).id == 1
    http_stub.assert_called("GET /orders/1", times=1)


@pytest.mark.tolerant_reader(seed=1, add_fields=False)
def test_positional_client(order_url):
    assert positional_client(order_url) == (1, "placed")


@pytest.mark.tolerant_reader(seed=1, drop_optional=["note"])
def test_note_reading_client(order_url):
    assert note_reading_client(order_url)


@pytest.mark.tolerant_reader(seed=1, drop_optional=["note"])
def test_tolerant_client(order_url, http_stub):
    assert tolerant_client(order_url)[:2] == (1, "placed")
    http_stub.assert_called("GET /orders/1", times=1)


@pytest.mark.tolerant_reader
def test_without_the_stub():
    pass


@pytest.mark.tolerant_reader(seeds=3)
def test_misspelt_argument(order_url):
    pass


@pytest.mark.tolerant_reader(seed=2)
def test_strict_client_with_respx(respx_mock):
    respx_mock.get("https://orders.example/orders/1").respond(json=ORDER)
    assert strict_client("https://orders.example/orders/1").id == 1


@pytest.mark.tolerant_reader(seed=2, drop_optional=["note"])
def test_tolerant_client_with_respx(respx_mock):
    route = respx_mock.get("https://orders.example/orders/1").respond(json=ORDER)
    assert tolerant_client("https://orders.example/orders/1")[:2] == (1, "placed")
    assert route.call_count == 1
"""


def test_only_tolerant_readers_survive_evolved_responses(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_clients=CLIENTS)
    result = pytester.runpytest_inprocess(*QUIET_SESSION, "-rA")
    result.assert_outcomes(passed=2, failed=6)
    result.stdout.fnmatch_lines_random(
        [
            "PASSED test_clients.py::test_tolerant_client",
            "PASSED test_clients.py::test_tolerant_client_with_respx",
            "FAILED test_clients.py::test_strict_client_with_respx - *",
            "FAILED test_clients.py::test_strict_client - *",
            "FAILED test_clients.py::test_positional_client - *",
            "FAILED test_clients.py::test_note_reading_client - *",
            (
                "E *ContractError: the client is not a tolerant reader: it broke once responses were evolved "
                "(seed=1) with TypeError: Order.__init__() got an unexpected keyword argument 'x_*'"
            ),
            "E *ContractError: * with KeyError: 'note'",
            "E *ContractError: * evolved (seed=2) with TypeError: Order.__init__() got an unexpected keyword argument*",
            "E *ContractError: * with AssertionError: assert ({'name': 'Ad... at the door') == (1, 'placed')",
            "E * - reordered the keys of $",
            "*tolerant_reader: the test uses none of the fixtures whose responses can be evolved: http_stub, respx_mock*",
            "*test_misspelt_argument: bad @pytest.mark.tolerant_reader arguments (*seeds*); valid ones: seed=int, *",
            "E * - added $.customer.x_*",
            "E * - dropped optional $.note",
        ]
    )
