"""API definitions as contracts: OpenAPI (HTTP) and AsyncAPI (messaging) documents.

`document` loads a document and follows its references; `schema` validates values against the
schemas in it, whatever the document's dialect; `examples` makes values that conform to them. Every
other use of a document builds on these: the stub served from it (`pytest_ipc.stub.openapi`),
provider conformance (`conformance`, schemathesis loads when a check runs), the breaking-change
checks `openapi_diff` and `asyncapi_diff` (both compare schemas through `schema_diff`), and
`pact_check`, which holds a consumer's pact against the provider's document; their findings and
failure are in `findings`.
"""

from __future__ import annotations

from pytest_ipc.specs.asyncapi_diff import assert_asyncapi_compatible, asyncapi_changes
from pytest_ipc.specs.conformance import ConformanceError, ConformanceResult, ProviderOperation
from pytest_ipc.specs.document import ApiDocument, SpecError, load_document
from pytest_ipc.specs.examples import ExampleGenerator, example_for
from pytest_ipc.specs.findings import ApiFinding, IncompatibleApi
from pytest_ipc.specs.openapi_diff import assert_openapi_compatible, openapi_changes
from pytest_ipc.specs.pact_check import assert_pact_matches_asyncapi, assert_pact_matches_openapi, pact_mismatches
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation

__all__ = [
    "ApiDocument",
    "ApiFinding",
    "ConformanceError",
    "ConformanceResult",
    "ExampleGenerator",
    "IncompatibleApi",
    "ProviderOperation",
    "SchemaValidator",
    "SchemaViolation",
    "SpecError",
    "assert_asyncapi_compatible",
    "assert_openapi_compatible",
    "assert_pact_matches_asyncapi",
    "assert_pact_matches_openapi",
    "asyncapi_changes",
    "example_for",
    "load_document",
    "openapi_changes",
    "pact_mismatches",
]
