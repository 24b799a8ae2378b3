"""The resilience report as one self-contained HTML page, drawn from the JSON report's data.

`render_html(document)` takes what `--ipc-report-json` writes (or a merge of several such files)
and returns the page: a dependency × fault grid coloured by each cell's worst outcome with its
latencies, per cell the latency distribution and links to its tests, per test its failure message
and a timeline of the faults injected, the calls, the requests the stub saw and the breaker's
states. Everything is inline (CSS, SVG, a few lines of script, the report data itself), so the file
can be attached to a CI run and opened anywhere; the page reads fine without script.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pytest_ipc.report.outcomes import Outcome
from pytest_ipc.report.table import cells

COLOURS = {  # outcome -> background, best (green) to worst (dark red)
    Outcome.RECOVERED.value: "#2e9d4f",
    Outcome.SERVED_FALLBACK.value: "#3f83c9",
    Outcome.FAILED_FAST.value: "#d6a21e",
    Outcome.TIMED_OUT.value: "#e07b24",
    Outcome.HUNG.value: "#d03a3a",
    Outcome.BROKE.value: "#7d1d1d",
}
STATE_COLOURS = {"closed": "#2e9d4f", "half-open": "#d6a21e", "open": "#d03a3a"}
ROWS = ("fault", "call", "request", "breaker", "record")  # the timeline's lanes, top to bottom
ROW_NAMES = {"fault": "faults", "call": "calls", "request": "at the stub", "breaker": "breaker", "record": "records"}
TIMELINE_WIDTH, LANE, LABEL = 760, 18, 90
BINS = 12

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin:.2rem 0}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
table.grid td.cell{color:#fff;min-width:9rem}table.grid td.cell a{color:#fff;text-decoration:none;display:block}
table.grid td.empty{background:#eee}
.legend span{display:inline-block;padding:.1rem .5rem;margin:.1rem;color:#fff;border-radius:3px}
section.detail,section.test{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.6rem 1rem;margin:.8rem 0}
section:target{outline:3px solid #3f83c9}
pre.message{background:#fff3f3;border-left:4px solid #d03a3a;padding:.5rem;white-space:pre-wrap;max-height:20rem;overflow:auto}
.passed{color:#2e9d4f}.failed,.error{color:#d03a3a}.skipped{color:#888}
.muted{color:#777;font-size:.9em}
.failing{background:#fff;color:#7d1d1d;border-radius:3px;padding:0 .3rem;font-size:.85em;font-weight:bold}table.events td{font-size:.85em}
#only-failing:checked ~ .scroll table.grid td.cell:not(.has-failed){opacity:.25}
div.scroll{overflow-x:auto;max-width:100%}
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('ipc-report-data').textContent);
  var cells = document.querySelectorAll('table.grid td.cell');
  document.getElementById('cell-count').textContent = String(cells.length);
  document.getElementById('test-count').textContent = String(Object.keys(data.tests || {}).length);
  function reveal() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.tagName === 'DETAILS') { target.open = true; }
  }
  window.addEventListener('hashchange', reveal);
  reveal();
})();
"""


def _seconds(value: float) -> str:
    if value < 0.001:
        return "<1 ms"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _slug(outcome: str) -> str:
    return outcome.replace(" ", "-")


def _ids(names: Sequence[str], prefix: str) -> dict[str, str]:
    """Stable, safe anchors: node ids carry brackets, slashes and spaces."""
    return {name: f"{prefix}-{index}" for index, name in enumerate(names)}


def _strip(latencies: Sequence[float], scale: float, width: int = 120, height: int = 14) -> str:
    """A strip of ticks, one per latency, on the grid's shared scale (0 to the session's slowest)."""
    ticks = "".join(
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="1" y2="{height - 1}" stroke="#fff" stroke-opacity=".8"/>'
        for x in (min(width - 1.0, latency / scale * (width - 2) + 1) for latency in latencies)
    )
    return (f'<svg class="strip" width="{width}" height="{height}" role="img" aria-label="latencies">'
            f'<rect width="{width}" height="{height}" fill="#000" fill-opacity=".15"/>{ticks}</svg>')


def _histogram(latencies: Sequence[float], colour: str) -> str:
    """The latency distribution of one cell: counts in equal bins from 0 to its slowest."""
    width, height, top = 360, 90, max(latencies) or 0.001
    counts = [0] * BINS
    for latency in latencies:
        counts[min(BINS - 1, int(latency / top * BINS))] += 1
    most, bar = max(counts), width / BINS
    bars = "".join(
        f'<rect x="{index * bar + 1:.1f}" y="{height - 14 - count / most * (height - 20):.1f}" width="{bar - 2:.1f}" '
        f'height="{count / most * (height - 20):.1f}" fill="{colour}"><title>{count} between '
        f'{_seconds(index * top / BINS)} and {_seconds((index + 1) * top / BINS)}</title></rect>'
        for index, count in enumerate(counts) if count
    )
    axis = (f'<text x="0" y="{height - 2}" font-size="10">0</text>'
            f'<text x="{width}" y="{height - 2}" font-size="10" text-anchor="end">{escape(_seconds(top))}</text>')
    return f'<svg class="histogram" width="{width}" height="{height}" role="img" aria-label="latency distribution">{bars}{axis}</svg>'


def _failing(cell: Mapping[str, Any]) -> str:
    """A badge on a cell whose tests failed: its colour says what the calls did, not that the test passed."""
    failed = len(cell["failed"])
    return f'<br><span class="failing">⚠ {failed} failing test{"s" if failed > 1 else ""}</span>' if failed else ""


def _timeline(trace: Mapping[str, Any]) -> str:
    """One lane per kind of event; spans as bars, moments as ticks, the breaker as coloured states."""
    events: list[Mapping[str, Any]] = trace.get("timeline") or []
    if not events:
        return '<p class="muted">No events on the timeline.</p>'
    end = max([float(trace.get("duration") or 0.0)] + [float(e["at"]) + float(e.get("duration") or 0.0) for e in events]) or 0.001
    span = TIMELINE_WIDTH - LABEL

    def x(at: float) -> float:
        return LABEL + min(1.0, at / end) * span

    lanes = [kind for kind in ROWS if any(event["kind"] == kind for event in events)]
    height = LANE * len(lanes) + 16
    parts = []
    for row, kind in enumerate(lanes):
        y = row * LANE
        parts.append(f'<text x="0" y="{y + 13}" font-size="11">{ROW_NAMES[kind]}</text>')
        mine = sorted((event for event in events if event["kind"] == kind), key=lambda event: float(event["at"]))
        for index, event in enumerate(mine):
            at, title = float(event["at"]), escape(f"+{_seconds(float(event['at']))}: {event['text']}")
            if kind == "breaker":
                until = float(mine[index + 1]["at"]) if index + 1 < len(mine) else end
                state = str(event["text"]).split()[-1]
                colour = STATE_COLOURS.get(state, "#999")
                parts.append(f'<rect x="{x(at):.1f}" y="{y + 3}" width="{max(2.0, x(until) - x(at)):.1f}" height="{LANE - 6}" '
                             f'fill="{colour}"><title>{title}</title></rect>')
                continue
            duration = event.get("duration")
            if kind == "fault" and duration is None:
                duration = end - at  # still in place when the test ended
            colour = {"fault": "#d03a3a", "call": "#3f83c9", "request": "#6b6b6b", "record": "#2e9d4f"}[kind]
            width = max(2.0, x(at + float(duration or 0.0)) - x(at))
            parts.append(f'<rect x="{x(at):.1f}" y="{y + 3}" width="{width:.1f}" height="{LANE - 6}" fill="{colour}" '
                         f'fill-opacity=".75"><title>{title}</title></rect>')
    parts.append(f'<text x="{LABEL}" y="{height - 2}" font-size="10">0</text>'
                 f'<text x="{TIMELINE_WIDTH}" y="{height - 2}" font-size="10" text-anchor="end">{escape(_seconds(end))}</text>')
    return (f'<svg class="timeline" width="{TIMELINE_WIDTH}" height="{height}" role="img" aria-label="timeline">'
            + "".join(parts) + "</svg>")


def _events_table(trace: Mapping[str, Any]) -> str:
    events: list[Mapping[str, Any]] = trace.get("timeline") or []
    if not events:
        return ""
    rows = "".join(
        f'<tr class="event {escape(str(event["kind"]))}"><td>+{escape(_seconds(float(event["at"])))}</td>'
        f'<td>{escape(str(event["kind"]))}</td>'
        f'<td>{escape(str(event["text"]))}</td>'
        f'<td>{"" if event.get("duration") is None else escape(_seconds(float(event["duration"])))}</td></tr>'
        for event in events
    )
    dropped = int(trace.get("dropped_events") or 0)
    more = f'<p class="muted">{dropped} more event(s) not kept.</p>' if dropped else ""
    return (f'<details><summary>{len(events)} event(s)</summary><table class="events"><tr><th>at</th><th>kind</th>'
            f"<th>what</th><th>lasted</th></tr>{rows}</table></details>{more}")


def test_fragment(test: str, trace: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """One test's records and timeline as an HTML fragment (pytest-html's extra for that test)."""
    rows = "".join(
        f'<tr><td>{escape(str(entry["dependency"]))}</td><td>{escape(str(entry["fault"]))}</td>'
        f'<td>{escape(str(entry["outcome"]))}</td><td>{escape(_seconds(float(entry["latency"])))}</td>'
        f'<td>{escape(str(entry.get("source", "user")))}</td></tr>'
        for entry in records
    )
    table = (f'<table><tr><th>dependency</th><th>fault</th><th>outcome</th><th>latency</th><th>source</th></tr>{rows}</table>'
             if rows else "")
    return (f'<div class="ipc-report" data-test="{escape(test)}"><h3>pytest-ipc resilience</h3>{table}'
            f"{_timeline(trace)}{_events_table(trace)}</div>")


def _data_script(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True).replace("</", "<\\/").replace("<!--", "<\\!--")
    return f'<script type="application/json" id="ipc-report-data">{text}</script>'


def render_html(document: Mapping[str, Any]) -> str:
    """The whole page for a JSON report (`table.json_document`, or a merge of several)."""
    grid = cells(document)
    tests: Mapping[str, Mapping[str, Any]] = document.get("tests") or {}
    records: Sequence[Mapping[str, Any]] = document.get("records") or []
    faults = sorted({cell["fault"] for cell in grid})
    dependencies = sorted({cell["dependency"] for cell in grid})
    by_key = {(cell["dependency"], cell["fault"]): cell for cell in grid}
    cell_ids = {key: f"cell-{index}" for index, key in enumerate(sorted(by_key))}
    test_ids = _ids(sorted(set(tests) | {name for cell in grid for name in cell["tests"]}), "test")
    scale = max((cell["maximum"] for cell in grid), default=0.0) or 0.001

    head = "".join(f"<th>{escape(fault)}</th>" for fault in faults)
    body = []
    for dependency in dependencies:
        tds = []
        for fault in faults:
            cell = by_key.get((dependency, fault))
            if cell is None:
                tds.append('<td class="empty"></td>')
                continue
            counts = ", ".join(f"{count}× {label}" for label, count in cell["outcomes"].items())
            failed = " has-failed" if cell["failed"] else ""
            tds.append(
                f'<td class="cell outcome-{_slug(cell["outcome"])}{failed}" style="background:{COLOURS[cell["outcome"]]}" '
                f'data-dependency="{escape(dependency)}" data-fault="{escape(fault)}" data-outcome="{escape(cell["outcome"])}" '
                f'data-count="{cell["count"]}" title="{escape(counts)}"><a href="#{cell_ids[(dependency, fault)]}">'
                f'<strong class="outcome">{escape(cell["outcome"])}</strong><br><span class="count">{cell["count"]}×</span> · '
                f'median {escape(_seconds(cell["median"]))} · max {escape(_seconds(cell["maximum"]))}<br>'
                f'{_strip(cell["latencies"], scale)}{_failing(cell)}</a></td>'
            )
        body.append(f'<tr><th scope="row">{escape(dependency)}</th>{"".join(tds)}</tr>')

    details = []
    for key in sorted(by_key):
        cell = by_key[key]
        cell_records = [entry for entry in records if (entry["dependency"], entry["fault"]) == key]
        items = []
        for name in cell["tests"]:
            trace = tests.get(name, {})
            outcome = str(trace.get("outcome") or "unknown")
            mine = ", ".join(
                f"{entry['outcome']} in {_seconds(float(entry['latency']))}" for entry in cell_records if entry.get("test") == name
            )
            message = str(trace.get("message") or "").strip()
            first = f'<div class="muted">{escape(message.splitlines()[0][:300])}</div>' if message else ""
            items.append(f'<li><a href="#{test_ids[name]}">{escape(name)}</a> <span class="{escape(outcome)}">{escape(outcome)}</span>'
                         f" · {escape(mine)}{first}</li>")
        counts = ", ".join(f"{count}× {label}" for label, count in cell["outcomes"].items())
        details.append(
            f'<section class="detail" id="{cell_ids[key]}" data-dependency="{escape(key[0])}" data-fault="{escape(key[1])}">'
            f"<h3>{escape(key[0])} × {escape(key[1])}: "
            f'<span style="color:{COLOURS[cell["outcome"]]}">{escape(cell["outcome"])}</span></h3>'
            f'<p>{escape(counts)}; median {escape(_seconds(cell["median"]))}, max {escape(_seconds(cell["maximum"]))}</p>'
            f'{_histogram(cell["latencies"], COLOURS[cell["outcome"]])}<ul class="tests">{"".join(items)}</ul></section>'
        )

    sections = []
    for name, anchor in test_ids.items():
        trace = tests.get(name, {})
        outcome = str(trace.get("outcome") or "unknown")
        message = str(trace.get("message") or "").strip()
        cell_link = ""
        cell_of = trace.get("cell")
        linked = [key for key in sorted(by_key) if name in by_key[key]["tests"]]
        if linked:
            cell_link = " · cells: " + ", ".join(f'<a href="#{cell_ids[key]}">{escape(key[0])} × {escape(key[1])}</a>' for key in linked)
        elif cell_of:
            cell_link = f" · cell {escape(str(cell_of.get('dependency')))} × {escape(str(cell_of.get('fault')))}"
        sections.append(
            f'<section class="test" id="{anchor}" data-test="{escape(name)}" data-outcome="{escape(outcome)}">'
            f'<h3>{escape(name)}</h3><p><span class="{escape(outcome)}">{escape(outcome)}</span> in '
            f'{escape(_seconds(float(trace.get("duration") or 0.0)))}{cell_link}</p>'
            + (f'<pre class="message">{escape(message)}</pre>' if message else "")
            + _timeline(trace) + _events_table(trace) + "</section>"
        )

    legend = "".join(f'<span style="background:{colour}">{escape(label)}</span>' for label, colour in COLOURS.items())
    grid_html = (
        f'<input type="checkbox" id="only-failing"> <label for="only-failing">fade cells without failing tests</label>'
        f'<div class="scroll"><table class="grid"><tr><th>dependency \\ fault</th>{head}</tr>{"".join(body)}</table></div>'
        if grid else '<p class="empty-report">Nothing was recorded.</p>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pytest-ipc resilience report</title><style>{STYLE}</style></head><body>"
        '<h1>pytest-ipc resilience report</h1>'
        f'<p class="muted"><span id="cell-count">{len(grid)}</span> cell(s), <span id="test-count">{len(tests)}</span> test(s), '
        f"{len(records)} record(s). A cell's colour is its worst outcome.</p>"
        f'<p class="legend">{legend}</p>{grid_html}'
        f'<h2>Cells</h2>{"".join(details) or "<p>None.</p>"}'
        f'<h2>Tests</h2>{"".join(sections) or "<p>None.</p>"}'
        f"{_data_script(document)}<script>{SCRIPT}</script></body></html>\n"
    )
