"""`python -m pytest_ipc COMMAND ...`: the package's command-line tools, for CI.

A tiny dispatcher: each command is a `main(argv) -> exit status` function in the module that owns
its concept, imported only when that command runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "pact-can-i-deploy": ("pytest_ipc.contracts.broker_cli:can_i_deploy_main", "ask a Pact Broker whether a version may be deployed"),
    "pact-publish": ("pytest_ipc.contracts.broker_cli:publish_main", "publish pact files to a Pact Broker"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by the first argument with the rest; usage and status 2 otherwise."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        listed = "\n".join(f"  {name:<20} {description}" for name, (_, description) in sorted(COMMANDS.items()))
        problem = f"unknown command {args[0]!r}\n" if args and args[0] not in ("-h", "--help") else ""
        print(f"{problem}usage: python -m pytest_ipc COMMAND [ARGS...]\ncommands:\n{listed}", file=sys.stderr if problem else sys.stdout)
        return 2 if problem or not args else 0
    module, _, function = COMMANDS[args[0]][0].partition(":")
    status: int = getattr(importlib.import_module(module), function)(args[1:])
    return status


if __name__ == "__main__":
    sys.exit(main())
