"""Prometheus text for `GET /metrics` (`--proxy-metrics`, `--runtime-metrics`).

Proxy metrics carry the names and labels of Toxiproxy's (collectors/proxy.go), so dashboards built
for the real server work unchanged; unlike upstream, which adds a connection's bytes only when it
closes, ours count as the bytes flow. Runtime metrics are the cheap, honest process figures a
Python process can report (upstream reports Go's runtime, which has no equivalent here).
"""

from __future__ import annotations

import os
import platform
import resource
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from pytest_ipc.toxiproxy.model import STREAMS
from pytest_ipc.toxiproxy.proxy import TcpProxy

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
PROXY_LABELS = ("direction", "proxy", "listener", "upstream")


def render(proxies: Iterable[TcpProxy], *, proxy_metrics: bool, runtime_metrics: bool) -> str:
    lines: list[str] = []
    if runtime_metrics:
        lines += _runtime_lines()
    if proxy_metrics:
        lines += _proxy_lines(list(proxies))
    return "".join(line + "\n" for line in lines)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _proxy_lines(proxies: list[TcpProxy]) -> Iterator[str]:
    for name, which, help_text in (
        (
            "toxiproxy_proxy_received_bytes_total",
            "received",
            "Bytes read from the source side of each proxy direction.",
        ),
        ("toxiproxy_proxy_sent_bytes_total", "sent", "Bytes written to the destination side of each proxy direction."),
    ):
        if not proxies:
            continue
        yield from _family(name, "counter", help_text)
        for proxy in sorted(proxies, key=lambda proxy: proxy.name):
            for stream in STREAMS:
                counters = proxy.counters.directions[stream]
                labels = dict(zip(PROXY_LABELS, (stream, proxy.name, proxy.listen, proxy.upstream), strict=True))
                # Prometheus' Go client sorts label pairs by name.
                text = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
                yield f"{name}{{{text}}} {getattr(counters, which)}"


def _runtime_lines() -> Iterator[str]:
    cpu = os.times()
    yield from _family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
    yield f"process_cpu_seconds_total {cpu.user + cpu.system:.2f}"
    fd_dir = Path("/proc/self/fd")
    if fd_dir.is_dir():
        yield from _family("process_open_fds", "gauge", "Number of open file descriptors.")
        yield f"process_open_fds {len(os.listdir(fd_dir))}"
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield from _family("process_max_fds", "gauge", "Maximum number of open file descriptors.")
    yield f"process_max_fds {soft_limit}"
    statm = Path("/proc/self/statm")
    if statm.is_file():
        virtual_pages, resident_pages = (int(field) for field in statm.read_text().split()[:2])
        page = resource.getpagesize()
        yield from _family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
        yield f"process_virtual_memory_bytes {virtual_pages * page}"
        yield from _family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        yield f"process_resident_memory_bytes {resident_pages * page}"
    yield from _family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
    yield f"process_start_time_seconds {_PROCESS_START:.2f}"
    yield from _family("python_threads", "gauge", "Number of live Python threads.")
    yield f"python_threads {threading.active_count()}"
    yield from _family("python_info", "gauge", "Python platform information.")
    major, minor, patch = platform.python_version_tuple()
    yield (
        f'python_info{{implementation="{platform.python_implementation()}",major="{major}",'
        f'minor="{minor}",patchlevel="{patch}",version="{platform.python_version()}"}} 1'
    )


def _process_start_time() -> float:
    """From /proc when available (the real start), else the moment this module was imported."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


_PROCESS_START = _process_start_time()
