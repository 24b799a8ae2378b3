"""API definitions as contracts: OpenAPI (HTTP) and AsyncAPI (messaging) documents.

`document` loads a document and follows its references; `schema` validates values against the
schemas in it, whatever the document's dialect. Every other use of a document (the stub served from
it, provider conformance, breaking-change checks, channel validation) builds on these two.
"""

from __future__ import annotations

from pytest_ipc.specs.document import ApiDocument, SpecError, load_document
from pytest_ipc.specs.schema import SchemaValidator, SchemaViolation

__all__ = ["ApiDocument", "SchemaValidator", "SchemaViolation", "SpecError", "load_document"]
