"""`python -m pytest_ipc COMMAND ...`: the package's command line, one module per command.

A command joins by adding one line to `COMMANDS` (name -> module, function, summary); the function
takes the remaining arguments and returns the exit code: 0 all is well, 1 the check found a
problem, 2 a usage error (bad arguments, an unreadable document). Modules load only when run.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

COMMANDS: dict[str, tuple[str, str, str]] = {
    "openapi-diff": ("pytest_ipc.specs.cli", "openapi_diff", "breaking changes between two OpenAPI documents"),
    "asyncapi-diff": ("pytest_ipc.specs.cli", "asyncapi_diff", "breaking changes between two AsyncAPI documents"),
    "pact-check": ("pytest_ipc.specs.cli", "pact_check", "a pact checked against the provider's OpenAPI or AsyncAPI document"),
    "pact-publish": ("pytest_ipc.contracts.broker_cli", "publish_main", "publish pact files to a Pact Broker"),
    "pact-can-i-deploy": ("pytest_ipc.contracts.broker_cli", "can_i_deploy_main", "ask a Pact Broker whether a version may be deployed"),
    "merge": ("pytest_ipc.shards", "merge_main", "merge the pacts and resilience reports of a suite's shards"),
}
USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv[0]` names with the rest of `argv`; list the commands when none is named."""
    arguments = sys.argv[1:] if argv is None else argv
    listing = "\n".join(f"  {name:<15} {summary}" for name, (_, _, summary) in COMMANDS.items())
    if not arguments or arguments[0] in ("-h", "--help"):
        print(f"usage: python -m pytest_ipc COMMAND [ARGS]\n\ncommands:\n{listing}", file=sys.stdout if arguments else sys.stderr)
        return 0 if arguments else USAGE_ERROR
    if arguments[0] not in COMMANDS:
        print(f"python -m pytest_ipc: unknown command {arguments[0]!r}; commands:\n{listing}", file=sys.stderr)
        return USAGE_ERROR
    module, function, _ = COMMANDS[arguments[0]]
    command: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
    return command(arguments[1:])


if __name__ == "__main__":
    sys.exit(main())
