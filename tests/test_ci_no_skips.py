"""tests/ci_no_skips.py: a skip is a failure under CI=true and a skip elsewhere."""

from __future__ import annotations

import pytest

SKIPPING = """
import pytest

needs_bird = pytest.mark.skipif(True, reason="BIRD 2 (`bird`) is not installed")

@pytest.fixture
def netns():
    pytest.skip("unshare -n refused: not root")

@needs_bird
def test_marked():
    pass

def test_in_fixture(netns):
    pass

def test_in_body():
    pytest.skip("ip netns unavailable")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_runs():
    pass
"""


@pytest.mark.parametrize("ci", ["true", "1"])
def test_skips_fail_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(SKIPPING)
    result = pytester.runpytest("-p", "ci_no_skips")
    # A skip at setup (a skipif mark, a fixture) fails as an error, one in the body as a failure.
    result.assert_outcomes(passed=1, failed=1, errors=2, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true*not root*"])


@pytest.mark.parametrize("ci", [None, "false"])
def test_skips_stay_skips_outside_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makepyfile(SKIPPING)
    result = pytester.runpytest("-p", "ci_no_skips")
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
