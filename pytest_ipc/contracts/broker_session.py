"""A pytest session's part in the Pact Broker workflow: fetch, report, publish.

Loaded only in sessions given a broker URL. Provider side: the pacts the broker selects for a
provider are fetched once per process into a private directory and become ordinary provider items;
each item names in its report's `user_properties` the broker pact and interaction it verified, so
the controlling process (also under xdist, where reports travel to it) knows every outcome and,
given a provider version, publishes one verification result per pact whose interactions all ran
(a partial run, `-k`, would report a pact verified that was not). Consumer side: a passing
session publishes the pacts it wrote, with the consumer version, branch and tags; a failing one
publishes nothing. Problems with the broker at session end fail the session and are listed in the
terminal summary, never as an internal error.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pytest_ipc._errors import IpcUsageError
from pytest_ipc.contracts.broker import DEFAULT_SELECTORS, PactBroker, VerifiablePact, validate_selectors
from pytest_ipc.contracts.errors import PactBrokerError
from pytest_ipc.contracts.pactfile import refs_of
from pytest_ipc.fixtures._settings import Spec, read, read_value

PROPERTY = "pytest-ipc-broker-pact"
EXAMPLE = '[{"mainBranch": true}, {"deployedOrReleased": true}]'


@dataclass(frozen=True)
class BrokerSettings:
    """What the session's options say about the broker (see `fixtures/contracts.py` for the options)."""

    url: str
    token: str | None
    username: str | None
    password: str | None
    consumer_version: str | None
    provider_version: str | None
    branch: str | None
    tags: tuple[str, ...]
    selectors: tuple[dict[str, Any], ...]
    wip_since: str | None

    def client(self) -> PactBroker:
        return PactBroker(self.url, token=self.token, username=self.username, password=self.password)


def read_settings(config: pytest.Config, specs: dict[str, Spec]) -> BrokerSettings | None:
    """The broker settings, None without a broker URL; a usage error quoting the bad spelling."""
    url = read_value(config, specs["url"])
    if not url:
        for name in ("consumer_version", "provider_version"):
            setting = read(config, specs[name])
            if setting is not None:
                raise pytest.UsageError(f"{setting.source} needs a Pact Broker to publish to: set {specs['url'].spellings}")
        return None
    if not url.startswith(("http://", "https://")):
        raise pytest.UsageError(f"{specs['url'].option} must be an http:// or https:// URL, got {url!r}")
    selectors: tuple[dict[str, Any], ...] = DEFAULT_SELECTORS
    setting = read(config, specs["selectors"])
    if setting is not None:
        try:
            raw = json.loads(setting.value)
        except ValueError as error:
            raise pytest.UsageError(f"{setting.source}: not JSON ({error}); example: {EXAMPLE}") from None
        try:
            selectors = tuple(validate_selectors(raw, setting.source))
        except IpcUsageError as error:
            raise pytest.UsageError(f"{error}; example: {EXAMPLE}") from None
    wip = read(config, specs["wip_since"])
    if wip is not None:
        try:
            date.fromisoformat(wip.value)
        except ValueError:
            raise pytest.UsageError(f"{wip.source}: expected a date like 2026-01-31, got {wip.value!r}") from None
    tags = read_value(config, specs["tag"]) or ""
    return BrokerSettings(
        url=url,
        token=read_value(config, specs["token"]),
        username=read_value(config, specs["username"]),
        password=read_value(config, specs["password"]),
        consumer_version=read_value(config, specs["consumer_version"]),
        provider_version=read_value(config, specs["provider_version"]),
        branch=read_value(config, specs["branch"]),
        tags=tuple(tag.strip() for tag in tags.split(",") if tag.strip()),
        selectors=selectors,
        wip_since=wip.value if wip is not None else None,
    )


@dataclass
class _PactOutcome:
    """What the session's items said about one broker pact (collected in the controlling process)."""

    publish_url: str
    name: str
    total: int
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # interaction identity -> test result


class BrokerSession:
    """The session's broker state, registered as a plugin by the contracts fixtures module."""

    def __init__(self, config: pytest.Config, settings: BrokerSettings) -> None:
        self.config = config
        self.settings = settings
        self.fetched: dict[str, list[tuple[Path, VerifiablePact]]] = {}
        self.pacts: dict[Path, VerifiablePact] = {}
        self.totals: dict[Path, int] = {}
        self.outcomes: dict[str, _PactOutcome] = {}
        self.lines: list[str] = []
        self.problems: list[str] = []
        self._directory: Path | None = None

    # -- provider side ----------------------------------------------------------------------------------

    def fetch(self, provider: str) -> list[tuple[Path, VerifiablePact]]:
        """The pacts the broker selects for `provider`, each saved as a file (once per process).

        A broker that cannot answer fails the collection of the provider test: it cannot verify what it
        was asked to."""
        if provider in self.fetched:
            return self.fetched[provider]
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="pytest-ipc-broker-"))
            self.config.add_cleanup(lambda: shutil.rmtree(self._directory or "", ignore_errors=True))
        settings = self.settings
        try:
            with settings.client() as broker:
                pacts = broker.pacts_for_verification(
                    provider, selectors=settings.selectors, provider_branch=settings.branch, include_wip_since=settings.wip_since
                )
        except (PactBrokerError, IpcUsageError) as error:
            pytest.fail(f"fetching the pacts of {provider!r} for verification: {error}", pytrace=False)
        saved: list[tuple[Path, VerifiablePact]] = []
        for pact in pacts:
            path = self._directory / f"{len(self.pacts):04d}.json"
            path.write_text(json.dumps(pact.document))
            self.pacts[path] = pact
            self.totals[path] = len(refs_of(path, pact.document))
            saved.append((path, pact))
        self.fetched[provider] = saved
        return saved

    def labels(self) -> dict[Path, str]:
        """Each fetched pact's file -> `Web c2` (consumer and version), to tell same-named items apart."""
        return {path: f"{pact.pair[0]} {pact.consumer_version}".strip() for path, pact in self.pacts.items()}

    def pending_note(self, path: Path) -> str:
        """Why the broker calls the pact at `path` pending (its notices), for the item's outcome."""
        pact = self.pacts.get(path)
        if pact is None:
            return ""
        kind = "a work-in-progress pact" if pact.wip else "a pending pact"
        said = " ".join(notice for notice in pact.notices if "pending" in notice or "work in progress" in notice)
        return f"{kind} of the Pact Broker, so its failure does not fail the session ({said or 'pending'})"

    def label(self, item: pytest.Item, path: Path, identity: str, description: str) -> None:
        """Note on `item`'s reports which broker pact and interaction it verifies."""
        pact = self.pacts.get(path)
        if pact is None or pact.publish_results_url is None:
            return
        item.user_properties.append((PROPERTY, {
            "url": pact.url, "publish": pact.publish_results_url, "name": "{} -> {}".format(*pact.pair), "total": self.totals[path],
            "identity": identity, "description": description,
        }))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect each broker pact interaction's outcome in the controlling process."""
        if hasattr(self.config, "workerinput"):
            return
        labelled = next((value for name, value in report.user_properties if name == PROPERTY), None)
        if not isinstance(labelled, dict) or not (report.when == "call" or report.failed):
            return
        if report.skipped and not hasattr(report, "wasxfail"):
            return  # an interaction no longer in the pact: nothing was verified
        outcome = self.outcomes.setdefault(labelled["url"], _PactOutcome(labelled["publish"], labelled["name"], labelled["total"]))
        success = report.passed and not hasattr(report, "wasxfail")
        entry = {"interactionId": labelled["identity"], "interactionDescription": labelled["description"], "success": success}
        if not success:
            text = getattr(report, "wasxfail", "") or report.longreprtext
            entry["mismatches"] = [{"description": line.strip()} for line in str(text).splitlines() if line.strip()][-20:]
        previous = outcome.results.get(labelled["identity"])
        if previous is None or previous["success"]:
            outcome.results[labelled["identity"]] = entry

    def publish_results(self) -> None:
        """Publish one verification result per broker pact whose interactions all ran."""
        version = self.settings.provider_version
        if not self.outcomes:
            return
        if not version:
            self.lines.append("verification results not published: set --ipc-pact-provider-version to publish them")
            return
        try:
            with self.settings.client() as broker:
                for _, outcome in sorted(self.outcomes.items()):
                    if len(outcome.results) < outcome.total:
                        self.lines.append(
                            f"{outcome.name}: verification result not published, only {len(outcome.results)} of its {outcome.total} "
                            "interactions ran in this session (run them all to publish)"
                        )
                        continue
                    results = [outcome.results[key] for key in sorted(outcome.results)]
                    success = all(result["success"] for result in results)
                    broker.publish_verification_results(
                        outcome.publish_url, success=success,
                        provider_version=version, provider_branch=self.settings.branch, test_results=results,
                    )
                    verdict = "success" if success else "failure"
                    self.lines.append(f"{outcome.name}: published verification result ({verdict}) as provider version {version}")
        except PactBrokerError as error:
            self.problems.append(f"publishing verification results: {error}")

    # -- consumer side ----------------------------------------------------------------------------------

    def publish_pacts(self, written: list[Path], exitstatus: int) -> None:
        """Publish the pacts this session wrote, if it passed and a consumer version is set."""
        settings = self.settings
        if not settings.consumer_version or not written:
            return
        if exitstatus != 0:
            self.lines.append(
                f"pacts not published: the session did not pass (exit status {exitstatus}); only a green consumer build publishes"
            )
            return
        try:
            with settings.client() as broker:
                notices = broker.publish(written, consumer_version=settings.consumer_version, branch=settings.branch, tags=settings.tags)
        except PactBrokerError as error:
            self.problems.append(f"publishing pacts: {error}")
            return
        where = f" on branch {settings.branch}" if settings.branch else ""
        tags = f" tagged {', '.join(settings.tags)}" if settings.tags else ""
        self.lines.append(f"published {len(written)} pact(s) as consumer version {settings.consumer_version}{where}{tags}")
        self.lines += [f"  broker: {notice}" for notice in notices]

    def finish(self, session: pytest.Session, written: list[Path]) -> None:
        """At session end, in the controlling process: publish, then fail the session on problems."""
        self.publish_results()
        self.publish_pacts(written, int(session.exitstatus))
        if self.problems:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def summary(self, terminalreporter: Any) -> None:
        if not (self.lines or self.problems):
            return
        terminalreporter.write_sep("-", "pytest-ipc Pact Broker", red=bool(self.problems))
        for line in self.lines:
            terminalreporter.write_line(line)
        for problem in self.problems:
            terminalreporter.write_line(f"ERROR {problem}", red=True)

