"""The HTML report in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium): it renders without script errors, shows what the JSON report holds, and its links lead
from a cell to its tests and their failure messages. Skips, saying what is missing, without them."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.report.session import Session

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
MISSING = [
    what
    for what, there in (
        ("the chromium package (apt-get install chromium)", shutil.which("chromium") or shutil.which("chromium-browser")),
        ("the chromium-driver package (apt-get install chromium-driver)", Path(CHROMEDRIVER).exists()),
        ("selenium (pip install selenium, or the test extra)", importlib.util.find_spec("selenium")),
    )
    if not there
]
pytestmark = [
    pytest.mark.slow,  # CI runs the slow tests (see the root conftest)
    pytest.mark.skipif(bool(MISSING), reason=f"no headless browser: missing {', '.join(MISSING)}"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()



def errors(browser: Any) -> list[dict[str, Any]]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_console_errors_are_caught(browser: Any, tmp_path: Path) -> None:
    """The check below is not vacuous: a page whose script throws shows up in the log."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    browser.get(page.as_uri())
    assert any("undefinedFunction" in entry["message"] for entry in errors(browser))


def test_report_renders_without_errors_and_matches_the_json(browser: Any, session: Session) -> None:
    from selenium.webdriver.common.by import By

    document = session.json
    browser.get((session.directory / "report.html").as_uri())
    assert errors(browser) == []
    assert browser.title == "pytest-ipc resilience report"
    assert browser.execute_script("return JSON.parse(document.getElementById('ipc-report-data').textContent)") == document
    # the script ran: it filled in the counts from the embedded data
    assert browser.find_element(By.ID, "test-count").text == str(len(document["tests"]))
    shown = {
        (td.get_attribute("data-dependency"), td.get_attribute("data-fault")): (
            td.find_element(By.CSS_SELECTOR, ".outcome").text,
            td.find_element(By.CSS_SELECTOR, ".count").text,
            td.value_of_css_property("background-color"),
        )
        for td in browser.find_elements(By.CSS_SELECTOR, "table.grid td.cell")
    }
    assert {key: (outcome, count) for key, (outcome, count, _) in shown.items()} == {
        (cell["dependency"], cell["fault"]): (cell["outcome"], f"{cell['count']}×") for cell in document["cells"]
    }
    failing = {
        (td.get_attribute("data-dependency"), td.get_attribute("data-fault"))
        for td in browser.find_elements(By.CSS_SELECTOR, "table.grid td.cell")
        if td.find_elements(By.CSS_SELECTOR, ".failing")
    }
    assert failing == {(cell["dependency"], cell["fault"]) for cell in document["cells"] if cell["failed"]} != set()
    colours = {outcome: colour for outcome, _, colour in shown.values()}
    assert len(set(colours.values())) == len(colours), f"each outcome has its own colour: {colours}"
    browser.find_element(By.ID, "only-failing").click()
    faded = {
        (td.get_attribute("data-dependency"), td.get_attribute("data-fault")): td.value_of_css_property("opacity")
        for td in browser.find_elements(By.CSS_SELECTOR, "table.grid td.cell")
    }
    assert {key for key, opacity in faded.items() if opacity == "1"} == failing
    lanes = browser.find_elements(By.CSS_SELECTOR, "section.test svg.timeline")
    assert len(lanes) == sum(1 for trace in document["tests"].values() if trace["timeline"])


def test_a_failing_cell_leads_to_its_test_and_failure_message(browser: Any, session: Session) -> None:
    from selenium.webdriver.common.by import By

    document = session.json
    test = "test_shop.py::test_without_fallback[stub-status-503]"
    browser.get((session.directory / "report.html").as_uri())
    browser.find_element(By.CSS_SELECTOR, 'td.cell[data-fault="stub-status-503"] a').click()
    detail = browser.find_element(By.CSS_SELECTOR, "section.detail:target")
    assert detail.get_attribute("data-fault") == "stub-status-503"
    detail.find_element(By.LINK_TEXT, test).click()
    section = browser.find_element(By.CSS_SELECTOR, "section.test:target")
    assert section.get_attribute("data-test") == test
    assert section.get_attribute("data-outcome") == "failed"
    assert section.find_element(By.CSS_SELECTOR, "pre.message").text == document["tests"][test]["message"].strip()
    events = section.find_elements(By.CSS_SELECTOR, "table.events tr.event")
    assert len(events) == len(document["tests"][test]["timeline"])
    assert errors(browser) == []
