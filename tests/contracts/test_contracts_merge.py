"""Merging pact files, in process: spec-aware identities, ownership by test, conflicts.

Each test states the false pass it guards against (issue 13): what an earlier merge did wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc.contracts import pactfile
from pytest_ipc.contracts.merge import (
    OWNERSHIP,
    SessionFacts,
    Written,
    merge_pair,
    owners_of,
)

ROOT = Path("/project")
PACT_DIR = ROOT / "pacts"


def facts(ran: frozenset[str] = frozenset(), gone: frozenset[str] = frozenset(), prune: bool = False) -> SessionFacts:
    return SessionFacts(ROOT, frozenset(ran), lambda test: test in gone, prune)


def pact(*interactions: dict[str, Any], version: str = "4.0", container: str = "interactions") -> dict[str, Any]:
    return {
        "consumer": {"name": "Web"},
        "provider": {"name": "Orders"},
        container: list(interactions),
        "metadata": {"pactSpecification": {"version": version}},
    }


def http(description: str, *states: tuple[str, dict[str, Any]], status: int = 200, **extra: Any) -> dict[str, Any]:
    interaction: dict[str, Any] = {
        "type": "Synchronous/HTTP",
        "description": description,
        "request": {"method": "GET", "path": "/orders/1"},
        "response": {"status": status},
        **extra,
    }
    if states:
        interaction["providerStates"] = [{"name": name, **({"params": params} if params else {})} for name, params in states]
    return interaction


def message_v3(description: str, order_id: int = 7) -> dict[str, Any]:
    return {"description": description, "contents": {"order_id": order_id}, "metadata": {"contentType": "application/json"}}


def descriptions(document: dict[str, Any], container: str = "interactions") -> list[str]:
    return [interaction["description"] for interaction in document.get(container, [])]


def merged(written: list[Written], old: dict[str, Any] | None = None, **session: Any) -> dict[str, Any]:
    result = merge_pair(PACT_DIR, old, written, facts(**session), old_name="pacts/Web-Orders.json")
    assert result.conflicts == [], result.conflicts
    assert result.document is not None
    return result.document


def test_v3_message_pacts_keep_their_messages_under_messages() -> None:
    """False pass: V3 messages were merged under `interactions`; the core then read them as HTTP."""
    first = pact(message_v3("an order placed event"), version="3.0.0", container="messages")
    second = pact(message_v3("an order paid event"), version="3.0.0", container="messages")
    document = merged([Written("tests/test_a.py::test_placed", first), Written("tests/test_a.py::test_paid", second)])
    assert "interactions" not in document
    assert descriptions(document, "messages") == ["an order paid event", "an order placed event"]
    assert pactfile.spec_major(document) == 3


def test_v4_interactions_with_distinct_keys_never_collapse_and_pending_is_kept() -> None:
    """False pass: two V4 interactions with one description and different keys became one, and
    the pending one was lost."""
    current = http("a request for order 1", ("an order exists", {"id": 1}), key="aa11", pending=False)
    upcoming = http("a request for order 1", ("an order exists", {"id": 1}), key="bb22", pending=True, status=201)
    document = merged([Written("tests/test_a.py::test_order", pact(current, upcoming))])
    assert sorted((item["key"], item["pending"]) for item in document["interactions"]) == [("aa11", False), ("bb22", True)]


def test_interactions_differing_only_by_state_parameters_stay_apart() -> None:
    """False pass: a parametrized consumer test (one per order id) kept one interaction of three."""
    written = [
        Written(f"tests/test_a.py::test_order[{number}]", pact(http("a request for an order", ("an order exists", {"id": number}))))
        for number in (1, 2, 3)
    ]
    document = merged(written)
    params = [item["providerStates"][0]["params"]["id"] for item in document["interactions"]]
    assert sorted(params) == [1, 2, 3]


def test_one_interaction_defined_differently_by_two_tests_is_a_conflict_naming_both() -> None:
    first = Written("tests/test_a.py::test_found", pact(http("a request for order 1", status=200)))
    second = Written("tests/test_b.py::test_gone", pact(http("a request for order 1", status=404)))
    result = merge_pair(PACT_DIR, None, [first, second], facts())
    assert result.document is None
    (conflict,) = result.conflicts
    assert "tests/test_a.py::test_found" in conflict and "tests/test_b.py::test_gone" in conflict
    assert "'a request for order 1'" in conflict and "Expected one definition" in conflict


def test_identical_interactions_of_two_tests_merge_and_both_own_it() -> None:
    same = http("a request for order 1")
    document = merged([Written("tests/test_a.py::test_one", pact(same)), Written("tests/test_a.py::test_two", pact(same))])
    assert len(document["interactions"]) == 1
    assert owners_of(document, PACT_DIR, ROOT) == {
        pactfile.identity_of(same): {"tests/test_a.py::test_one", "tests/test_a.py::test_two"}
    }


def earlier_run() -> dict[str, Any]:
    """A file an earlier full run wrote: tests `test_kept`, `test_rerun` and `test_removed`."""
    return merged([
        Written("tests/test_a.py::test_kept", pact(http("kept"))),
        Written("tests/test_a.py::test_rerun", pact(http("rerun, old version"))),
        Written("tests/test_a.py::test_removed", pact(http("removed"))),
    ])


def test_a_partial_run_replaces_only_the_interactions_of_the_tests_that_ran() -> None:
    """False pass: `-k`, one file, `--lf` or `-x` rewrote the pair's pact with only that subset."""
    document = merged(
        [Written("tests/test_a.py::test_rerun", pact(http("rerun, new version")))],
        old=earlier_run(),
        ran={"tests/test_a.py::test_rerun"},
    )
    assert descriptions(document) == ["kept", "removed", "rerun, new version"]


def test_a_test_that_ran_and_failed_leaves_nothing_behind() -> None:
    document = merged([], old=earlier_run(), ran={"tests/test_a.py::test_rerun"})
    assert descriptions(document) == ["kept", "removed"]


def test_interactions_of_tests_that_no_longer_exist_are_dropped() -> None:
    document = merged([], old=earlier_run(), gone={"tests/test_a.py::test_removed"})
    assert descriptions(document) == ["kept", "rerun, old version"]


def test_prune_keeps_only_what_this_session_wrote() -> None:
    document = merged([Written("tests/test_a.py::test_rerun", pact(http("rerun")))], old=earlier_run(), prune=True)
    assert descriptions(document) == ["rerun"]


def test_nothing_left_means_no_file() -> None:
    result = merge_pair(PACT_DIR, earlier_run(), [], facts(prune=True))
    assert result == type(result)(None, [])


def test_interactions_no_test_owns_stay_and_count_in_conflicts() -> None:
    """A file written by another tool (or by hand) has no owners: its interactions stay."""
    foreign = pact(http("from elsewhere"), http("a request for order 1", status=200))
    document = merged([Written("tests/test_a.py::test_new", pact(http("new")))], old=foreign)
    assert descriptions(document) == ["a request for order 1", "from elsewhere", "new"]
    clash = merge_pair(PACT_DIR, foreign, [Written("tests/test_a.py::test_x", pact(http("a request for order 1", status=500)))], facts())
    assert "an earlier run" in clash.conflicts[0] and "tests/test_a.py::test_x" in clash.conflicts[0]


def test_ownership_is_stored_with_a_rootdir_relative_to_the_pact_directory() -> None:
    document = merged([Written("tests/test_a.py::test_one", pact(http("one")))])
    assert document["metadata"][OWNERSHIP]["rootdir"] == ".."
    # the same file seen from a session whose rootdir is one level up
    seen_from_above = owners_of(document, PACT_DIR, ROOT.parent)
    assert list(seen_from_above.values()) == [{"project/tests/test_a.py::test_one"}]


def test_different_specification_versions_are_a_conflict() -> None:
    v3 = pact(http("one"), version="3.0.0")
    v4 = pact(http("two"))
    result = merge_pair(PACT_DIR, None, [Written("tests/a.py::test_3", v3), Written("tests/a.py::test_4", v4)], facts())
    assert result.document is None and "V3: tests/a.py::test_3; V4: tests/a.py::test_4" in result.conflicts[0]
    old_v3 = merged([Written("tests/a.py::test_3", v3)])
    result = merge_pair(PACT_DIR, old_v3, [Written("tests/a.py::test_4", v4)], facts())
    assert "--ipc-pact-prune" in result.conflicts[0]


def test_the_merged_file_is_the_same_whatever_the_order_of_the_tests() -> None:
    written = [Written(f"tests/test_a.py::test_{name}", pact(http(name))) for name in "cab"]
    assert json.dumps(merged(written)) == json.dumps(merged(list(reversed(written))))


@pytest.mark.parametrize(
    ("interaction", "kind", "states"),
    [
        ({"description": "d", "providerState": "a user exists", "request": {}}, "Synchronous/HTTP", ["a user exists"]),
        ({"description": "d", "contents": {}}, "Asynchronous/Messages", []),
        ({"type": "Synchronous/Messages", "description": "d", "providerStates": [{"name": "s", "params": {"b": 2, "a": 1}}]},
         "Synchronous/Messages", ["s: a=1, b=2"]),
    ],
    ids=["v2-state", "v3-message", "v4-sync-message"],
)
def test_kinds_and_states_of_every_spec_version(interaction: dict[str, Any], kind: str, states: list[str]) -> None:
    assert pactfile.interaction_kind(interaction) == kind
    assert [state.label for state in pactfile.interaction_states(interaction)] == states
