"""deploy/prometheus/alerts.yaml: `promtool check rules` accepts it, `promtool test rules`
fires every alert on the synthetic series of alerts.test.yaml (and keeps it quiet where it
should be), and the rules name only the series of issue 21 (tests/unit/series.py); the
scrape config for a Prometheus beside `make run` or compose passes `promtool check config`.

promtool comes with Debian's `prometheus` package (`make install` and `.ci/run` install it);
without it these tests skip, except under CI, where they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from deploy.settings import REPO_DIR
from tests.unit.series import SERIES, names_in

RULES_DIR = REPO_DIR / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yaml"
ALERTS_TEST = RULES_DIR / "alerts.test.yaml"
REQUIRED = {
    "PodiumConsumerLagGrowing",
    "PodiumPartitionBlocked",
    "PodiumDeadLetters",
    "PodiumAnswerSlow",
    "PodiumProcessNotReady",
}
"""Issue 21's alerts: lag growth, a blocked partition, dead letters, answer p99, not ready."""


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: apt-get install prometheus")
        pytest.skip("promtool is missing (apt-get install prometheus; `make install` does)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=RULES_DIR)


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", ALERTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_checks_the_scrape_config_and_its_rules() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_the_scrape_config_reaches_every_process_s_metrics_port() -> None:
    config = yaml.safe_load((RULES_DIR / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets == ["127.0.0.1:9100", "127.0.0.1:9101", "127.0.0.1:9102", "127.0.0.1:9103"]
    assert all("labels" not in group for group in job["static_configs"])  # see the file


def test_promtool_fires_each_alert_on_synthetic_series() -> None:
    done = promtool("test", "rules", ALERTS_TEST.name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_hold_issue_21_s_alerts() -> None:
    assert {rule["alert"] for rule in rules()} == REQUIRED


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    fired = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert fired == REQUIRED
    assert quiet == REQUIRED


def test_the_rules_name_only_issue_21_s_series() -> None:
    for rule in rules():
        named = names_in(rule["expr"])
        assert named, rule["alert"]
        assert named <= set(SERIES), rule["alert"]
