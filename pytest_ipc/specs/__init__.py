"""API definitions as contracts: OpenAPI (HTTP) and AsyncAPI (messaging) documents.

`document` loads a document and follows its references; `schema` validates values against the
schemas in it, whatever the document's dialect; `conformance` checks a provider against its OpenAPI
document, one operation at a time (schemathesis loads when a check runs). Every other use of a document (the stub served from
it, provider conformance, breaking-change checks, channel validation) builds on these two.
"""

from __future__ import annotations

from pytest_ipc.specs.conformance import ConformanceError, ConformanceResult, ProviderOperation
from pytest_ipc.specs.document import ApiDocument, SpecError, load_document
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation

__all__ = [
    "ApiDocument",
    "ConformanceError",
    "ConformanceResult",
    "ProviderOperation",
    "SchemaValidator",
    "SchemaViolation",
    "SpecError",
    "load_document",
]
