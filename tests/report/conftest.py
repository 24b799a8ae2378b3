"""One real session's report files, shared by the report tests of a worker (it takes ~10 s)."""

from __future__ import annotations

import pytest

from tests.report.session import Session, run_session


@pytest.fixture(scope="session")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    ran = run_session(tmp_path_factory.mktemp("report-session"))
    assert "3 failed, 6 passed" in ran.output, ran.output
    return ran
