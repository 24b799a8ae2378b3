"""The Pact Broker client (this module owns every request pytest-ipc makes to a broker).

It follows the broker's HAL links from its index (`GET /`) instead of hard-coding paths, so a
broker behind a path prefix or a PactFlow account works alike: `pb:publish-contracts` to publish
pacts with a version, branch and tags; `pb:provider-pacts-for-verification` to fetch the pacts a
provider must verify (consumer version selectors, pending status, WIP pacts); each pact's
`pb:publish-verification-results`; `pb:can-i-deploy-pacticipant-version-to-environment`; and the
version's `pb:record-deployment`/`pb:record-release` links. Credentials (a bearer token, or a user
and password) go in the Authorization header and never into a message.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.contracts.errors import PactBrokerError
from pytest_ipc.contracts.pactfile import Document, is_pact, pair_of

DEFAULT_TIMEOUT = 10.0
DEFAULT_SELECTORS: tuple[dict[str, Any], ...] = ({"mainBranch": True}, {"deployedOrReleased": True})
SELECTOR_KEYS = (
    "branch", "consumer", "deployed", "deployedOrReleased", "environment", "fallbackBranch", "fallbackTag", "latest",
    "mainBranch", "matchingBranch", "released", "tag",
)
TRUE_ONLY = ("deployed", "deployedOrReleased", "mainBranch", "matchingBranch", "released")
ENV_URL, ENV_TOKEN, ENV_USERNAME, ENV_PASSWORD = (
    "PYTEST_IPC_PACT_BROKER_URL", "PYTEST_IPC_PACT_BROKER_TOKEN", "PYTEST_IPC_PACT_BROKER_USERNAME", "PYTEST_IPC_PACT_BROKER_PASSWORD",
)
CREDENTIALS_HINT = (
    f"set {ENV_TOKEN} (a bearer token) or {ENV_USERNAME} and {ENV_PASSWORD} (basic auth), or the matching "
    "--ipc-pact-broker-* options"
)
TEMPLATE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class VerifiablePact:
    """One pact the broker asks a provider to verify, with what the broker says about it."""

    url: str
    document: Document
    pending: bool = False
    wip: bool = False
    notices: tuple[str, ...] = ()
    publish_results_url: str | None = None
    consumer_version: str = ""

    @property
    def pair(self) -> tuple[str, str]:
        return pair_of(self.document)


@dataclass(frozen=True)
class Deployability:
    """The broker's can-i-deploy answer: `deployable` is True, False (a verification failed) or None
    (a verification is missing); `reason` is the broker's explanation; true only when deployable."""

    pacticipant: str
    version: str
    environment: str | None
    deployable: bool | None
    reason: str
    matrix: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.deployable is True


def validate_selectors(selectors: object, source: str = "consumer version selectors") -> list[dict[str, Any]]:
    """`selectors` as a list of selector objects; a usage error naming the bad key and the valid ones."""
    if isinstance(selectors, Mapping) or not isinstance(selectors, Sequence) or isinstance(selectors, str):
        raise IpcUsageError(f"{source}: expected a list of selector objects like [{{\"mainBranch\": true}}], got {selectors!r}")
    checked: list[dict[str, Any]] = []
    for selector in selectors:
        if not isinstance(selector, Mapping) or not selector:
            raise IpcUsageError(f"{source}: each selector is a non-empty object like {{\"mainBranch\": true}}, got {selector!r}")
        unknown = sorted(set(selector) - set(SELECTOR_KEYS))
        if unknown:
            raise IpcUsageError(f"{source}: unknown selector key(s) {', '.join(unknown)}; valid keys: {', '.join(SELECTOR_KEYS)}")
        for key in TRUE_ONLY:
            if key in selector and selector[key] is not True:
                raise IpcUsageError(f"{source}: {key} can only be true, got {selector[key]!r}")
        checked.append(dict(selector))
    return checked


class PactBroker:
    """A client of one Pact Broker (or PactFlow): `with PactBroker(url, token=...) as broker:`.

    Give a bearer `token`, or `username` and `password` (basic auth); credentials in the URL
    (`https://user:pass@broker`) are taken as basic auth and left out of every message.
    `timeout` is in seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise IpcUsageError(f"the Pact Broker URL must be an http:// or https:// URL, got {_shown(url)!r}")
        if parts.username is not None and username is None:
            username, password = parts.username, parts.password or ""
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        headers = {"Accept": "application/hal+json, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            self._credentials = "the bearer token"
        elif username is not None:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
            self._credentials = f"the basic-auth user {username!r}"
        else:
            self._credentials = ""
        # Plain http needs no TLS context (loading the CA bundle costs a few hundred ms) and so
        # follows no redirects, which could lead to https; an https broker gets both.
        secure = parts.scheme == "https"
        self._client = httpx.Client(headers=headers, timeout=timeout, follow_redirects=secure, verify=secure)
        self._index: dict[str, Any] | None = None

    @classmethod
    def from_environment(cls, url: str | None = None, **overrides: Any) -> PactBroker:
        """A client for `url` (else `PYTEST_IPC_PACT_BROKER_URL`), with credentials from the
        arguments, else `PYTEST_IPC_PACT_BROKER_TOKEN` or `..._USERNAME`/`..._PASSWORD`."""
        url = url or os.environ.get(ENV_URL)
        if not url:
            raise IpcUsageError(f"no Pact Broker URL: pass broker_url= or set {ENV_URL}")
        for name, variable in (("token", ENV_TOKEN), ("username", ENV_USERNAME), ("password", ENV_PASSWORD)):
            if overrides.get(name) is None:
                overrides[name] = os.environ.get(variable) or None
        return cls(url, **overrides)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PactBroker {self.url}>"

    # -- HAL ------------------------------------------------------------------------------------------

    def link(self, relation: str, purpose: str, **values: str) -> str:
        """The href of `relation` in the broker's index, its {placeholders} filled in."""
        if self._index is None:
            self._index = self._request("GET", self.url + "/", expected="the broker's index (its HAL links)")
        found = self._index.get("_links", {}).get(relation)
        if not isinstance(found, dict) or "href" not in found:
            raise PactBrokerError(
                f"the Pact Broker at {self.url} has no {relation!r} relation in its index, which {purpose} needs. "
                "Expected a Pact Broker 2.86 or later (or PactFlow); upgrade the broker, or check that the URL is the broker's root."
            )
        return TEMPLATE.sub(lambda match: quote(values[match.group(1)], safe=""), str(found["href"]))

    def _request(self, method: str, url: str, *, expected: str, body: object = None, not_found: str = "") -> dict[str, Any]:
        shown = url.removeprefix(self.url) or "/"
        try:
            response = self._client.request(method, url, json=body)
        except httpx.HTTPError as error:
            raise PactBrokerError(
                f"cannot reach the Pact Broker at {self.url} ({method} {shown}: {type(error).__name__}: {_shown(str(error))}). "
                "Expected a broker answering there; check the URL (--ipc-pact-broker-url / "
                f"{ENV_URL}) and that the broker is running and reachable from here."
            ) from None
        status = response.status_code
        if status == 401:
            sent = f"{self._credentials} was not accepted" if self._credentials else "no credentials were sent"
            raise PactBrokerError(
                f"the Pact Broker at {self.url} answered 401 Unauthorized to {method} {shown}: {sent}. "
                f"Expected credentials the broker accepts; {CREDENTIALS_HINT}.", status=status,
            )
        if status == 403:
            raise PactBrokerError(
                f"the Pact Broker at {self.url} answered 403 Forbidden to {method} {shown}: {self._credentials or 'an anonymous client'} "
                f"may not do this ({expected}). Use credentials with the needed permission (publishing needs a read-write token, "
                "not a read-only one).", status=status,
            )
        if status == 404:
            raise PactBrokerError(
                f"the Pact Broker at {self.url} answered 404 Not Found to {method} {shown}: expected {expected}. "
                f"{not_found or 'Check the names and versions, and that the URL is the broker root.'}", status=status,
            )
        if 300 <= status < 400:
            raise PactBrokerError(
                f"the Pact Broker at {self.url} redirects {method} {shown} to {response.headers.get('location')!r}: "
                "use the broker URL it redirects to (an https:// URL is followed through redirects)", status=status,
            )
        if status >= 400:
            raise PactBrokerError(
                f"the Pact Broker at {self.url} answered {status} to {method} {shown} (expected {expected}): {response.text[:500]}",
                status=status,
            )
        try:
            document = response.json() if response.content else {}
        except ValueError:
            raise PactBrokerError(
                f"the Pact Broker at {self.url} answered {method} {shown} with something other than JSON "
                f"(expected {expected}): {response.text[:200]!r}. Check that the URL is the broker's root."
            ) from None
        return document if isinstance(document, dict) else {"value": document}

    # -- consumers ------------------------------------------------------------------------------------

    def publish(
        self,
        pacts: Iterable[Path | Document],
        *,
        consumer_version: str,
        branch: str | None = None,
        tags: Sequence[str] = (),
        build_url: str | None = None,
    ) -> list[str]:
        """Publish `pacts` (files or documents) of one consumer as `consumer_version` on `branch` with
        `tags`, in one `POST` to `pb:publish-contracts`; returns the broker's notices."""
        documents = [_document(pact) for pact in pacts]
        if not documents:
            raise IpcUsageError("no pacts to publish: expected at least one pact file")
        if not consumer_version:
            raise IpcUsageError("publishing pacts needs a consumer version (the git SHA is a good one)")
        consumers = sorted({pair_of(document)[0] for document in documents})
        notices: list[str] = []
        for consumer in consumers:
            body: dict[str, Any] = {
                "pacticipantName": consumer,
                "pacticipantVersionNumber": consumer_version,
                "tags": list(tags),
                "contracts": [
                    {
                        "consumerName": consumer,
                        "providerName": pair_of(document)[1],
                        "specification": "pact",
                        "contentType": "application/json",
                        "content": base64.b64encode(json.dumps(document).encode()).decode(),
                    }
                    for document in documents if pair_of(document)[0] == consumer
                ],
            }
            if branch:
                body["branch"] = branch
            if build_url:
                body["buildUrl"] = build_url
            answer = self._request(
                "POST", self.link("pb:publish-contracts", "publishing pacts"), body=body,
                expected=f"to accept the pacts of {consumer} version {consumer_version}",
            )
            notices += [str(notice.get("text") or notice.get("message")) for notice in answer.get("notices", [])]
        return notices

    # -- providers ------------------------------------------------------------------------------------

    def pacts_for_verification(
        self,
        provider: str,
        *,
        selectors: Sequence[Mapping[str, Any]] = DEFAULT_SELECTORS,
        provider_branch: str | None = None,
        include_wip_since: str | None = None,
    ) -> list[VerifiablePact]:
        """The pacts `provider` must verify, chosen by consumer version `selectors` (default: each
        consumer's main branch and its deployed or released versions), each with its pending status;
        `include_wip_since` (a date, YYYY-MM-DD) adds work-in-progress pacts (needs `provider_branch`)."""
        body: dict[str, Any] = {
            "consumerVersionSelectors": validate_selectors(selectors),
            "includePendingStatus": True,
        }
        if provider_branch:
            body["providerVersionBranch"] = provider_branch
        if include_wip_since:
            if not provider_branch:
                raise IpcUsageError(
                    "work-in-progress pacts need the provider's branch: the broker tells WIP pacts apart per provider "
                    "branch. Set the provider branch (--ipc-pact-branch / PYTEST_IPC_PACT_BRANCH) too."
                )
            body["includeWipPactsSince"] = include_wip_since
        url = self.link("pb:provider-pacts-for-verification", "fetching pacts for verification", provider=provider)
        listing = self._request("POST", url, body=body, expected=f"the pacts for provider {provider!r} to verify")
        found: list[VerifiablePact] = []
        for entry in listing.get("_embedded", {}).get("pacts", []):
            href = entry["_links"]["self"]["href"]
            properties = entry.get("verificationProperties", {})
            document = self._request("GET", href, expected="a pact document", not_found="The pact may have been deleted since.")
            links = document.pop("_links", {})
            document.pop("createdAt", None)
            if not is_pact(document):
                raise PactBrokerError(f"the Pact Broker at {self.url} answered GET {href} with something that is not a pact")
            publish = links.get("pb:publish-verification-results", {}).get("href")
            notices = tuple(str(notice.get("text", "")) for notice in properties.get("notices", []) if notice.get("text"))
            version = str(links.get("pb:consumer-version", {}).get("name", ""))
            found.append(
                VerifiablePact(href, document, properties.get("pending") is True, properties.get("wip") is True, notices, publish, version)
            )
        return found

    def publish_verification_results(
        self,
        pact: VerifiablePact | str,
        *,
        success: bool,
        provider_version: str,
        provider_branch: str | None = None,
        test_results: Sequence[Mapping[str, Any]] = (),
        build_url: str | None = None,
    ) -> None:
        """Tell the broker that `provider_version` (on `provider_branch`) did or did not honour `pact`
        (a fetched pact, or its `pb:publish-verification-results` link)."""
        if isinstance(pact, str):
            target = pact
        elif pact.publish_results_url is not None:
            target = pact.publish_results_url
        else:
            raise PactBrokerError(
                f"the pact at {pact.url} has no 'pb:publish-verification-results' link: this broker cannot take verification results"
            )
        from pytest_ipc import __version__

        body: dict[str, Any] = {
            "success": success,
            "providerApplicationVersion": provider_version,
            "testResults": list(test_results),
            "verifiedBy": {"implementation": "pytest-ipc", "version": __version__},
        }
        if provider_branch:
            body["providerVersionBranch"] = provider_branch
        if build_url:
            body["buildUrl"] = build_url
        self._request("POST", target, body=body, expected="to accept verification results for the pact")

    # -- deployments ------------------------------------------------------------------------------------

    def can_i_deploy(self, pacticipant: str, version: str, *, to_environment: str) -> Deployability:
        """Whether `version` of `pacticipant` may go to `to_environment`, as the broker's matrix says."""
        url = self.link(
            "pb:can-i-deploy-pacticipant-version-to-environment", "can-i-deploy",
            pacticipant=pacticipant, version=version, environment=to_environment,
        )
        answer = self._request("GET", url, expected=f"whether {pacticipant} {version} can be deployed to {to_environment}")
        summary = answer.get("summary", {})
        return Deployability(
            pacticipant, version, to_environment, summary.get("deployable"), str(summary.get("reason", "")), list(answer.get("matrix", []))
        )

    def create_environment(self, name: str, *, production: bool = False) -> None:
        """Create the environment `name` (once per broker; deployments are recorded into it)."""
        self._request(
            "POST", self.link("pb:environments", "creating an environment"), body={"name": name, "production": production},
            expected=f"to create the environment {name!r}",
        )

    def record_deployment(self, pacticipant: str, version: str, environment: str) -> None:
        """Record that `version` of `pacticipant` is now deployed to `environment` (replacing the one before)."""
        self._place("pb:record-deployment", pacticipant, version, environment)

    def record_release(self, pacticipant: str, version: str, environment: str) -> None:
        """Record that `version` of `pacticipant` is released (and supported) in `environment`."""
        self._place("pb:record-release", pacticipant, version, environment)

    def _place(self, relation: str, pacticipant: str, version: str, environment: str) -> None:
        url = self.link("pb:pacticipant-version", "recording deployments", pacticipant=pacticipant, version=version)
        resource = self._request(
            "GET", url, expected=f"version {version} of {pacticipant}",
            not_found="Publish a pact or verification results for that version first.",
        )
        links = resource.get("_links", {}).get(relation, [])
        target = next((link["href"] for link in links if link.get("name") == environment), None)
        if target is None:
            known = ", ".join(sorted(str(link.get("name")) for link in links)) or "none"
            raise PactBrokerError(
                f"the Pact Broker at {self.url} has no environment {environment!r} (known: {known}); create it first (create_environment)"
            )
        self._request("POST", target, body={}, expected=f"to record {pacticipant} {version} in {environment}")


def _document(pact: Path | Document) -> Document:
    if isinstance(pact, Path):
        from pytest_ipc.contracts.pactfile import load_pact

        return load_pact(pact)
    if not is_pact(pact):
        raise IpcUsageError("not a pact: a pact document has consumer and provider names")
    return pact


def _shown(text: str) -> str:
    """`text` with any user:password@ taken out of URLs in it."""
    return re.sub(r"(https?://)[^/@\s]+@", r"\1", text)


def can_i_deploy(
    pacticipant: str,
    version: str,
    *,
    to_environment: str,
    broker_url: str | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Deployability:
    """Ask the broker whether `version` of `pacticipant` may be deployed to `to_environment`.

    The broker is `broker_url` or `PYTEST_IPC_PACT_BROKER_URL`, with the credentials given or those
    of the environment (`PYTEST_IPC_PACT_BROKER_TOKEN`, or `..._USERNAME` and `..._PASSWORD`).
    The answer is true only when the broker says deployable; its `reason` says why not.
    """
    with PactBroker.from_environment(broker_url, token=token, username=username, password=password) as broker:
        return broker.can_i_deploy(pacticipant, version, to_environment=to_environment)


def publish_pacts(
    directory: str | Path,
    *,
    consumer_version: str,
    branch: str | None = None,
    tags: Sequence[str] = (),
    build_url: str | None = None,
    broker_url: str | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> list[str]:
    """Publish every pact in `directory` (or the one pact file `directory` names) to the broker; for CI.

    Broker and credentials as for `can_i_deploy`. Returns the broker's notices.
    """
    path = Path(directory)
    if path.is_dir():
        from pytest_ipc.contracts.pactfile import scan

        files = [found for found, _ in scan(path)[0]]
    elif path.is_file():
        files = [path]
    else:
        raise IpcUsageError(f"no pact directory or file at {path}: expected the directory the consumer tests write (pacts/)")
    if not files:
        raise IpcUsageError(f"no pact files in {path}: run the consumer tests first")
    with PactBroker.from_environment(broker_url, token=token, username=username, password=password) as broker:
        return broker.publish(files, consumer_version=consumer_version, branch=branch, tags=tags, build_url=build_url)
