"""API definitions as contracts: OpenAPI (HTTP) and AsyncAPI (messaging) documents.

`document` loads a document and follows its references; `schema` validates values against the
schemas in it, whatever the document's dialect; `examples` makes values that conform to them.
Every other use of a document (the stub served from it, provider conformance, breaking-change
checks, channel validation) builds on these.
"""

from __future__ import annotations

from pytest_ipc.specs.document import ApiDocument, SpecError, load_document
from pytest_ipc.specs.examples import ExampleGenerator, example_for
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation

__all__ = [
    "ApiDocument",
    "ExampleGenerator",
    "SchemaValidator",
    "SchemaViolation",
    "SpecError",
    "example_for",
    "load_document",
]
