"""`python -m pytest_ipc.toxiproxy` (or `pytest-ipc-toxiproxy`): a stand-in for `toxiproxy-server`.

It takes the real server's flags in both spellings (`-host`/`--host`, `-port=8474`, `-config FILE`,
`-seed N`, `-proxy-metrics`, `-runtime-metrics`, `-version`), so scripts written for the Go binary
work unchanged. Once the API answers it prints one line with its URL and the event loop it runs on
(`PYTEST_IPC_EVENT_LOOP` chooses); SIGINT or SIGTERM stops every proxy and exits with status 0. Like
the real server, a config that fails to load is reported and the server keeps running with whatever
it could create.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from pytest_ipc._loop import event_loop_name
from pytest_ipc._loop_choice import EventLoopChoiceError
from pytest_ipc._net import LOOPBACK
from pytest_ipc.toxiproxy.model import VERSION
from pytest_ipc.toxiproxy.server import ConfigError, EmbeddedToxiproxy

_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _go_bool(text: str) -> bool:
    """Go's strconv.ParseBool, which `-flag=value` uses for boolean flags."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}: use one of true, false, 1, 0, t, f")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a number from 0 to 65535")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-ipc-toxiproxy",
        description="A Toxiproxy-compatible fault proxy server (the admin API of toxiproxy-server 2.12).",
    )
    parser.add_argument("--host", "-host", default=LOOPBACK, help="host for the API to listen on (default %(default)s)")
    parser.add_argument(
        "--port", "-port", type=_port, default=8474, help="port for the API; 0 picks a free one (default %(default)s)"
    )
    parser.add_argument(
        "--config", "-config", default=None, help="JSON file of proxies to create on startup (as POST /populate)"
    )
    parser.add_argument("--seed", "-seed", type=int, default=None, help="seed for the toxicity draws")
    for flag, what in (("proxy-metrics", "proxy byte counters"), ("runtime-metrics", "process metrics")):
        parser.add_argument(
            f"--{flag}",
            f"-{flag}",
            type=_go_bool,
            nargs="?",
            const=True,
            default=False,
            metavar="BOOL",
            help=f"serve {what} on GET /metrics",
        )
    parser.add_argument("--version", "-version", action="store_true", help="print the version and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    server = EmbeddedToxiproxy(
        args.host, args.port, seed=args.seed, proxy_metrics=args.proxy_metrics, runtime_metrics=args.runtime_metrics
    )
    try:
        server.start()
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    except EventLoopChoiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        if args.config:
            _load_config(server, args.config)
        loop = event_loop_name(server.loop_thread.loop)
        print(f"Toxiproxy {VERSION} (pytest-ipc, {loop}) API listening on {server.url}", flush=True)
        while not stop_requested.wait(3600):
            pass
    finally:
        server.stop()
    return 0


def _load_config(server: EmbeddedToxiproxy, config: str) -> None:
    """Populate from `config` as the real server does: report a failure, keep serving."""
    try:
        server.load_config(config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
