"""A fake Pact Broker: the broker's HAL API in memory, on a loopback port the OS picks.

For tests of a Pact Broker workflow (publishing, pacts for verification, verification results,
can-i-deploy) where no real broker can run. It was written from the Pact Broker's API
documentation (index relations, `/contracts/publish`, `for-verification` with pending and WIP
pacts and their notices, `pb:publish-verification-results`, environments with deployed and
released versions, `/can-i-deploy` and `/matrix`), and was not checked against a real broker.

Semantics kept honest: a pact's identity is its content (interactions, not metadata); `mainBranch`
is the pacticipant's main branch (set with `PATCH /pacticipants/{name}`, or detected from the first
branch named develop, main or master, as the broker does by default); `deployed`/`released` read
the versions currently deployed or supported per environment; a pact is *pending* while no
provider version (of the branch named in `providerVersionBranch`, when there is one) has verified
its content successfully; WIP pacts are the pending heads of consumer branches published since
`includeWipPactsSince` that no selector picked. Auth: a bearer token, basic credentials, and a
read-only token (403 for writes); no credentials configured means an open broker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote

from pytest_ipc._http import Exchange, HttpServer, Request, Response
from pytest_ipc._loop import LoopThread
from pytest_ipc.contracts.pactfile import CONTAINERS, canonical, is_pact

MAIN_BRANCH_CANDIDATES = ("develop", "main", "master")
SELECTOR_KEYS = frozenset(
    {
        "mainBranch",
        "branch",
        "matchingBranch",
        "fallbackBranch",
        "deployed",
        "released",
        "deployedOrReleased",
        "environment",
        "latest",
        "consumer",
        "tag",
        "fallbackTag",
    }
)
READ_MORE_PENDING = "Read more at https://pact.io/pending"
READ_MORE_WIP = "Read more at https://docs.pact.io/go/wip"
HAL = [("content-type", "application/hal+json;charset=utf-8")]
Json = dict[str, Any]


def content_sha(document: Json) -> str:
    """The pact version: a SHA-1 of what a provider verifies (interactions in a stable order, no
    metadata), so republishing the same expectations is the same pact version."""
    content = {name: sorted((document.get(name) or []), key=canonical) for name in CONTAINERS}
    basis = [document["consumer"]["name"], document["provider"]["name"], content]
    return hashlib.sha1(canonical(basis).encode()).hexdigest()


@dataclass
class _Version:
    pacticipant: str
    number: str
    order: int
    branch: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class _Publication:
    consumer: str
    provider: str
    version: _Version
    sha: str
    order: int
    created: datetime


@dataclass
class _Verification:
    provider: str
    sha: str
    version: _Version
    success: bool
    order: int
    body: Json


@dataclass
class _Placement:
    """A version deployed to (or released in) an environment, current until replaced or retired."""

    version: _Version
    environment: str
    kind: str  # "deployed" or "released"
    current: bool = True
    instance: str | None = None


@dataclass
class _Environment:
    uuid: str
    name: str
    display_name: str
    production: bool


class _Reject(Exception):
    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _bad(message: str, key: str = "base") -> _Reject:
    return _Reject(400, {"errors": {key: [message]}})


class FakePactBroker:
    """A Pact Broker in memory on 127.0.0.1 (a port the OS picks): `with FakePactBroker() as broker:`.

    `token`/`username`+`password` make it require a bearer token or basic credentials (either
    works when both are set); `read_only_token` may read but gets 403 for writes.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        read_only_token: str | None = None,
        auto_detect_main_branch: bool = True,
    ) -> None:
        self._token = token
        self._basic = f"{username}:{password}" if username is not None else None
        self._read_only = read_only_token
        self._auto_main = auto_detect_main_branch
        self._lock = threading.Lock()
        self._order = itertools.count(1)
        self._main_branch: dict[str, str] = {}
        self._pacticipants: set[str] = set()
        self._versions: dict[tuple[str, str], _Version] = {}
        self._contents: dict[str, Json] = {}
        self._publications: list[_Publication] = []
        self._verifications: list[_Verification] = []
        self._environments: dict[str, _Environment] = {}
        self._placements: list[_Placement] = []
        self._loop: LoopThread | None = None
        self._server: HttpServer | None = None
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free loopback port; `url` is where the broker answers."""
        loop = LoopThread("fake-pact-broker").start()
        server = HttpServer(self._handle)
        try:
            loop.run(server.start())
        except BaseException:
            loop.stop()
            raise
        self._loop, self._server = loop, server
        host, port = server.address
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Close the port and end the server's thread (idempotent)."""
        loop, server, self._loop, self._server = self._loop, self._server, None, None
        if loop is None or server is None:
            return
        try:
            loop.run(server.stop())
        finally:
            loop.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    # -- what tests may look at -------------------------------------------------------------------------

    def verification_results(self, provider: str) -> list[Json]:
        """Every verification result published for `provider`, oldest first (the bodies as posted)."""
        with self._lock:
            return [dict(item.body) for item in self._verifications if item.provider == provider]

    def published_versions(self, pacticipant: str) -> list[Json]:
        """`pacticipant`'s versions with their branch and tags, oldest first."""
        with self._lock:
            versions = sorted((v for v in self._versions.values() if v.pacticipant == pacticipant), key=lambda v: v.order)
            return [{"number": v.number, "branch": v.branch, "tags": list(v.tags)} for v in versions]

    # -- HTTP -----------------------------------------------------------------------------------------

    def _handle(self, request: Request, _exchange: Exchange) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        path, _, query = request.target.partition("?")
        segments = tuple(unquote(part) for part in path.strip("/").split("/") if part)
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            return _json(400, {"errors": {"body": ["the request body is not JSON"]}})
        base = f"http://{request.header('host') or self.url.removeprefix('http://')}"
        try:
            with self._lock:
                status, answer = self._route(request.method, segments, dict(parse_qsl(query)), query, body, base)
        except _Reject as rejection:
            return _json(rejection.status, rejection.body)
        return _json(status, answer)

    def _refusal(self, request: Request) -> Response | None:
        if self._token is None and self._basic is None and self._read_only is None:
            return None
        header = request.header("authorization") or ""
        scheme, _, credentials = header.partition(" ")
        accepted = scheme.lower() == "bearer" and credentials in {self._token, self._read_only} - {None}
        if scheme.lower() == "basic" and self._basic is not None:
            try:
                accepted = base64.b64decode(credentials, validate=True).decode() == self._basic
            except (binascii.Error, UnicodeDecodeError):
                accepted = False
        if not accepted:
            return Response(401, b'{"error":"Unauthorized"}', [*HAL, ("www-authenticate", 'Basic realm="Pact Broker"')])
        if credentials == self._read_only and request.method not in ("GET", "HEAD"):
            return _json(403, {"error": "You do not have permission to perform this action (read-only token)"})
        return None

    def _route(self, method: str, s: tuple[str, ...], params: dict[str, str], query: str, body: Any, base: str) -> tuple[int, Any]:
        routes: list[tuple[str, tuple[str, ...], Callable[..., tuple[int, Any]]]] = [
            ("GET", (), self._index),
            ("POST", ("contracts", "publish"), self._publish_contracts),
            ("PUT", ("pacts", "provider", "*", "consumer", "*", "version", "*"), self._publish_pact),
            ("GET", ("pacts", "provider", "*", "consumer", "*", "version", "*"), self._pact_of_version),
            ("GET", ("pacts", "provider", "*", "consumer", "*", "pact-version", "*"), self._pact_of_sha),
            ("GET", ("pacts", "provider", "*", "consumer", "*", "latest"), self._latest_pact),
            ("POST", ("pacts", "provider", "*", "for-verification"), self._for_verification),
            ("POST", ("pacts", "provider", "*", "consumer", "*", "pact-version", "*", "verification-results"), self._verify),
            ("GET", ("pacticipants", "*"), self._pacticipant),
            ("PATCH", ("pacticipants", "*"), self._update_pacticipant),
            ("PUT", ("pacticipants", "*"), self._update_pacticipant),
            ("GET", ("pacticipants", "*", "versions", "*"), self._version),
            ("PUT", ("pacticipants", "*", "versions", "*", "tags", "*"), self._tag),
            ("GET", ("environments",), self._list_environments),
            ("POST", ("environments",), self._create_environment),
            ("POST", ("pacticipants", "*", "versions", "*", "deployed-versions", "environment", "*"), self._deploy),
            ("POST", ("pacticipants", "*", "versions", "*", "released-versions", "environment", "*"), self._release),
            ("GET", ("can-i-deploy",), self._can_i_deploy),
            ("GET", ("matrix",), self._matrix),
        ]
        known_path = False
        for verb, pattern, action in routes:
            if len(pattern) == len(s) and all(p in ("*", part) for p, part in zip(pattern, s, strict=True)):
                known_path = True
                if verb == method:
                    args = [part for p, part in zip(pattern, s, strict=True) if p == "*"]
                    return action(base, *args, body=body, params=params, query=query)
        if known_path:
            raise _Reject(405, {"error": f"{method} is not allowed here"})
        raise _Reject(404, {"error": "The requested document was not found on this server."})

    # -- index --------------------------------------------------------------------------------------------

    def _index(self, base: str, **_: Any) -> tuple[int, Any]:
        def link(href: str, title: str) -> Json:
            return {"href": base + href, "title": title, "templated": "{" in href}

        return 200, {
            "_links": {
                "self": {"href": base, "title": "Index", "templated": False},
                "pb:publish-contracts": link("/contracts/publish", "Publish contracts"),
                "pb:publish-pact": link(
                    "/pacts/provider/{provider}/consumer/{consumer}/version/{consumerApplicationVersion}", "Publish a pact"
                ),
                "pb:latest-provider-pacts": link("/pacts/provider/{provider}/latest", "Latest pacts by provider"),
                "pb:provider-pacts-for-verification": link(
                    "/pacts/provider/{provider}/for-verification", "Pact versions to be verified for the specified provider"
                ),
                "pb:pacticipant": link("/pacticipants/{pacticipant}", "Fetch pacticipant by name"),
                "pb:pacticipant-version": link(
                    "/pacticipants/{pacticipant}/versions/{version}", "Get, create or delete a pacticipant version"
                ),
                "pb:pacticipant-version-tag": link(
                    "/pacticipants/{pacticipant}/versions/{version}/tags/{tag}", "Get, create or delete a tag for a pacticipant version"
                ),
                "pb:environments": link("/environments", "Environments"),
                "pb:can-i-deploy-pacticipant-version-to-environment": link(
                    "/can-i-deploy?pacticipant={pacticipant}&version={version}&environment={environment}",
                    "Determine if an application version can be safely deployed to an environment",
                ),
                "pb:can-i-deploy-pacticipant-version-to-tag": link(
                    "/can-i-deploy?pacticipant={pacticipant}&version={version}&to={tag}",
                    "Determine if an application version can be safely deployed to an environment identified by the given tag",
                ),
                "curies": [{"name": "pb", "href": base + "/doc/{rel}?context=index", "templated": True}],
            }
        }

    # -- publishing ---------------------------------------------------------------------------------------

    def _version_of(self, pacticipant: str, number: str, branch: str | None = None) -> _Version:
        self._pacticipants.add(pacticipant)
        version = self._versions.get((pacticipant, number))
        if version is None:
            version = self._versions[(pacticipant, number)] = _Version(pacticipant, number, next(self._order))
        if branch:
            version.branch = branch
            if self._auto_main and pacticipant not in self._main_branch and branch in MAIN_BRANCH_CANDIDATES:
                self._main_branch[pacticipant] = branch
        return version

    def _store(self, document: Json, version: _Version) -> _Publication:
        consumer, provider = document["consumer"]["name"], document["provider"]["name"]
        self._pacticipants.add(provider)
        sha = content_sha(document)
        self._contents.setdefault(sha, {name: value for name, value in document.items() if name not in ("_links", "createdAt")})
        publication = _Publication(consumer, provider, version, sha, next(self._order), datetime.now(UTC))
        self._publications.append(publication)
        return publication

    def _publish_contracts(self, base: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        name, number = str(body.get("pacticipantName") or ""), str(body.get("pacticipantVersionNumber") or "")
        errors = {key: ["can't be blank"] for key, value in (("pacticipantName", name), ("pacticipantVersionNumber", number)) if not value}
        contracts: list[Json] = body.get("contracts") or []
        if not isinstance(contracts, list) or not contracts:
            errors["contracts"] = ["must be a non-empty list"]
        if errors:
            raise _Reject(400, {"errors": errors})
        documents: list[Json] = []
        for index, contract in enumerate(contracts):
            where = f"contracts[{index}]"
            if contract.get("specification") != "pact" or contract.get("contentType") != "application/json":
                raise _bad("only specification 'pact' with contentType 'application/json' is supported", where)
            try:
                document = json.loads(base64.b64decode(contract.get("content") or "", validate=True))
            except (binascii.Error, ValueError):
                raise _bad("content must be a Base64 encoded JSON pact", where) from None
            if not is_pact(document):
                raise _bad("content is not a pact (no consumer and provider names)", where)
            if document["consumer"]["name"] != name or contract.get("consumerName") != name:
                raise _bad(f"consumerName and the pact's consumer name must match the pacticipant name ({name})", where)
            if contract.get("providerName") != document["provider"]["name"]:
                raise _bad("providerName must match the pact's provider name", where)
            documents.append(document)
        version = self._version_of(name, number, body.get("branch"))
        for tag in body.get("tags") or []:
            if tag not in version.tags:
                version.tags.append(tag)
        notices = [
            {
                "level": "debug",
                "message": (
                    f"Created {name} version {number}"
                    + (f" with branch {version.branch}" if version.branch else "")
                    + (f" and tags {', '.join(version.tags)}" if version.tags else "")
                ),
            }
        ]
        links = []
        for document in documents:
            publication = self._store(document, version)
            notices.append({"level": "info", "message": f"Pact published for {name} version {number} and provider {publication.provider}."})
            links.append(
                {
                    "title": "Pact",
                    "name": f"Pact between {name} ({number}) and {publication.provider}",
                    "href": self._pact_url(base, publication.provider, name) + f"/version/{quote(number, safe='')}",
                }
            )
        return 200, {
            "notices": notices,
            "_embedded": {"pacticipant": {"name": name}, "version": {"number": number, "branch": version.branch}},
            "_links": {"pb:pacticipant-version": {"href": self._version_url(base, version)}, "pb:contracts": links},
        }

    def _publish_pact(self, base: str, provider: str, consumer: str, number: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        if not is_pact(body) or body["consumer"]["name"] != consumer or body["provider"]["name"] != provider:
            raise _bad("the body must be a pact whose consumer and provider names match the URL")
        publication = self._store(body, self._version_of(consumer, number))
        return 201, self._pact_body(base, publication)

    # -- reading pacts ------------------------------------------------------------------------------------

    def _pact_url(self, base: str, provider: str, consumer: str) -> str:
        return f"{base}/pacts/provider/{quote(provider, safe='')}/consumer/{quote(consumer, safe='')}"

    def _version_url(self, base: str, version: _Version) -> str:
        return f"{base}/pacticipants/{quote(version.pacticipant, safe='')}/versions/{quote(version.number, safe='')}"

    def _pact_body(self, base: str, publication: _Publication) -> Json:
        pact_url = self._pact_url(base, publication.provider, publication.consumer)
        return {
            **self._contents[publication.sha],
            "createdAt": publication.created.isoformat(),
            "_links": {
                "self": {
                    "href": f"{pact_url}/pact-version/{publication.sha}",
                    "title": "Pact",
                    "name": f"Pact between {publication.consumer} ({publication.version.number}) and {publication.provider}",
                },
                "pb:consumer-version": {"name": publication.version.number, "href": self._version_url(base, publication.version)},
                "pb:publish-verification-results": {
                    "title": "Publish verification results",
                    "href": f"{pact_url}/pact-version/{publication.sha}/verification-results",
                },
            },
        }

    def _latest_publication(self, provider: str, consumer: str, sha: str | None = None, number: str | None = None) -> _Publication:
        found = [
            p
            for p in self._publications
            if p.provider == provider and p.consumer == consumer and sha in (None, p.sha) and number in (None, p.version.number)
        ]
        if not found:
            raise _Reject(404, {"error": "The requested document was not found on this server."})
        return max(found, key=lambda p: p.order)

    def _pact_of_version(self, base: str, provider: str, consumer: str, number: str, **_: Any) -> tuple[int, Any]:
        return 200, self._pact_body(base, self._latest_publication(provider, consumer, number=number))

    def _pact_of_sha(self, base: str, provider: str, consumer: str, sha: str, **_: Any) -> tuple[int, Any]:
        return 200, self._pact_body(base, self._latest_publication(provider, consumer, sha=sha))

    def _latest_pact(self, base: str, provider: str, consumer: str, **_: Any) -> tuple[int, Any]:
        return 200, self._pact_body(base, self._latest_publication(provider, consumer))

    # -- pacts for verification ------------------------------------------------------------------------

    def _heads(self, publications: Iterable[_Publication], key: Callable[[_Publication], object]) -> list[_Publication]:
        latest: dict[object, _Publication] = {}
        for publication in sorted(publications, key=lambda p: p.version.order * 1_000_000 + p.order):
            latest[key(publication)] = publication
        return list(latest.values())

    def _current(self, kinds: tuple[str, ...], environment: str | None) -> set[tuple[str, str]]:
        """(pacticipant, version) pairs currently deployed or supported, in `environment` if named."""
        wanted = None if environment is None else {e.uuid for e in self._environments.values() if e.name == environment}
        return {
            (p.version.pacticipant, p.version.number)
            for p in self._placements
            if p.current and p.kind in kinds and (wanted is None or p.environment in wanted)
        }

    def _select(self, provider: str, selector: Json, provider_branch: str | None) -> list[_Publication]:
        pool = [p for p in self._publications if p.provider == provider and selector.get("consumer") in (None, p.consumer)]
        by_consumer: Callable[[_Publication], object] = lambda p: p.consumer  # noqa: E731
        if selector.get("mainBranch"):
            return self._heads((p for p in pool if p.version.branch and p.version.branch == self._main_branch.get(p.consumer)), by_consumer)
        branch = provider_branch if selector.get("matchingBranch") else selector.get("branch")
        if branch is not None:
            chosen = [p for p in pool if p.version.branch == branch]
            if selector.get("fallbackBranch"):  # per consumer: those without a pact on `branch`
                found = {p.consumer for p in chosen}
                chosen += [p for p in pool if p.consumer not in found and p.version.branch == selector["fallbackBranch"]]
            return chosen if selector.get("latest") is False else self._heads(chosen, by_consumer)
        if selector.get("tag"):
            chosen = [p for p in pool if selector["tag"] in p.version.tags]
            if selector.get("fallbackTag"):
                found = {p.consumer for p in chosen}
                chosen += [p for p in pool if p.consumer not in found and selector["fallbackTag"] in p.version.tags]
            return (
                self._heads(chosen, by_consumer)
                if selector.get("latest")
                else self._heads(chosen, lambda p: (p.consumer, p.version.number))
            )
        kinds = (
            ("deployed",)
            if selector.get("deployed")
            else ("released",)
            if selector.get("released")
            else ("deployed", "released")
            if selector.get("deployedOrReleased") or selector.get("environment")
            else ()
        )
        if kinds:
            current = self._current(kinds, selector.get("environment"))
            return self._heads((p for p in pool if (p.consumer, p.version.number) in current), lambda p: (p.consumer, p.version.number))
        return self._heads(pool, by_consumer)  # {"latest": true}, or a selector naming only a consumer

    def _describe(self, selector: Json, provider_branch: str | None) -> str:
        who = f"of {selector['consumer']}" if selector.get("consumer") else "for each consumer"
        if selector.get("mainBranch"):
            return f"latest version {who} from the consumer's main branch"
        if selector.get("matchingBranch"):
            return f"latest version {who} from a branch matching the provider's branch '{provider_branch}'"
        if selector.get("branch"):
            return f"latest version {who} from branch '{selector['branch']}'"
        if selector.get("tag"):
            return f"{'latest ' if selector.get('latest') else ''}version(s) {who} tagged '{selector['tag']}'"
        where = f" in {selector['environment']}" if selector.get("environment") else ""
        if selector.get("deployed"):
            return f"version(s) {who} currently deployed{where}"
        if selector.get("released"):
            return f"version(s) {who} released and supported{where}"
        if selector.get("deployedOrReleased") or selector.get("environment"):
            return f"version(s) {who} currently deployed or released and supported{where}"
        return f"latest version {who}"

    def _verified(self, provider: str, sha: str, branch: str | None) -> bool:
        return any(
            v.provider == provider and v.sha == sha and v.success and (branch is None or v.version.branch == branch)
            for v in self._verifications
        )

    def _for_verification(self, base: str, provider: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        selectors = body.get("consumerVersionSelectors") or [{"latest": True}]
        for index, selector in enumerate(selectors):
            unknown = sorted(set(selector) - SELECTOR_KEYS) if isinstance(selector, dict) else ["(not an object)"]
            if unknown:
                raise _bad(
                    f"unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(SELECTOR_KEYS))}", f"consumerVersionSelectors[{index}]"
                )
            for flag in ("mainBranch", "deployed", "released", "deployedOrReleased", "matchingBranch"):
                if flag in selector and selector[flag] is not True:
                    raise _bad(f"{flag} can only be set to true", f"consumerVersionSelectors[{index}]")
        branch = body.get("providerVersionBranch")
        if any(selector.get("matchingBranch") for selector in selectors) and not branch:
            raise _bad("the matchingBranch selector needs the providerVersionBranch", "consumerVersionSelectors")
        include_pending = body.get("includePendingStatus") is True
        since = body.get("includeWipPactsSince")
        if since is not None:
            try:
                since_day = date.fromisoformat(str(since)[:10])
            except ValueError:
                raise _bad(f"includeWipPactsSince must be a date (YYYY-MM-DD), got {since!r}", "includeWipPactsSince") from None
        chosen: dict[str, tuple[_Publication, list[str]]] = {}
        for selector in selectors:
            for publication in self._select(provider, selector, branch):
                previous = chosen.get(publication.sha)
                latest = publication if previous is None or publication.order > previous[0].order else previous[0]
                reasons = [*(previous[1] if previous else []), f"{self._describe(selector, branch)} ({publication.version.number})"]
                chosen[publication.sha] = (latest, reasons)
        wip: list[_Publication] = []
        if since is not None and branch:
            heads = self._heads(
                (p for p in self._publications if p.provider == provider and p.version.branch), lambda p: (p.consumer, p.version.branch)
            )
            wip = [
                p for p in heads if p.sha not in chosen and p.created.date() >= since_day and not self._verified(provider, p.sha, branch)
            ]
        pacts = [
            self._verifiable(base, publication, reasons, branch, include_pending, wip=False) for publication, reasons in chosen.values()
        ]
        pacts += [
            self._verifiable(base, publication, [], branch, include_pending, wip=True) for publication in self._heads(wip, lambda p: p.sha)
        ]
        return 200, {
            "_embedded": {"pacts": pacts},
            "_links": {
                "self": {"href": f"{base}/pacts/provider/{quote(provider, safe='')}/for-verification", "title": "Pacts to be verified"}
            },
        }

    def _verifiable(
        self, base: str, publication: _Publication, reasons: list[str], branch: str | None, include_pending: bool, *, wip: bool
    ) -> Json:
        url = f"{self._pact_url(base, publication.provider, publication.consumer)}/pact-version/{publication.sha}"
        pending = wip or not self._verified(publication.provider, publication.sha, branch)
        whose = f"a version of {publication.provider} from branch '{branch}'" if branch else publication.provider
        provider, consumer = publication.provider, publication.consumer
        if wip:
            why = (
                f"The pact at {url} is being verified because it is a 'work in progress' pact (ie. it is the pact for the latest "
                f"version of {consumer} from branch '{publication.version.branch}' and is still in pending state). "
                + READ_MORE_WIP
            )
        else:
            listed = "\n".join(f"    * {reason}" for reason in reasons)
            why = f"The pact at {url} is being verified because the pact content belongs to the consumer version(s) matching:\n{listed}"
        notices = [{"when": "before_verification", "text": why}]
        properties: Json = {"notices": notices}
        if wip:
            properties["wip"] = True
        if include_pending:
            properties["pending"] = pending
            if pending:
                text = (
                    f"This pact is in pending state for this version of {provider} because a successful verification result for "
                    f"{whose} has not yet been published. If this verification fails, it will not cause the overall build to fail. "
                )
            else:
                text = (
                    f"This pact has previously been successfully verified by {whose}. "
                    "If this verification fails, it will fail the build. "
                )
            notices.append({"when": "before_verification", "text": text + READ_MORE_PENDING})
        return {
            "shortDescription": "work in progress" if wip else "; ".join(reasons),
            "verificationProperties": properties,
            "_links": {
                "self": {
                    "href": url,
                    "name": f"Pact between {publication.consumer} ({publication.version.number}) and {publication.provider}",
                }
            },
        }

    # -- verification results ------------------------------------------------------------------------

    def _verify(self, base: str, provider: str, consumer: str, sha: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        self._latest_publication(provider, consumer, sha=sha)
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        errors = {}
        if not isinstance(body.get("success"), bool):
            errors["success"] = ["must be true or false"]
        if not body.get("providerApplicationVersion"):
            errors["providerApplicationVersion"] = ["can't be blank"]
        if errors:
            raise _Reject(400, {"errors": errors})
        version = self._version_of(provider, str(body["providerApplicationVersion"]), body.get("providerVersionBranch"))
        self._verifications.append(_Verification(provider, sha, version, body["success"], next(self._order), body))
        url = f"{self._pact_url(base, provider, consumer)}/pact-version/{sha}/verification-results/{len(self._verifications)}"
        return 201, {**body, "_links": {"self": {"href": url, "title": "Verification result"}}}

    # -- pacticipants, versions, environments ---------------------------------------------------------

    def _known(self, pacticipant: str) -> None:
        if pacticipant not in self._pacticipants:
            raise _Reject(404, {"error": f"No pacticipant with name '{pacticipant}' found"})

    def _pacticipant_body(self, base: str, name: str) -> Json:
        return {
            "name": name,
            "mainBranch": self._main_branch.get(name),
            "_links": {"self": {"href": f"{base}/pacticipants/{quote(name, safe='')}"}},
        }

    def _pacticipant(self, base: str, name: str, **_: Any) -> tuple[int, Any]:
        self._known(name)
        return 200, self._pacticipant_body(base, name)

    def _update_pacticipant(self, base: str, name: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        created = name not in self._pacticipants
        self._pacticipants.add(name)
        if isinstance(body, dict) and body.get("mainBranch"):
            self._main_branch[name] = str(body["mainBranch"])
        return (201 if created else 200), self._pacticipant_body(base, name)

    def _existing_version(self, pacticipant: str, number: str) -> _Version:
        version = self._versions.get((pacticipant, number))
        if version is None:
            raise _Reject(404, {"error": f"No version '{number}' of pacticipant '{pacticipant}' found"})
        return version

    def _version(self, base: str, pacticipant: str, number: str, **_: Any) -> tuple[int, Any]:
        version = self._existing_version(pacticipant, number)
        url = self._version_url(base, version)
        environments = sorted(self._environments.values(), key=lambda e: e.name)
        return 200, {
            "number": number,
            "branch": version.branch,
            "tags": [{"name": t} for t in version.tags],
            "_links": {
                "self": {"href": url},
                "pb:record-deployment": [
                    {
                        "title": f"Record deployment to {e.display_name}",
                        "name": e.name,
                        "href": f"{url}/deployed-versions/environment/{e.uuid}",
                    }
                    for e in environments
                ],
                "pb:record-release": [
                    {
                        "title": f"Record release to {e.display_name}",
                        "name": e.name,
                        "href": f"{url}/released-versions/environment/{e.uuid}",
                    }
                    for e in environments
                ],
            },
        }

    def _tag(self, base: str, pacticipant: str, number: str, tag: str, **_: Any) -> tuple[int, Any]:
        version = self._version_of(pacticipant, number)
        created = tag not in version.tags
        if created:
            version.tags.append(tag)
        return (201 if created else 200), {
            "name": tag,
            "_links": {"self": {"href": f"{self._version_url(base, version)}/tags/{quote(tag, safe='')}"}},
        }

    def _environment_body(self, base: str, environment: _Environment) -> Json:
        return {
            "uuid": environment.uuid,
            "name": environment.name,
            "displayName": environment.display_name,
            "production": environment.production,
            "_links": {"self": {"href": f"{base}/environments/{environment.uuid}"}},
        }

    def _list_environments(self, base: str, **_: Any) -> tuple[int, Any]:
        environments = sorted(self._environments.values(), key=lambda e: e.name)
        return 200, {
            "_embedded": {"environments": [self._environment_body(base, e) for e in environments]},
            "_links": {
                "self": {"href": f"{base}/environments"},
                "pb:environments": [
                    {"title": e.display_name, "name": e.name, "href": f"{base}/environments/{e.uuid}"} for e in environments
                ],
            },
        }

    def _create_environment(self, base: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        name = body.get("name") if isinstance(body, dict) else None
        if not name:
            raise _Reject(400, {"errors": {"name": ["can't be blank"]}})
        if any(e.name == name for e in self._environments.values()):
            raise _Reject(400, {"errors": {"name": [f"Another environment with name '{name}' already exists."]}})
        environment = _Environment(str(uuid.uuid4()), name, body.get("displayName") or name.title(), bool(body.get("production")))
        self._environments[environment.uuid] = environment
        return 201, self._environment_body(base, environment)

    def _place(self, kind: str, pacticipant: str, number: str, environment_id: str, body: Any) -> tuple[int, Any]:
        version = self._existing_version(pacticipant, number)
        environment = self._environments.get(environment_id)
        if environment is None:
            raise _Reject(404, {"error": f"No environment with uuid '{environment_id}' found"})
        instance = body.get("applicationInstance") if isinstance(body, dict) else None
        if kind == "deployed":
            for placement in self._placements:
                if (placement.kind, placement.environment, placement.version.pacticipant, placement.instance) == (
                    kind,
                    environment_id,
                    pacticipant,
                    instance,
                ):
                    placement.current = False
        self._placements.append(_Placement(version, environment_id, kind, instance=instance))
        state = "currentlyDeployed" if kind == "deployed" else "currentlySupported"
        return 201, {
            state: True,
            "applicationInstance": instance,
            "_embedded": {
                "version": {"number": number},
                "environment": {"uuid": environment_id, "name": environment.name},
            },
        }

    def _deploy(self, base: str, pacticipant: str, number: str, environment_id: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        return self._place("deployed", pacticipant, number, environment_id, body)

    def _release(self, base: str, pacticipant: str, number: str, environment_id: str, *, body: Any, **_: Any) -> tuple[int, Any]:
        return self._place("released", pacticipant, number, environment_id, body)

    # -- can-i-deploy and the matrix -------------------------------------------------------------------

    def _can_i_deploy(self, base: str, *, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        missing = [name for name in ("pacticipant", "version") if not params.get(name)]
        if missing or not (params.get("environment") or params.get("to")):
            raise _bad("pacticipant, version and one of environment or to are required", "query")
        return 200, self._deployability(base, params["pacticipant"], params["version"], params.get("environment"), params.get("to"), None)

    def _matrix(self, base: str, *, query: str, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        selectors: list[dict[str, str]] = []
        for key, value in parse_qsl(query):
            if key.startswith("q[]["):
                field_name = key[4:-1]
                if not selectors or field_name in selectors[-1]:
                    selectors.append({})
                selectors[-1][field_name] = value
        if not selectors or not all(s.get("pacticipant") and s.get("version") for s in selectors) or len(selectors) > 2:
            raise _bad("this fake answers a matrix query of one pacticipant version (with environment= or tag=) or of two", "q")
        if len(selectors) == 1 and not (params.get("environment") or params.get("tag")):
            raise _bad("a matrix query of one pacticipant version needs environment= or tag= (and latestby=cvp)", "q")
        first = selectors[0]
        other = (selectors[1]["pacticipant"], selectors[1]["version"]) if len(selectors) == 2 else None
        return 200, self._deployability(base, first["pacticipant"], first["version"], params.get("environment"), params.get("tag"), other)

    def _counterparts(self, pacticipant: str, environment: str | None, tag: str | None, other: tuple[str, str] | None) -> list[_Version]:
        if other is not None:
            return [self._versions[other]] if other[0] == pacticipant and other in self._versions else []
        if environment is not None:
            current = self._current(("deployed", "released"), environment)
            return sorted((self._versions[key] for key in current if key[0] == pacticipant), key=lambda v: v.order)
        tagged = [v for v in self._versions.values() if v.pacticipant == pacticipant and tag in v.tags]
        return [max(tagged, key=lambda v: v.order)] if tagged else []

    def _deployability(
        self, base: str, pacticipant: str, number: str, environment: str | None, tag: str | None, other: tuple[str, str] | None
    ) -> Json:
        if pacticipant not in self._pacticipants:
            raise _bad(f"Pacticipant '{pacticipant}' not found", "pacticipant")
        target = f"currently in {environment}" if environment else f"the latest version with tag {tag}" if tag else "the selected version"
        if environment and not any(e.name == environment for e in self._environments.values()):
            raise _bad(f"Environment with name '{environment}' does not exist", "environment")
        version = self._versions.get((pacticipant, number))
        rows: list[Json] = []
        reasons: list[str] = []
        counts = {"success": 0, "failed": 0, "unknown": 0}

        def judge(publication: _Publication, provider_version: _Version | None, consumer_side: str, provider_side: str) -> None:
            results = (
                []
                if provider_version is None
                else [
                    v
                    for v in self._verifications
                    if v.sha == publication.sha and v.version is provider_version and v.provider == publication.provider
                ]
            )
            latest = max(results, key=lambda v: v.order) if results else None
            row = {
                "consumer": {
                    "name": publication.consumer,
                    "version": {"number": publication.version.number, "branch": publication.version.branch},
                },
                "provider": {
                    "name": publication.provider,
                    "version": None if provider_version is None else {"number": provider_version.number, "branch": provider_version.branch},
                },
                "pact": {
                    "createdAt": publication.created.isoformat(),
                    "_links": {
                        "self": {
                            "href": f"{self._pact_url(base, publication.provider, publication.consumer)}/pact-version/{publication.sha}"
                        }
                    },
                },
                "verificationResult": None if latest is None else {"success": latest.success},
            }
            rows.append(row)
            between = f"{consumer_side} and {provider_side}"
            if latest is None:
                counts["unknown"] += 1
                reasons.append(f"There is no verified pact between {between}")
            elif latest.success:
                counts["success"] += 1
            else:
                counts["failed"] += 1
                reasons.append(f"The verification for the pact between {between} failed")

        if version is None:
            counts["unknown"] += 1
            reasons.append(f"There is no version {number} of {pacticipant} (no such version exists)")
        else:
            mine = self._heads((p for p in self._publications if p.consumer == pacticipant and p.version is version), lambda p: p.provider)
            for publication in sorted(mine, key=lambda p: p.provider):
                providers = self._counterparts(publication.provider, environment, tag, other)
                consumer_side = f"version {number} of {pacticipant}"
                if not providers:
                    rows.append(
                        {
                            "consumer": {"name": pacticipant, "version": {"number": number}},
                            "provider": {"name": publication.provider, "version": None},
                            "verificationResult": None,
                        }
                    )
                    counts["unknown"] += 1
                    reasons.append(
                        f"There is no verified pact between {consumer_side} and a version of {publication.provider} {target} "
                        "(no version is currently recorded as deployed/released in this environment)"
                        if environment
                        else f"There is no verified pact between {consumer_side} and {target} of {publication.provider} "
                        "(no such version exists)"
                    )
                for provider_version in providers:
                    judge(
                        publication,
                        provider_version,
                        consumer_side,
                        f"the version of {publication.provider} {target} ({provider_version.number})",
                    )
            consumers = {p.consumer for p in self._publications if p.provider == pacticipant}
            for consumer in sorted(consumers):
                for consumer_version in self._counterparts(consumer, environment, tag, other):
                    theirs = self._heads(
                        (
                            p
                            for p in self._publications
                            if p.consumer == consumer and p.provider == pacticipant and p.version is consumer_version
                        ),
                        lambda p: p.provider,
                    )
                    for publication in theirs:
                        judge(
                            publication,
                            version,
                            f"the version of {consumer} {target} ({consumer_version.number})",
                            f"version {number} of {pacticipant}",
                        )
        deployable: bool | None = False if counts["failed"] else None if counts["unknown"] else True
        if deployable:
            reasons = ["All required verification results are published and successful"] if rows else ["There are no missing dependencies"]
        notices = [{"type": "success" if deployable else "error", "text": reason} for reason in reasons]
        return {"summary": {"deployable": deployable, "reason": "\n".join(reasons), **counts}, "notices": notices, "matrix": rows}


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body).encode(), list(HAL))
