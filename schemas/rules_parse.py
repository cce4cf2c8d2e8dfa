"""Reading a rules file into `schemas.rules.Rules`: `load_rules(path)`, `parse_rules(text)`, and the
validation of the parsed document (points and leaderboards in `rules_points` and
`rules_leaderboards`).

Every error is a `RulesError` whose message reads `<file>: <path>: <what is wrong>`, e.g.
`rules.toml: achievements[3].metric: unknown metric 'word-written'`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from schemas.rules import (
    FREQUENCIES,
    IDEMPOTENCY_WINDOW,
    MAX_ANNIVERSARY_YEARS,
    MAX_FREEZES,
    MAX_IDEMPOTENCY_WINDOW,
    MAX_KEPT_DAYS,
    MAX_RECENT_EVENT_IDS,
    TRIGGERS,
    WEEKDAYS,
    Achievement,
    DeclaredAttributes,
    Freezes,
    Limits,
    Metric,
    Rules,
    Streak,
    Threshold,
)
from schemas.rules_doc import Doc, RulesError, kind_of
from schemas.rules_leaderboards import parse_leaderboards
from schemas.rules_points import parse_points
from schemas.state_bound import KEY_BYTES, METRIC_DAY_BYTES, STATE_BUDGET_BYTES, state_bytes_bound

TOP_KEYS = (
    "week_start",
    "limits",
    "metrics",
    "achievements",
    "streak",
    "points",
    "leaderboards",
    "attributes",
)
ACHIEVEMENT_KEYS = (
    "key",
    "name",
    "trigger",
    "description",
    "badge_url",
    "metric",
    "value",
    "streak_length",
    "anniversary_years",
    "achievements",
    "user_attributes",
    "event_attributes",
)
PER_TRIGGER = {
    "metric": {"metric", "value", "event_attributes"},
    "streak": {"streak_length"},
    "api": set(),
    "achievement": {"achievements"},
    "anniversary": {"anniversary_years"},
}


def parse_document(doc: Mapping[str, Any], source: str) -> Rules:
    d = Doc(source)
    d.table(dict(doc), "", TOP_KEYS)
    week_start = 0
    if "week_start" in doc:
        raw = doc["week_start"]
        if not isinstance(raw, str) or raw.lower() not in WEEKDAYS:
            raise d.error(
                "week_start", f"expected a weekday name (monday..sunday), got {kind_of(raw)}"
            )
        week_start = WEEKDAYS.index(raw.lower())
    limits = _limits(d, doc.get("limits", {}))
    metrics = _metrics(d, doc.get("metrics"))
    streak = None if "streak" not in doc else _streak(d, doc["streak"], metrics)
    achievements = _achievements(d, doc.get("achievements", []), metrics, streak)

    points = parse_points(d, doc.get("points", []), metrics, achievements, streak)
    rules = Rules.build(metrics, achievements, streak, week_start, limits, source, points)
    rules = _with_leaderboards(d, rules, doc.get("leaderboards", []))
    if "attributes" in doc:
        declared = _attributes(d, doc["attributes"])
        _check_filters(d, achievements, declared)
        rules = replace(rules, attributes=declared)
    return _check_state_budget(d, rules)


def _attributes(d: Doc, raw: object) -> DeclaredAttributes:
    """`[attributes]`: `user = [...]`, `event = [...]`, the keys requests may carry."""
    t = d.table(raw, "attributes", ("user", "event"))
    out: dict[str, frozenset[str]] = {}
    for kind in ("user", "event"):
        keys = t.get(kind, [])
        if not isinstance(keys, list):
            raise d.error(f"attributes.{kind}", f"expected an array of keys, got {kind_of(keys)}")
        out[kind] = frozenset(
            d.string(k, f"attributes.{kind}[{i}]", key=True) for i, k in enumerate(keys)
        )
    return DeclaredAttributes(user=out["user"], event=out["event"])


def _check_filters(
    d: Doc, achievements: Mapping[str, Achievement], declared: DeclaredAttributes
) -> None:
    """An achievement may only filter on declared attributes."""
    for i, ach in enumerate(achievements.values()):
        for kind, keys, known in (
            ("user_attributes", ach.user_attributes, declared.user),
            ("event_attributes", ach.event_attributes, declared.event),
        ):
            unknown = sorted(set(keys) - known)
            if unknown:
                raise d.error(
                    f"achievements[{i}].{kind}",
                    f"undeclared attribute keys {', '.join(unknown)} (declare them in "
                    f"[attributes] {kind.split('_')[0]})",
                )


def _limits(d: Doc, raw: object) -> Limits:
    names = ("idempotency_keys_per_metric", "recent_event_ids", "points_awards")
    t = d.table(raw, "limits", (*names, "points_days", "metric_days"))
    window = t.get("idempotency_keys_per_metric", IDEMPOTENCY_WINDOW)
    if window == 0:
        raise d.error(
            "limits.idempotency_keys_per_metric",
            "0 (keep every key forever) is not allowed: a user's state would grow without"
            f" bound; keep a window, e.g. {IDEMPOTENCY_WINDOW}",
        )
    days = {
        k: d.integer(t.get(k, 400), f"limits.{k}", 1, MAX_KEPT_DAYS)
        for k in ("points_days", "metric_days")
    }
    return Limits(
        idempotency_keys_per_metric=d.integer(
            window, "limits.idempotency_keys_per_metric", 1, MAX_IDEMPOTENCY_WINDOW
        ),
        recent_event_ids=d.integer(
            t.get("recent_event_ids", 8), "limits.recent_event_ids", 0, MAX_RECENT_EVENT_IDS
        ),
        points_awards=d.integer(t.get("points_awards", 100), "limits.points_awards", 1, 1000),
        **days,
    )


def _check_state_budget(d: Doc, rules: Rules) -> Rules:
    """The rules-bounded part of a state must stay within `STATE_BUDGET_BYTES`."""
    bound = state_bytes_bound(rules)
    if bound > STATE_BUDGET_BYTES:
        raise d.error(
            "limits",
            f"a user's state could grow to {bound} bytes, over {STATE_BUDGET_BYTES}: lower"
            f" limits.metric_days (each day costs {METRIC_DAY_BYTES} bytes per metric),"
            f" limits.idempotency_keys_per_metric ({KEY_BYTES} bytes per key and metric),"
            " limits.points_awards, limits.points_days, limits.recent_event_ids or"
            " streak.history_periods",
        )
    return rules


def _metrics(d: Doc, raw: object) -> dict[str, Metric]:
    if raw is None:
        raise d.error("metrics", "missing: define at least one metric ([metrics.<key>])")
    if not isinstance(raw, dict) or not raw:
        raise d.error("metrics", "expected a table of metrics ([metrics.<key>])")
    out: dict[str, Metric] = {}
    for key, body in raw.items():
        path = f"metrics.{key}"
        d.string(key, path, key=True)
        t = d.table(body, path, ("name", "unit"))
        name = d.string(t["name"], f"{path}.name") if "name" in t else key
        unit = d.string(t["unit"], f"{path}.unit") if "unit" in t else None
        out[key] = Metric(key, name, unit)
    return out


def _freezes(d: Doc, raw: object) -> Freezes:
    path = "streak.freezes"
    t = d.table(raw, path, ("initial", "max", "auto_earn_amount", "auto_earn_interval_days"))
    if "max" not in t:
        raise d.error(f"{path}.max", "missing: the maximum number of freezes a user can hold")
    most = d.integer(t["max"], f"{path}.max", 1, MAX_FREEZES)
    initial = d.integer(t.get("initial", 0), f"{path}.initial", 0, most)
    amount = d.integer(t.get("auto_earn_amount", 0), f"{path}.auto_earn_amount", 0, most)
    interval = d.integer(
        t.get("auto_earn_interval_days", 0), f"{path}.auto_earn_interval_days", 0, 3660
    )
    if (amount == 0) != (interval == 0):
        raise d.error(
            path, "auto_earn_amount and auto_earn_interval_days go together: set both (or neither)"
        )
    return Freezes(initial, most, amount, interval)


def _streak(d: Doc, raw: object, metrics: Mapping[str, Metric]) -> Streak:
    t = d.table(
        raw,
        "streak",
        (
            "frequency",
            "combine",
            "thresholds",
            "freezes",
            "history_periods",
            "days_off",
            "tick_grace_seconds",
        ),
    )
    frequency = t.get("frequency")
    if frequency not in FREQUENCIES:
        expected = ", ".join(FREQUENCIES)
        raise d.error("streak.frequency", f"expected one of {expected}, got {kind_of(frequency)}")
    combine = t.get("combine", "all")
    if combine not in ("all", "any"):
        raise d.error("streak.combine", f"expected 'all' or 'any', got {kind_of(combine)}")
    raw_thresholds = t.get("thresholds")
    if not isinstance(raw_thresholds, list) or not raw_thresholds:
        raise d.error("streak.thresholds", "expected at least one [[streak.thresholds]]")
    thresholds: list[Threshold] = []
    for i, item in enumerate(raw_thresholds):
        path = f"streak.thresholds[{i}]"
        th = d.table(item, path, ("metric", "value"))
        metric = d.string(th.get("metric"), f"{path}.metric")
        if metric not in metrics:
            raise d.error(f"{path}.metric", f"unknown metric {metric!r}")
        if any(x.metric == metric for x in thresholds):
            raise d.error(f"{path}.metric", f"metric {metric!r} has a threshold already")
        value = d.number(th.get("value", 1), f"{path}.value")
        if value <= 0:
            raise d.error(f"{path}.value", f"must be greater than 0, got {value}")
        thresholds.append(Threshold(metric, value))
    freezes = None if "freezes" not in t else _freezes(d, t["freezes"])
    history = d.integer(t.get("history_periods", 30), "streak.history_periods", 1, 1000)
    days_off = _days_off(d, t["days_off"], frequency) if "days_off" in t else frozenset()
    grace = d.integer(t.get("tick_grace_seconds", 300), "streak.tick_grace_seconds", 0, 3600)
    return Streak(frequency, tuple(thresholds), combine, freezes, history, days_off, grace)


def _days_off(d: Doc, raw: object, frequency: str) -> frozenset[int]:
    """`days_off = [0, 6]`: weekdays as JavaScript's `Date.getDay()` numbers them (Trophy's
    `daysOff`), for a daily streak only; at least one day of the week must count."""
    path = "streak.days_off"
    if frequency != "daily":
        raise d.error(path, f"only a daily streak has days off (this one is {frequency})")
    if not isinstance(raw, list):
        raise d.error(
            path, f"expected an array of weekdays (0 = Sunday ... 6 = Saturday), got {kind_of(raw)}"
        )
    days: set[int] = set()
    for i, item in enumerate(raw):
        day = d.integer(item, f"{path}[{i}]", 0, 6)
        if day in days:
            raise d.error(f"{path}[{i}]", f"weekday {day} is listed twice")
        days.add(day)
    if len(days) == 7:
        raise d.error(path, "every day of the week is off: at least one day must count")
    return frozenset(days)


def _achievement(
    d: Doc, raw: object, path: str, metrics: Mapping[str, Metric], streak: Streak | None
) -> Achievement:
    t = d.table(raw, path, ACHIEVEMENT_KEYS)
    key = d.string(t.get("key"), f"{path}.key", key=True)
    name = d.string(t.get("name"), f"{path}.name")
    trigger = t.get("trigger")
    if trigger not in TRIGGERS:
        raise d.error(
            f"{path}.trigger", f"expected one of {', '.join(TRIGGERS)}, got {kind_of(trigger)}"
        )
    for field_name in set(t) & (set().union(*PER_TRIGGER.values()) - PER_TRIGGER[trigger]):
        raise d.error(f"{path}.{field_name}", f"not allowed for trigger {trigger!r}")
    ach = Achievement(
        key=key,
        name=name,
        trigger=trigger,
        description=d.string(t["description"], f"{path}.description")
        if "description" in t
        else None,
        badge_url=d.string(t["badge_url"], f"{path}.badge_url") if "badge_url" in t else None,
        user_attributes=d.str_map(t.get("user_attributes", {}), f"{path}.user_attributes"),
        event_attributes=d.str_map(t.get("event_attributes", {}), f"{path}.event_attributes"),
    )
    return _with(ach, **_trigger_fields(d, t, path, trigger, metrics, streak))


def _trigger_fields(
    d: Doc,
    t: Mapping[str, Any],
    path: str,
    trigger: str,
    metrics: Mapping[str, Metric],
    streak: Streak | None,
) -> dict[str, Any]:
    """The fields only an achievement of this trigger has (none for an API one)."""
    if trigger == "metric":
        metric = d.string(t.get("metric"), f"{path}.metric")
        if metric not in metrics:
            raise d.error(f"{path}.metric", f"unknown metric {metric!r}")
        if "value" not in t:
            raise d.error(f"{path}.value", "missing: the metric total that completes it")
        return {"metric": metric, "metric_value": d.number(t["value"], f"{path}.value")}
    if trigger == "streak":
        if streak is None:
            raise d.error(f"{path}.trigger", "a streak achievement needs a [streak] section")
        return {
            "streak_length": d.integer(t.get("streak_length"), f"{path}.streak_length", 1, 100_000)
        }
    if trigger == "anniversary":
        years = d.integer(
            t.get("anniversary_years"), f"{path}.anniversary_years", 1, MAX_ANNIVERSARY_YEARS
        )
        return {"anniversary_years": years}
    if trigger == "achievement":
        keys = t.get("achievements")
        if not isinstance(keys, list) or not keys:
            raise d.error(f"{path}.achievements", "expected a non-empty array of keys")
        return {
            "achievement_keys": tuple(
                d.string(k, f"{path}.achievements[{j}]") for j, k in enumerate(keys)
            )
        }
    return {}


def _with(ach: Achievement, **changes: Any) -> Achievement:
    return replace(ach, **changes)


def _achievements(
    d: Doc, raw: object, metrics: Mapping[str, Metric], streak: Streak | None
) -> dict[str, Achievement]:
    if not isinstance(raw, list):
        raise d.error("achievements", "expected an array of tables ([[achievements]])")
    out: dict[str, Achievement] = {}
    index: dict[str, int] = {}
    for i, item in enumerate(raw):
        ach = _achievement(d, item, f"achievements[{i}]", metrics, streak)
        if ach.key in out:
            raise d.error(
                f"achievements[{i}].key",
                f"duplicate key {ach.key!r} (first at achievements[{index[ach.key]}])",
            )
        out[ach.key] = ach
        index[ach.key] = i
    for key, ach in out.items():
        for j, dep in enumerate(ach.achievement_keys):
            if dep not in out:
                raise d.error(
                    f"achievements[{index[key]}].achievements[{j}]", f"unknown achievement {dep!r}"
                )
    _check_cycles(d, out, index)
    return out


def _check_cycles(
    d: Doc, achievements: Mapping[str, Achievement], index: Mapping[str, int]
) -> None:
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(key: str, trail: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = " -> ".join([*trail[trail.index(key) :], key])
            raise d.error(f"achievements[{index[key]}].achievements", f"cycle: {cycle}")
        state[key] = 1
        for dep in achievements[key].achievement_keys:
            visit(dep, [*trail, key])
        state[key] = 2

    for key in achievements:
        visit(key, [])


def _with_leaderboards(d: Doc, rules: Rules, raw: object) -> Rules:
    """The rules with their `[[leaderboards]]`, checked against everything parsed before."""

    return replace(rules, leaderboards=parse_leaderboards(d, raw, rules))


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Parse and validate a rules document; raises `RulesError`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    return parse_document(doc, source)


def load_rules(path: str | Path) -> Rules:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_rules(text, source=str(path))
