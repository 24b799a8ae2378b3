"""What a resilience assertion puts in the resilience report, without a line of the user's code.

Each assertion that drives calls (`calls.drive`, `calls.drive_async`) records one row when it ends:
its outcome (a passing timeout check whose call raised "timed out within budget", a fallback "served
fallback", a breaker or a cap "failed fast", a call that returned "recovered"; a failing one "hung"
when a call was still running, else "broke") and the median latency of the calls it made. Each call
also goes on the test's timeline. The row's cell is the fault-matrix cell the test runs, else the
dependency named with ``ipc_report.dependency`` (default: the stub fixture the faults went into)
under the faults in place during the assertion. Outside a pytest session with the plugin, nothing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_ipc.report import recorder
from pytest_ipc.report.outcomes import Outcome

if TYPE_CHECKING:
    from pytest_ipc.faults.vocabulary import Fault
    from pytest_ipc.resilience.calls import CallOutcome

#: The outcome a passing assertion stands for, by its probe; the others judge each call (returned: recovered).
PASSING = {"fallback_probe": Outcome.SERVED_FALLBACK, "breaker_probe": Outcome.FAILED_FAST, "cap_probe": Outcome.FAILED_FAST}
#: Probes that bound a call's time: a call that raised within the bound timed out within budget.
BOUNDED = ("timeout_probe", "deadline_probe", "propagation_probe")
#: The stub fixture behind each fault layer: the default dependency name.
DEPENDENCY_OF_LAYER = {"stub": "http_stub", "respx": "http_stub", "grpc": "grpc_stub", "thrift": "thrift_stub", "proxy": "proxy"}


class Watch:
    """One assertion's run: which faults were in place when it began, and every call it made."""

    def __init__(self, probe_name: str, fault: Fault | None) -> None:
        self.probe = probe_name
        self.fault = fault
        self.outcomes: list[CallOutcome] = []
        trace = recorder.current_trace()
        self.trace = trace
        self.active = list(trace.active_faults) if trace is not None else []
        self.seen = len(trace.faults_seen) if trace is not None else 0

    def calls(self, outcomes: Sequence[CallOutcome]) -> None:
        """A step's calls ended (or were given up on): keep them and put them on the timeline."""
        self.outcomes.extend(outcomes)
        if self.trace is None:
            return
        for outcome in outcomes:
            self.trace.note("call", outcome.describe(), at=outcome.started, duration=outcome.duration)

    def passed(self) -> None:
        self._record(failed=False)

    def failed(self) -> None:
        self._record(failed=True)

    def _record(self, *, failed: bool) -> None:
        trace = self.trace
        if trace is None or not self.outcomes:
            return
        now = time.monotonic()
        if failed:
            outcome = Outcome.HUNG if any(not call.finished for call in self.outcomes) else Outcome.BROKE
        elif self.probe in PASSING:
            outcome = PASSING[self.probe]
        else:
            raised = Outcome.TIMED_OUT if self.probe in BOUNDED else Outcome.FAILED_FAST
            order = list(Outcome)
            outcome = max((raised if call.error is not None else Outcome.RECOVERED for call in self.outcomes), key=order.index)
        waited = [call.duration if call.duration is not None else now - call.started for call in self.outcomes]
        latency = max(waited) if outcome is Outcome.HUNG else statistics.median(waited)
        dependency, fault = self._cell(trace)
        recorder.record_automatic(dependency, fault, outcome, latency, "assertion")

    def _cell(self, trace: recorder.Trace) -> tuple[str, str]:
        key = trace.cell_key()
        if key is not None:
            return key
        faults = [*self.active, *trace.faults_seen[self.seen:]]
        layer = faults[0].layer.name if faults else None
        dependency = trace.dependency or DEPENDENCY_OF_LAYER.get(layer or "", "dependency")
        if self.fault is not None:
            return dependency, self.fault.label
        labels = list(dict.fromkeys(active.fault.label for active in faults))
        return dependency, "+".join(labels) if labels else self.probe.removesuffix("_probe")
