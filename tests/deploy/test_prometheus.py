"""deploy/'s alert rules: valid for Prometheus, and each tested on the series it is for
(deploy/alerts_test.yml, run by promtool)."""

import subprocess
from pathlib import Path

import yaml

from tests.tools import needs_program

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

pytestmark = needs_program("promtool", "Debian's prometheus")


def promtool(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["promtool", *arguments], cwd=DEPLOY, capture_output=True, text=True, timeout=120
    )


def test_the_rules_and_the_scrape_config_are_valid():
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The scrape config names a token file the container writes; a check needs one there.
    config = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_fires_on_its_fixture_and_stays_quiet_otherwise():
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_test_that_expects_it_to_fire():
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    assert alerts - firing == set()
    assert alerts - quiet == set()
