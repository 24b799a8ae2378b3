"""Petstore providers for the conformance tests: a starlette (ASGI) app and a plain WSGI app that
implement tests/specs/documents/provider_petstore_*.yaml, each either conforming or with one defect
that breaks one part of the document.

Both apps share the petstore's behaviour (`respond`); only the framework around it differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOCUMENTS = Path(__file__).parent / "documents"
PETSTORE_30 = DOCUMENTS / "provider_petstore_30.yaml"
PETSTORE_31 = DOCUMENTS / "provider_petstore_31.yaml"

DEFECTS = (
    "wrong_body",  # GET /pets/{petId}: the pet's id is a string
    "undeclared_status",  # GET /pets/{petId}: 410 for a pet that does not exist (the document says 404)
    "crash_on_invalid",  # GET /pets/{petId}: a petId that is not an integer crashes the handler (500)
    "accepts_invalid",  # POST /pets: stores whatever it is sent (201 for a body the document forbids)
    "missing_header",  # GET /pets: no X-Total-Count
    "wrong_content_type",  # GET /pets/{petId}: the pet as text/plain
)

Reply = tuple[int, Any, dict[str, str]]  # status, JSON body, headers


def _whole(text: str) -> bool:
    """ASCII digits only: str.isdigit() also says yes to "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def _error(status: int, message: str) -> Reply:
    return status, {"message": message}, {}


def respond(defect: str | None, operation: str, path_params: dict[str, str], query: list[tuple[str, str]], body: bytes) -> Reply:
    """What the petstore answers, for the operation the router matched."""
    pets = {1: {"id": 1, "name": "Rex", "tag": None}}
    if operation == "listPets":
        limits = [value for name, value in query if name == "limit"]
        if len(limits) > 1 or (limits and not (_whole(limits[0]) and 1 <= int(limits[0]) <= 100)):
            return _error(400, "limit is one integer from 1 to 100")
        headers = {} if defect == "missing_header" else {"X-Total-Count": str(len(pets))}
        return 200, list(pets.values())[: int(limits[0]) if limits else 20], headers
    if operation == "createPet":
        try:
            pet = json.loads(body)
        except ValueError:
            return _error(400, "the body is not JSON")
        if defect == "accepts_invalid":
            name = pet.get("name") if isinstance(pet, dict) else None
            return 201, {"id": 2, "name": name if isinstance(name, str) else "unnamed", "tag": None}, {}
        if not isinstance(pet, dict) or set(pet) - {"name", "tag"}:
            return _error(400, "a pet has a name and a tag, nothing else")
        name, tag = pet.get("name"), pet.get("tag")
        if not isinstance(name, str) or not 1 <= len(name) <= 40:
            return _error(400, "name is a string of 1 to 40 characters")
        if tag is not None and not (isinstance(tag, str) and len(tag) <= 20):
            return _error(400, "tag is null or a string of at most 20 characters")
        return 201, {"id": 2, "name": name, "tag": tag}, {}
    raw_id = path_params["petId"]
    if defect == "crash_on_invalid":
        pet_id = int(raw_id)  # the defect: a ValueError escapes the handler
    elif _whole(raw_id) and int(raw_id) >= 1:
        pet_id = int(raw_id)
    else:
        return _error(400, "petId is an integer from 1")
    if pet_id not in pets:
        return _error(410 if defect == "undeclared_status" else 404, f"no pet {pet_id}")
    if defect == "wrong_body":
        return 200, {**pets[pet_id], "id": str(pet_id)}, {}
    return 200, pets[pet_id], {}


def _encoded(reply: Reply, defect: str | None) -> tuple[int, bytes, str, dict[str, str]]:
    status, body, headers = reply
    text_plain = defect == "wrong_content_type" and status == 200 and isinstance(body, dict)
    return status, json.dumps(body).encode(), "text/plain" if text_plain else "application/json", headers


def petstore_asgi(defect: str | None = None) -> Starlette:
    """The petstore as a starlette app."""

    def route(operation: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            reply = respond(defect, operation, dict(request.path_params), list(request.query_params.multi_items()), await request.body())
            status, content, media_type, headers = _encoded(reply, defect)
            return Response(content, status_code=status, media_type=media_type, headers=headers)

        return endpoint

    return Starlette(routes=[
        Route("/pets", route("listPets"), methods=["GET"]),
        Route("/pets", route("createPet"), methods=["POST"]),
        Route("/pets/{petId}", route("showPetById"), methods=["GET"]),
    ])


def petstore_wsgi(defect: str | None = None) -> Callable[..., Iterable[bytes]]:
    """The petstore as a plain WSGI callable (a crash is a 500, as a WSGI server answers one)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        segments = path.strip("/").split("/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if segments == ["pets"] and method in ("GET", "POST"):
            operation, params = ("listPets" if method == "GET" else "createPet"), {}
        elif len(segments) == 2 and segments[0] == "pets" and method == "GET":
            operation, params = "showPetById", {"petId": segments[1]}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return iter([b'{"message": "no such route"}'])
        try:
            status, content, media_type, headers = _encoded(respond(defect, operation, params, query, body), defect)
        except Exception:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return iter([b"Internal Server Error"])
        start_response(f"{status} X", [("Content-Type", media_type), *headers.items()])
        return iter([content])

    return app
