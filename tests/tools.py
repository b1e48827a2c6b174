"""A program a test needs that .ci/run installs (nginx with nchan, Chromium, PgBouncer,
Prometheus, promtool, curl): where it is missing, the test is skipped on a developer's
machine and fails under CI=true, so that a half-failed install cannot turn CI green."""

import os
import shutil

import pytest


def missing(reason: str) -> None:
    """Fail (under CI) or skip the running test, saying what is missing."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: a missing tool fails the run)", pytrace=False)
    pytest.skip(reason)


def needs(reason: str) -> pytest.MarkDecorator:
    """A test's (or a module's) mark: `reason` says what is missing, "" if nothing is."""
    return pytest.mark.needs_tool(reason)


def needs_program(name: str, where: str) -> pytest.MarkDecorator:
    return needs("" if shutil.which(name) else f"needs {name} ({where}; .ci/run installs it)")
