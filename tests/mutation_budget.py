"""Hypothesis under mutmut (loaded with `-p mutation_budget` by `[tool.mutmut]`, pyproject.toml).

Every mutant that survives runs every selected test that reaches its function; the property
tests (hundreds of drawn examples each) were then most of a mutant's time, five times all the
other tests together. Under `./dev mutate` each property test draws at most
`BIRDGEN_MUTATION_EXAMPLES` examples (30 unless set), the same ones on every run
(`derandomize`), so a mutant's verdict does not depend on luck and a re-run gives it again.
With no deadline and no health checks: the trampolines slow every call, and a property test
failing for time would count a mutant as killed by no assertion at all.

A smaller budget can only lose kills, never add one: the kill ratio measured so is a floor.
The test suite itself never loads this plugin.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("BIRDGEN_MUTATION_EXAMPLES", "30"))

# Settings a test does not give itself come from this profile, the ones nested inside a test
# body included: tests/sidecar/test_store_property.py takes the smaller of its own 40 and this
# profile's `max_examples`, since the hook below only sees settings given at module level.
settings.register_profile(
    "mutation",
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile("mutation")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        given: settings | None = getattr(test, "_hypothesis_internal_use_settings", None)
        if given is None:
            continue
        # Hypothesis reads these settings when the test is called, not when it is decorated.
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            given,
            max_examples=min(given.max_examples, EXAMPLES),
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
