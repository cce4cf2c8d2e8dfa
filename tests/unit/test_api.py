"""The HTTP shapes (ingest.http.api) and API keys (ingest.auth), pure: validation messages name the
field, renderings parse into the Trophy SDK's own models, keys compare by hash."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from trophy.types import (
    AchievementWithStatsResponse,
    EventResponse,
    MetricResponse,
    StreakResponse,
    User,
    UserAchievementResponse,
)

from ingest.auth import KeyRing, hash_key, mint_key
from ingest.http import api
from ingest.http.api import ApiError
from schemas.records import AchievementCompleted, Progress, StreakSnapshot
from schemas.views import UserView, decode_view
from tests.rules import writing_rules
from tests.sent import sent

RULES = writing_rules()


def test_a_valid_event_parses_exactly() -> None:
    req = api.parse_event(
        {
            "user": {"id": "18", "tz": "Europe/London"},
            "value": 0.1,
            "attributes": {"genre": "poetry"},
        },
        "words-written",
        RULES,
        "k1",
    )
    assert (req.user.id, req.user.tz, req.value, req.attributes, req.idempotency_key) == (
        "18",
        "Europe/London",
        Decimal("0.1"),
        {"genre": "poetry"},
        "k1",
    )


@pytest.mark.parametrize(
    ("body", "metric", "status", "where"),
    [
        ({"user": {"id": "1"}, "value": 1}, "nope", 404, "'nope'"),
        ({"user": {"id": "1"}}, "words-written", 422, "value: missing"),
        ({"user": {"id": "1"}, "value": "1"}, "words-written", 422, "value: expected a number"),
        ({"user": {"id": ""}, "value": 1}, "words-written", 422, "user.id"),
        ({"user": {"id": "1", "tz": "X/Y"}, "value": 1}, "words-written", 422, "user.tz"),
        ({"user": {"id": "1"}, "value": 1, "extra": 1}, "words-written", 422, "'extra'"),
    ],
)
def test_invalid_events_name_what_is_wrong(
    body: dict, metric: str, status: int, where: str
) -> None:
    with pytest.raises(ApiError) as err:
        api.parse_event(body, metric, RULES, None)
    assert err.value.status == status and where in err.value.message


def test_batch_errors_name_the_item() -> None:
    ok = {"key": "words-written", "user": {"id": "1"}, "value": 1}
    assert len(api.parse_batch({"events": [ok] * 1000}, RULES)) == 1000
    assert len(api.parse_batch([ok], RULES)) == 1
    with pytest.raises(ApiError, match=r"events\[2\]\.value"):
        api.parse_batch({"events": [ok, ok, {**ok, "value": None}]}, RULES)
    with pytest.raises(ApiError, match="at most 1000"):
        api.parse_batch({"events": [ok] * 1001}, RULES)


def test_numbers_render_exactly() -> None:
    assert api.number(Decimal("750")) == 750 and isinstance(api.number(Decimal("750")), int)
    assert api.number(Decimal("0.1")) == 0.1
    assert api.number(Decimal("-3.50")) == -3.5
    assert api.timestamp(1_712_044_800_123) == "2024-04-02T08:00:00.123Z"


def test_event_response_parses_into_the_sdk_model() -> None:
    done = AchievementCompleted(
        id="18:novella",
        user_id="18",
        achievement="novella",
        achieved_at_ms=1_712_044_800_000,
        trigger="metric",
        event_id="e1",
        metric="words-written",
        metric_value=Decimal(20000),
    )
    snap = StreakSnapshot(
        length=3,
        frequency="daily",
        started="2024-03-31",
        period_start="2024-04-02",
        period_end="2024-04-02",
        expires="2024-04-03",
        extended=True,
        longest=3,
        freezes=1,
        max_freezes=3,
        freeze_auto_earn_interval=7,
        freeze_auto_earn_amount=1,
    )
    progress = Progress(
        id="18:progress:e1",
        event_id="e1",
        user_id="18",
        command="metric",
        time_ms=1_712_044_800_000,
        metric="words-written",
        total=Decimal("20000.5"),
        replayed=False,
        idempotency_key="k",
        achievements=(done,),
        streak=snap,
    )
    resp = EventResponse.model_validate(sent(api.event_response(progress, RULES)))
    assert (resp.event_id, resp.metric_id, resp.total) == ("e1", "words-written", 20000.5)
    assert [a.id for a in resp.achievements] == ["novella"]
    assert resp.achievements[0].metric_value == 20000
    assert resp.current_streak.length == 3 and resp.current_streak.extended is True
    assert resp.current_streak.freeze_auto_earn_interval == 7
    assert (resp.idempotency_key, resp.idempotent_replayed) == ("k", False)


def test_every_achievement_renders_for_the_sdk() -> None:
    for ach in RULES.achievements.values():
        out = UserAchievementResponse.model_validate(sent(api.achievement_json(ach, RULES, None)))
        assert out.id == ach.key and out.trigger == ach.trigger
        stats = AchievementWithStatsResponse.model_validate(sent(api.with_stats(ach, RULES, 1, 4)))
        assert (stats.completions, stats.rarity) == (1, 25.0)


DOC = {  # a view document as the projector writes it (schemas.views.UserView)
    "userId": "18",
    "email": None,
    "name": "Ada",
    "tz": "Europe/London",
    "deviceTokens": None,
    "subscribeToEmails": None,
    "attributes": {"plan": "pro"},
    "createdMs": 1_712_044_800_000,
    "updatedMs": 1_712_044_900_000,
    "events": 3,
    "totals": {"words-written": "750"},
    "achievements": {"first-words": 1_712_044_800_000},
    "streak": {
        "length": 1,
        "longest": 1,
        "frequency": "daily",
        "started": "2024-04-02",
        "periodStart": "2024-04-02",
        "periodEnd": "2024-04-02",
        "expires": "2024-04-03",
        "freezes": None,
        "maxFreezes": None,
        "freezeAutoEarnInterval": None,
        "freezeAutoEarnAmount": None,
    },
    "extendedMs": 1_712_044_800_000,
    "history": [
        ["2024-04-01", "2024-04-01", 0, True, False],
        ["2024-04-02", "2024-04-02", 1, False, False],
    ],
    "recent": [],
}
VIEW = decode_view(msgspec.json.encode(DOC))  # as the gateway reads it from Redis


def _view(**changed: object) -> UserView:
    return decode_view(msgspec.json.encode({**DOC, **changed}))


def test_views_render_into_the_sdk_models() -> None:
    user = User.model_validate(sent(api.user_json(VIEW)))
    # never set: subscribed (Trophy's default for `subscribeToEmails`)
    assert (user.id, user.attributes, user.subscribe_to_emails) == ("18", {"plan": "pro"}, True)
    unsubscribed = User.model_validate(sent(api.user_json(_view(subscribeToEmails=False))))
    assert unsubscribed.subscribe_to_emails is False and unsubscribed.sign_up_date is None
    signed = User.model_validate(sent(api.user_json(_view(signUpDate="2024-04-02"))))
    assert signed.sign_up_date == "2024-04-02"
    metric = MetricResponse.model_validate(sent(api.metric_json("words-written", VIEW, RULES)))
    assert metric.current == 750
    assert {a.id for a in metric.achievements if a.achieved_at} == {"first-words"}
    streak = StreakResponse.model_validate(sent(api.streak_response(VIEW, RULES, 1)))
    assert streak.length == 1 and streak.freezes is None
    assert [(h.period_start, h.length) for h in streak.streak_history] == [("2024-04-02", 1)]


def test_query_parameters() -> None:
    assert api.int_param(None, "n", 7, 1, 100) == 7
    assert api.int_param("30", "n", 7, 1, 100) == 30
    for bad in ("0", "101", "x", "1.5"):
        with pytest.raises(ApiError, match="n: expected an integer"):
            api.int_param(bad, "n", 7, 1, 100)
    assert api.bool_param("TRUE", "b") is True and api.bool_param(None, "b") is False
    with pytest.raises(ApiError, match="b: expected true or false"):
        api.bool_param("yes", "b")


def test_user_attribute_filter() -> None:
    assert api.attributes_param(None) is None
    assert api.attributes_param("plan:pro,team:a:b") == {"plan": "pro", "team": "a:b"}
    with pytest.raises(ApiError, match="userAttributes"):
        api.attributes_param("plan")
    pro = RULES.achievements["pro-wordsmith"]
    assert api.accessible(pro, {"plan": "pro"}) and not api.accessible(pro, {"plan": "free"})
    assert api.accessible(pro, None) and api.accessible(RULES.achievements["novella"], {})


def test_keys_are_checked_by_hash_only() -> None:
    key, digest = mint_key()
    assert key.startswith("pk_") and "." in key and digest == hash_key(key)
    assert key not in repr(KeyRing([digest]).__dict__)
    ring = KeyRing([hash_key("other"), digest])
    assert ring.check(key) and not ring.check(key + "x") and not ring.check(None)
    assert not KeyRing([]).check(key) and not KeyRing([])


def _refusal(call: object, *args: object) -> str:
    with pytest.raises(ApiError) as err:
        call(*args)  # type: ignore[operator]
    assert err.value.status == 422
    return err.value.message


def test_a_batch_items_error_names_its_path_once() -> None:
    item = {"key": "words-written", "user": {"id": "1"}, "value": 1, "idempotencyKey": ""}
    message = _refusal(api.parse_batch, {"events": [item]}, RULES)
    assert message.startswith("events[0].idempotencyKey: expected a string of 1 to 255")
    assert message.count("events[") == 1
    bare = _refusal(api.parse_batch, [{**item, "idempotencyKey": None, "value": "x"}], RULES)
    assert bare == "events[0].value: expected a number, got a string"


def test_huge_values_are_out_of_range_not_invalid_json() -> None:
    body = b'{"user": {"id": "1"}, "value": 1e400}'
    message = _refusal(api.parse_event, body, "words-written", RULES, None)
    assert message.startswith("value: too many digits or too large: '1e400'")
    assert "out of range" in message and "JSON" not in message


def test_errors_speak_of_json_kinds_not_python_or_msgspec_names() -> None:
    message = _refusal(
        api.parse_event, {"user": {"id": 7}, "value": 1}, "words-written", RULES, None
    )
    assert message == "user.id: expected a string, got a number"
    message = _refusal(
        api.parse_event,
        {"user": {"id": "1", "attributes": {"plan": 3}}, "value": 1},
        "words-written",
        RULES,
        None,
    )
    assert message == "user.attributes.plan: expected a string, got a number"
    for word in ("`", "Error", "$.", "decimal", "null"):
        assert word not in message


def test_a_value_from_the_body_bytes_is_exact() -> None:
    req = api.parse_event(
        b'{"user": {"id": "1"}, "value": 0.1000000000000000000001}', "words-written", RULES, None
    )
    assert req.value == Decimal("0.1000000000000000000001")


@given(st.integers(min_value=-(10**16), max_value=10**16))
def test_an_integer_value_reads_as_its_decimal_within_the_bound(n: int) -> None:
    """Plain integers take a shorter path than other numbers: the same value, the same bound
    (±10**15) as `Decimal`'s own reading of the text."""
    body = b'{"user": {"id": "1"}, "value": %d}' % n
    if abs(n) <= 10**15:
        value = api.parse_event(body, "words-written", RULES, None).value
        assert value == Decimal(str(n)) and str(value) == str(n)
    else:
        message = _refusal(api.parse_event, body, "words-written", RULES, None)
        assert message == f"value: {n} is beyond ±1,000,000,000,000,000"


def test_minus_zero_reads_as_the_decimal_minus_zero() -> None:
    value = api.parse_event(b'{"user": {"id": "1"}, "value": -0}', "words-written", RULES, None)
    assert str(value.value) == str(Decimal("-0"))


@pytest.mark.parametrize("raw", [b"6\xefD\xa0\xb1", b'"a" x', b"[1] ]"])
def test_a_body_of_the_wrong_type_and_bad_json_is_refused_as_bad_json(raw: bytes) -> None:
    """msgspec reports the type before reading on: the answer is still a 422, not a crash."""
    for parse in (api.parse_user, api.parse_preferences):
        with pytest.raises(ApiError) as err:
            parse(raw)
        assert err.value.status == 422
        assert err.value.message.startswith("request body: not valid JSON"), err.value.message
