"""Under CI=true a skipped test fails the run (loaded with `-p ci_no_skips`, pyproject.toml).

Every skip in this suite means the machine lacks something a test needs (unshare, `ip netns`,
root, `bird`, `birdc`, TCP MD5 in the kernel). On a developer's machine that is a notice; in CI
it would hide the end-to-end and real-BIRD tests behind a green run, so there it is a failure
that names what was missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"
