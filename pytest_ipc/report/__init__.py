"""The resilience report: what each dependency fault did to its caller, printed at session end.

Feed it from a test with the ``ipc_report`` fixture, or from any code (assertions, helpers) with::

    from pytest_ipc.report import Outcome, measure, record

    record("orders-api", "latency", Outcome.RECOVERED, latency=0.42)
    with measure("orders-api", "outage") as attempt:
        shop.order(7)
        attempt.outcome = Outcome.SERVED_FALLBACK

The plugin prints a dependency × fault table (not with ``-q``), writes ``--ipc-report-json=FILE`` JSON and
adds each record to the test's JUnit XML properties; with nothing recorded it stays silent.
"""

from pytest_ipc.report.outcomes import Outcome, ReportUsageError
from pytest_ipc.report.recorder import Measurement, Record, Recorder, ReportHandle, measure, record

__all__ = ["Measurement", "Outcome", "Record", "Recorder", "ReportHandle", "ReportUsageError", "measure", "record"]
