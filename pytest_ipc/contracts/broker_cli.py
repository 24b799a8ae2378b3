"""The Pact Broker commands of `python -m pytest_ipc`: `pact-publish` and `pact-can-i-deploy`, for CI.

The broker and its credentials come from the options or from the same environment variables as the
pytest options (`PYTEST_IPC_PACT_BROKER_URL`, `PYTEST_IPC_PACT_BROKER_TOKEN`, or
`PYTEST_IPC_PACT_BROKER_USERNAME` and `PYTEST_IPC_PACT_BROKER_PASSWORD`); a token is best left in
the environment, where it does not show in the process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pytest_ipc._errors import IpcError

BRANCH_ENV, TAG_ENV = "PYTEST_IPC_PACT_BRANCH", "PYTEST_IPC_PACT_TAG"


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m pytest_ipc {prog}", description=description)
    parser.add_argument("--broker-url", help="the Pact Broker (default: $PYTEST_IPC_PACT_BROKER_URL)")
    parser.add_argument("--broker-username", help="basic-auth user (default: $PYTEST_IPC_PACT_BROKER_USERNAME)")
    return parser


def publish_main(argv: Sequence[str]) -> int:
    """`pact-publish DIR --consumer-version V [--branch B] [--tag T ...]`: publish a directory's pacts."""
    parser = _parser("pact-publish", "Publish the pact files of a directory (or one pact file) to a Pact Broker.")
    parser.add_argument("directory", help="the pact directory the consumer tests wrote (or one pact file)")
    parser.add_argument("--consumer-version", required=True, help="the consumer's version (the git SHA is a good one)")
    parser.add_argument("--branch", default=os.environ.get(BRANCH_ENV), help=f"the consumer version's git branch (default: ${BRANCH_ENV})")
    parser.add_argument(
        "--tag", action="append", default=[], help=f"a consumer version tag; repeatable (default: ${TAG_ENV}, comma-separated)"
    )
    parser.add_argument("--build-url", help="the CI build that made the pacts")
    args = parser.parse_args(argv)
    from pytest_ipc.contracts.broker import publish_pacts

    tags = args.tag or [tag.strip() for tag in os.environ.get(TAG_ENV, "").split(",") if tag.strip()]
    try:
        notices = publish_pacts(
            args.directory, consumer_version=args.consumer_version, branch=args.branch, tags=tags, build_url=args.build_url,
            broker_url=args.broker_url, username=args.broker_username,
        )
    except IpcError as error:
        print(f"pact-publish: {error}", file=sys.stderr)
        return 1
    for notice in notices:
        print(notice)
    return 0


def can_i_deploy_main(argv: Sequence[str]) -> int:
    """`pact-can-i-deploy --pacticipant P --version V --to-environment E`: 0 when deployable, 1 when not."""
    parser = _parser("pact-can-i-deploy", "Ask a Pact Broker whether an application version may be deployed to an environment.")
    parser.add_argument("--pacticipant", required=True, help="the application to deploy")
    parser.add_argument("--version", required=True, help="its version")
    parser.add_argument("--to-environment", required=True, help="where it would go")
    args = parser.parse_args(argv)
    from pytest_ipc.contracts.broker import can_i_deploy

    try:
        answer = can_i_deploy(
            args.pacticipant, args.version, to_environment=args.to_environment, broker_url=args.broker_url, username=args.broker_username
        )
    except IpcError as error:
        print(f"pact-can-i-deploy: {error}", file=sys.stderr)
        return 1
    print(("Computer says yes \\o/" if answer else "Computer says no ¯\\_(ツ)_/¯") + f"\n{answer.reason}")
    return 0 if answer else 1
