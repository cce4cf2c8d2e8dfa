"""The tests' own rules files, so the demo rules (`deploy/rules.example.toml`) can change
without changing what any test expects."""

from __future__ import annotations

from pathlib import Path

from schemas.rules import Rules
from schemas.rules_parse import load_rules

HERE = Path(__file__).parent
WRITING_PATH = HERE / "writing.toml"  # two metrics, every trigger, a daily streak
LEADERBOARDS_PATH = HERE / "leaderboards.toml"  # every kind of leaderboard, week from Sunday
RANKING_PATH = HERE / "ranking.toml"  # two metrics and the one board "top-writers"


def writing_rules() -> Rules:
    return load_rules(WRITING_PATH)


def leaderboard_rules() -> Rules:
    return load_rules(LEADERBOARDS_PATH)


BOARDS_PATH = HERE / "boards.toml"  # one metric, three perpetual boards (a breakdown, a cap)
POINTS_PATH = HERE / "points.toml"  # two points systems: levels, boosts, a cap
NODE_PATH = HERE / "node.toml"  # the Node SDK test's: every optional part of every answer
DASHBOARD_PATH = HERE / "dashboard.toml"  # the live page's: one board, levels, a streak


def points_rules() -> Rules:
    return load_rules(POINTS_PATH)
