"""The resilience report: what each dependency fault did to its caller, printed at session end.

Feed it from a test with the ``ipc_report`` fixture, or from any code (assertions, helpers) with::

    from pytest_ipc.report import Outcome, measure, record

    record("orders-api", "latency", Outcome.RECOVERED, latency=0.42)
    with measure("orders-api", "outage") as attempt:
        shop.order(7)
        attempt.outcome = Outcome.SERVED_FALLBACK

The fault matrix and the resilience assertions record by themselves (a test's own record of the same
cell wins). The plugin prints a dependency × fault table (not with ``-q``), writes
``--ipc-report-json=FILE`` JSON, ``--ipc-report-html=FILE`` (one self-contained page) and
``--ipc-report-markdown=FILE`` (also the GitHub job summary), and adds each record to the test's JUnit
XML properties and pytest-html extras; with nothing recorded it stays silent. `render_html` and
`render_markdown` draw the pages from the JSON report's data (one file, or several merged).
"""

from typing import Any

from pytest_ipc.report.outcomes import Outcome, ReportUsageError
from pytest_ipc.report.recorder import Measurement, Record, Recorder, ReportHandle, measure, record

__all__ = [
    "Measurement",
    "Outcome",
    "Record",
    "Recorder",
    "ReportHandle",
    "ReportUsageError",
    "measure",
    "record",
    "render_html",
    "render_markdown",
]


def render_html(document: dict[str, Any]) -> str:
    """The self-contained HTML report of a JSON report's data (what ``--ipc-report-json`` writes, or a merge)."""
    from pytest_ipc.report.html import render_html as render

    return render(document)


def render_markdown(document: dict[str, Any]) -> str:
    """The Markdown summary of a JSON report's data (what ``--ipc-report-json`` writes, or a merge)."""
    from pytest_ipc.report.markdown import render_markdown as render

    return render(document)
