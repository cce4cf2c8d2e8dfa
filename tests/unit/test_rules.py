"""The rules file: the shipped example loads, and every validation error says where and what."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.rules_doc import RulesError
from schemas.rules_parse import load_rules, parse_rules

EXAMPLE = Path(__file__).parents[2] / "deploy" / "rules.example.toml"

MINIMAL = """
[metrics.words]
name = "Words"
"""


def test_the_example_rules_file_loads() -> None:
    rules = load_rules(EXAMPLE)
    assert set(rules.metrics) == {"words-written", "chapters-finished"}
    triggers = {a.trigger for a in rules.achievements.values()}
    assert triggers == {"metric", "streak", "api", "achievement", "anniversary"}
    assert [a.key for a in rules.anniversaries] == ["first-anniversary"]
    assert rules.streak is not None and rules.streak.frequency == "daily"
    assert rules.streak.freezes is not None and rules.streak.freezes.max == 3
    assert rules.week_start == 0
    assert [a.key for a in rules.composites] == ["dedicated-author", "master-author"]
    assert [a.key for a in rules.by_metric["chapters-finished"]] == [
        "first-chapter",
        "ten-chapters",
        "poet",
    ]


def test_a_minimal_file_has_defaults() -> None:
    rules = parse_rules(MINIMAL)
    assert rules.metrics["words"].name == "Words"
    assert rules.streak is None and rules.achievements == {}
    assert rules.limits.idempotency_keys_per_metric == 1000


def test_values_are_exact_decimals() -> None:
    rules = parse_rules(
        MINIMAL
        + """
[[achievements]]
key = "a"
name = "A"
trigger = "metric"
metric = "words"
value = 0.3
"""
    )
    assert rules.achievements["a"].metric_value == Decimal("0.3")


def test_anniversary_achievements_are_indexed_fewest_years_first() -> None:
    text = MINIMAL + "".join(
        f'[[achievements]]\nkey = "{key}"\nname = "{key}"\ntrigger = "anniversary"\n'
        f"anniversary_years = {years}\n"
        for key, years in (("five", 5), ("one", 1), ("also-one", 1))
    )
    rules = parse_rules(text)
    assert rules.achievements["five"].anniversary_years == 5
    assert [a.key for a in rules.anniversaries] == ["one", "also-one", "five"]


def test_week_start_is_configurable() -> None:
    assert parse_rules('week_start = "Sunday"\n' + MINIMAL).week_start == 6


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"nope\.toml: cannot read"):
        load_rules(tmp_path / "nope.toml")


ACH = """
[[achievements]]
key = "a"
name = "A"
trigger = "api"
"""
STREAK = """
[streak]
frequency = "daily"
[[streak.thresholds]]
metric = "words"
value = 1
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = [", "r.toml: not valid TOML: "),
        (
            "colour = 1\n" + MINIMAL,
            "r.toml: colour: unknown key (expected one of week_start, limits,"
            " metrics, achievements, streak, points, leaderboards, attributes)",
        ),
        ("", "r.toml: metrics: missing: define at least one metric ([metrics.<key>])"),
        ("metrics = 3", "r.toml: metrics: expected a table of metrics ([metrics.<key>])"),
        ('[metrics."bad key"]', "r.toml: metrics.bad key: invalid key 'bad key'"),
        (
            "[metrics.words]\nunits = 'w'",
            "r.toml: metrics.words.units: unknown key (expected one of name, unit)",
        ),
        (
            'week_start = "someday"\n' + MINIMAL,
            "r.toml: week_start: expected a weekday name "
            "(monday..sunday), got the string 'someday'",
        ),
        (
            "[limits]\nrecent_event_ids = -1\n" + MINIMAL,
            "r.toml: limits.recent_event_ids: must be between 0 and 10000, got -1",
        ),
        (
            "[limits]\nidempotency_keys_per_metric = 0\n" + MINIMAL,
            "r.toml: limits.idempotency_keys_per_metric: 0 (keep every key forever) is not"
            " allowed: a user's state would grow without bound; keep a window, e.g. 1000",
        ),
        (
            # one metric "words", 8 recent ids: 600 + 2 * 10 + 130 + 43 * 8 = 1094 bytes, its
            # 400 kept days (10 + 271 * 400 = 108_410), sign-up date and notifications (162):
            # 109_666 besides the keys, 19 bytes each: 109_666 + 19 * 21_823 = 524_303 > 512 KiB
            "[limits]\nidempotency_keys_per_metric = 21823\n" + MINIMAL,
            "r.toml: limits: a user's state could grow to 524303 bytes, over 524288: lower"
            " limits.metric_days (each day costs 271 bytes per metric),"
            " limits.idempotency_keys_per_metric (19 bytes per key and metric),"
            " limits.points_awards, limits.points_days, limits.recent_event_ids or"
            " streak.history_periods",
        ),
        (
            "[limits]\nmetric_days = 0\n" + MINIMAL,
            "r.toml: limits.metric_days: must be between 1 and 5000, got 0",
        ),
        (
            "[limits]\nmetric_days = 5001\n" + MINIMAL,
            "r.toml: limits.metric_days: must be between 1 and 5000, got 5001",
        ),
        ("achievements = 1\n" + MINIMAL, "r.toml: achievements: expected an array of tables"),
        (
            MINIMAL + ACH + ACH,
            "r.toml: achievements[1].key: duplicate key 'a' (first at achievements[0])",
        ),
        (MINIMAL + ACH.replace('key = "a"\n', ""), "r.toml: achievements[0].key: missing"),
        (MINIMAL + ACH.replace('name = "A"\n', ""), "r.toml: achievements[0].name: missing"),
        (
            MINIMAL + ACH.replace('name = "A"', 'name = ""'),
            "r.toml: achievements[0].name: expected a non-empty string, got an empty string",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"magic"'),
            "r.toml: achievements[0].trigger: expected one "
            "of metric, streak, api, achievement, anniversary, got the string 'magic'",
        ),
        (MINIMAL + ACH + "colour = 'red'\n", "r.toml: achievements[0].colour: unknown key"),
        (
            MINIMAL + ACH + "metric = 'words'\n",
            "r.toml: achievements[0].metric: not allowed for trigger 'api'",
        ),
        (
            MINIMAL
            + ACH
            + ACH.replace('"a"', '"b"').replace('"api"', '"metric"')
            + "metric = 'word'\nvalue = 1\n",
            "r.toml: achievements[1].metric: unknown metric 'word'",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"metric"') + "metric = 'words'\n",
            "r.toml: achievements[0].value: missing: the metric total that completes it",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"metric"') + "metric = 'words'\nvalue = 'lots'\n",
            "r.toml: achievements[0].value: not a number: 'lots'",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"metric"') + "metric = 'words'\nvalue = nan\n",
            "r.toml: achievements[0].value: must be finite, got nan",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"streak"') + "streak_length = 3\n",
            "r.toml: achievements[0].trigger: a streak achievement needs a [streak] section",
        ),
        (
            MINIMAL + STREAK + ACH.replace('"api"', '"streak"') + "streak_length = 0\n",
            "r.toml: achievements[0].streak_length: must be between 1 and 100000, got 0",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"anniversary"'),
            "r.toml: achievements[0].anniversary_years: missing",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"anniversary"') + "anniversary_years = 0\n",
            "r.toml: achievements[0].anniversary_years: must be between 1 and 1000, got 0",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"anniversary"') + "anniversary_years = 1.5\n",
            "r.toml: achievements[0].anniversary_years: expected an integer, got the number 1.5",
        ),
        (
            MINIMAL + ACH + "anniversary_years = 1\n",
            "r.toml: achievements[0].anniversary_years: not allowed for trigger 'api'",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"anniversary"') + "anniversary_years = 1\nvalue = 3\n",
            "r.toml: achievements[0].value: not allowed for trigger 'anniversary'",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"achievement"') + "achievements = []\n",
            "r.toml: achievements[0].achievements: expected a non-empty array of keys",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"achievement"') + "achievements = ['zz']\n",
            "r.toml: achievements[0].achievements[0]: unknown achievement 'zz'",
        ),
        (
            MINIMAL + ACH.replace('"api"', '"achievement"') + "achievements = ['a']\n",
            "r.toml: achievements[0].achievements: cycle: a -> a",
        ),
        (
            MINIMAL
            + ACH.replace('"api"', '"achievement"')
            + "achievements = ['b']\n"
            + ACH.replace('"a"', '"b"').replace('"api"', '"achievement"')
            + "achievements = ['a']\n",
            "r.toml: achievements[0].achievements: cycle: a -> b -> a",
        ),
        (
            MINIMAL + ACH + "user_attributes = { plan = 1 }\n",
            "r.toml: achievements[0].user_attributes.plan: expected a string, got the number 1",
        ),
        (
            MINIMAL + ACH + "event_attributes = { genre = 'x' }\n",
            "r.toml: achievements[0].event_attributes: not allowed for trigger 'api'",
        ),
        (
            MINIMAL + "[streak]\nfrequency = 'hourly'\n",
            "r.toml: streak.frequency: expected one of "
            "daily, weekly, monthly, got the string 'hourly'",
        ),
        (
            MINIMAL + STREAK.replace("frequency", "combine = 'both'\nfrequency"),
            "r.toml: streak.combine: expected 'all' or 'any', got the string 'both'",
        ),
        (
            MINIMAL + "[streak]\nfrequency = 'daily'\n",
            "r.toml: streak.thresholds: expected at least one [[streak.thresholds]]",
        ),
        (
            MINIMAL + STREAK.replace('metric = "words"', 'metric = "pages"'),
            "r.toml: streak.thresholds[0].metric: unknown metric 'pages'",
        ),
        (
            MINIMAL + STREAK.replace("value = 1", "value = 0"),
            "r.toml: streak.thresholds[0].value: must be greater than 0, got 0",
        ),
        (
            MINIMAL + STREAK + "[[streak.thresholds]]\nmetric = 'words'\n",
            "r.toml: streak.thresholds[1].metric: metric 'words' has a threshold already",
        ),
        (
            MINIMAL + STREAK + "[streak.freezes]\ninitial = 1\n",
            "r.toml: streak.freezes.max: missing: the maximum number of freezes a user can hold",
        ),
        (
            MINIMAL + STREAK + "[streak.freezes]\nmax = 101\n",
            "r.toml: streak.freezes.max: must be between 1 and 100, got 101",
        ),
        (
            MINIMAL + STREAK + "[streak.freezes]\nmax = 2\ninitial = 3\n",
            "r.toml: streak.freezes.initial: must be between 0 and 2, got 3",
        ),
        (
            MINIMAL + STREAK + "[streak.freezes]\nmax = 2\nauto_earn_amount = 1\n",
            "r.toml: streak.freezes: auto_earn_amount and auto_earn_interval_days go together",
        ),
        (
            MINIMAL
            + STREAK.replace("[[streak.thresholds]]", "history_periods = 0\n[[streak.thresholds]]"),
            "r.toml: streak.history_periods: must be between 1 and 1000, got 0",
        ),
    ],
)
def test_errors_name_the_file_the_path_and_the_fault(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, source="r.toml")
    assert str(caught.value).startswith(message), str(caught.value)


def test_declared_attributes_are_read_and_absent_means_any() -> None:
    assert parse_rules(MINIMAL).attributes is None
    rules = parse_rules('[attributes]\nuser = ["plan", "team"]\nevent = ["genre"]\n' + MINIMAL)
    assert rules.attributes is not None
    assert (rules.attributes.user, rules.attributes.event) == ({"plan", "team"}, {"genre"})
    only_user = parse_rules('[attributes]\nuser = ["plan"]\n' + MINIMAL)
    assert only_user.attributes is not None and only_user.attributes.event == frozenset()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('user = "plan"', "attributes.user: expected an array of keys, got the string 'plan'"),
        ('user = ["ok", ""]', "attributes.user[1]: expected a non-empty string"),
        ('colour = ["x"]', "attributes.colour: unknown key (expected one of user, event)"),
    ],
)
def test_bad_attribute_declarations_are_named(section: str, message: str) -> None:
    with pytest.raises(RulesError, match=re.escape(message)):
        parse_rules(f"[attributes]\n{section}\n" + MINIMAL, "r.toml")


def test_achievement_filters_must_use_declared_attributes() -> None:
    text = (
        '[attributes]\nuser = ["plan"]\n' + MINIMAL + "\n[[achievements]]\nkey = 'a'\n"
        "name = 'A'\ntrigger = 'api'\nuser_attributes = { team = 'blue' }\n"
    )
    with pytest.raises(RulesError, match=r"achievements\[0\].user_attributes: undeclared .*team"):
        parse_rules(text, "r.toml")


def test_metric_days_has_a_default_and_can_be_set() -> None:
    assert parse_rules(MINIMAL).limits.metric_days == 400
    assert parse_rules("[limits]\nmetric_days = 1000\n" + MINIMAL).limits.metric_days == 1000


def _with_days_off(days_off: str, frequency: str = "daily") -> str:
    streak = STREAK.replace('"daily"', f'"{frequency}"')
    return MINIMAL + streak.replace("[[streak.thresholds]]", f"{days_off}\n[[streak.thresholds]]")


def test_streak_days_off_are_javascript_weekdays_and_default_to_none() -> None:
    assert parse_rules(MINIMAL + STREAK).streak.days_off == frozenset()  # type: ignore[union-attr]
    rules = parse_rules(_with_days_off("days_off = [6, 0]"))
    assert rules.streak.days_off == frozenset({0, 6})  # type: ignore[union-attr]
    assert parse_rules(_with_days_off("days_off = []")).streak.days_off == frozenset()  # type: ignore[union-attr]


def test_the_streak_tick_grace_defaults_to_five_minutes_and_is_bounded() -> None:
    default = parse_rules(MINIMAL + STREAK).streak
    assert default is not None and default.tick_grace_ms == 300_000
    zero = parse_rules(_with_days_off("tick_grace_seconds = 0")).streak
    assert zero is not None and zero.tick_grace_ms == 0
    with pytest.raises(RulesError) as caught:
        parse_rules(_with_days_off("tick_grace_seconds = 3601"), source="r.toml")
    assert str(caught.value).startswith(
        "r.toml: streak.tick_grace_seconds: must be between 0 and 3600, got 3601"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _with_days_off("days_off = [0]", "weekly"),
            "r.toml: streak.days_off: only a daily streak has days off (this one is weekly)",
        ),
        (
            _with_days_off("days_off = [6]", "monthly"),
            "r.toml: streak.days_off: only a daily streak has days off (this one is monthly)",
        ),
        (
            _with_days_off("days_off = [0, 7]"),
            "r.toml: streak.days_off[1]: must be between 0 and 6, got 7",
        ),
        (
            _with_days_off("days_off = [-1]"),
            "r.toml: streak.days_off[0]: must be between 0 and 6, got -1",
        ),
        (
            _with_days_off("days_off = ['sunday']"),
            "r.toml: streak.days_off[0]: expected an integer, got the string 'sunday'",
        ),
        (
            _with_days_off("days_off = 0"),
            "r.toml: streak.days_off: expected an array of weekdays (0 = Sunday ... 6 = Saturday),"
            " got the number 0",
        ),
        (
            _with_days_off("days_off = [6, 0, 6]"),
            "r.toml: streak.days_off[2]: weekday 6 is listed twice",
        ),
        (
            _with_days_off("days_off = [0, 1, 2, 3, 4, 5, 6]"),
            "r.toml: streak.days_off: every day of the week is off: at least one day must count",
        ),
    ],
)
def test_bad_streak_days_off_are_named(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, source="r.toml")
    assert str(caught.value) == message
