"""The `podium.events` codec: round trips, accepted forms and every rejection reason."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    InvalidRecord,
    MetricTracked,
    User,
    UserIdentified,
    decode_command,
    encode_command,
)

text = st.text(min_size=1, max_size=12)
users = st.builds(
    User,
    id=text,
    email=st.none() | text,
    name=st.none() | text,
    tz=st.sampled_from([None, "UTC", "Europe/London", "Asia/Kathmandu"]),
    device_tokens=st.none() | st.lists(text, max_size=3).map(tuple),
    subscribe_to_emails=st.none() | st.booleans(),
    attributes=st.none() | st.dictionaries(text, text, max_size=3),
)
decimals = st.decimals(
    allow_nan=False,
    allow_infinity=False,
    places=6,
    min_value=Decimal("-1e20"),
    max_value=Decimal("1e20"),
).filter(lambda d: len(d.as_tuple().digits) <= 30)
times = st.integers(0, 253_370_764_799_999)
commands = st.one_of(
    st.builds(
        MetricTracked,
        event_id=text,
        time_ms=times,
        user=users,
        metric=text,
        value=decimals,
        attributes=st.dictionaries(text, text, max_size=3),
        idempotency_key=st.none() | text,
    ),
    st.builds(UserIdentified, event_id=text, time_ms=times, user=users),
    st.builds(AchievementAwarded, event_id=text, time_ms=times, user=users, achievement=text),
    st.builds(ClockTicked, event_id=text, time_ms=times, user_id=text),
)


@settings(max_examples=200)
@given(commands)
def test_commands_round_trip(cmd: object) -> None:
    decoded = decode_command(encode_command(cmd))  # type: ignore[arg-type]
    assert decoded == cmd
    assert encode_command(decoded) == encode_command(cmd)


def base(**overrides: object) -> bytes:
    obj: dict[str, object] = {
        "schema_version": 1,
        "type": "metric",
        "eventId": "e1",
        "time": 1_700_000_000_000,
        "user": {"id": "18"},
        "metric": "words-written",
        "value": "750",
    }
    obj.update(overrides)
    return orjson.dumps({k: v for k, v in obj.items() if v is not DROP})


DROP = object()


def test_a_minimal_metric_event() -> None:
    cmd = decode_command(base())
    assert cmd == MetricTracked(
        event_id="e1",
        time_ms=1_700_000_000_000,
        user=User(id="18"),
        metric="words-written",
        value=Decimal("750"),
        attributes={},
        idempotency_key=None,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (750, Decimal("750")),
        (0.1, Decimal("0.1")),
        (-2.5, Decimal("-2.5")),
        ("0.30", Decimal("0.30")),
        (" 12 ", Decimal("12")),
        ("-0", Decimal("0")),
        (1e3, Decimal(1000)),
    ],
)
def test_the_value_may_be_a_json_number_or_a_decimal_string(raw: object, expected: Decimal) -> None:
    cmd = decode_command(base(value=raw))
    assert isinstance(cmd, MetricTracked)
    assert cmd.value == expected


def test_a_full_user_object_is_decoded() -> None:
    user = {
        "id": "18",
        "email": "a@b.c",
        "name": "Ada",
        "tz": "Europe/London",
        "deviceTokens": ["t1"],
        "subscribeToEmails": True,
        "attributes": {"plan": "pro"},
    }
    cmd = decode_command(base(user=user, attributes={"genre": "poetry"}, idempotencyKey="k"))
    assert cmd == MetricTracked(
        event_id="e1",
        time_ms=1_700_000_000_000,
        user=User(
            id="18",
            email="a@b.c",
            name="Ada",
            tz="Europe/London",
            device_tokens=("t1",),
            subscribe_to_emails=True,
            attributes={"plan": "pro"},
        ),
        metric="words-written",
        value=Decimal(750),
        attributes={"genre": "poetry"},
        idempotency_key="k",
    )


def test_unknown_keys_are_ignored() -> None:
    assert isinstance(decode_command(base(future="x")), MetricTracked)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{nope", "not JSON"),
        (b"[1, 2]", "not a JSON object: got an array"),
        (b'"text"', "not a JSON object: got a string"),
        (base(schema_version=DROP), "schema_version: missing"),
        (base(schema_version=2), "schema_version: unsupported 2 (expected 1)"),
        (base(schema_version="1"), "schema_version: unsupported '1' (expected 1)"),
        (base(type=DROP), "type: missing"),
        (
            base(type="points"),
            "type: unknown 'points' (expected metric, user, achievement or tick)",
        ),
        (base(eventId=DROP), "eventId: missing"),
        (base(eventId=5), "eventId: expected a non-empty string, got a number"),
        (base(time=DROP), "time: missing"),
        (base(time="2024-01-01"), "time: expected integer epoch milliseconds, got a string"),
        (base(time=1.5), "time: expected integer epoch milliseconds, got a number"),
        (base(time=-1), "time: out of range: -1"),
        (base(time=253_402_300_800_000), "time: out of range: 253402300800000"),
        (base(user=DROP), "user: missing"),
        (base(user="18"), "user: expected an object, got a string"),
        (base(user={}), "user.id: missing user id"),
        (base(user={"id": ""}), "user.id: missing user id"),
        (base(user={"id": 18}), "user.id: expected a string, got a number"),
        (base(user={"id": "1", "tz": "Mars/Olympus"}), "user.tz: unknown time zone 'Mars/Olympus'"),
        (
            base(user={"id": "1", "signUpDate": "2023-02-29"}),
            "user.signUpDate: expected a date YYYY-MM-DD, got '2023-02-29'",
        ),
        (
            base(user={"id": "1", "signUpDate": "2024-W09-4"}),
            "user.signUpDate: expected a date YYYY-MM-DD, got '2024-W09-4'",
        ),
        (base(user={"id": "1", "email": 3}), "user.email: expected a string, got a number"),
        (
            base(user={"id": "1", "deviceTokens": "t"}),
            "user.deviceTokens: expected an array of strings",
        ),
        (
            base(user={"id": "1", "subscribeToEmails": "yes"}),
            "user.subscribeToEmails: expected a boolean, got a string",
        ),
        (
            base(user={"id": "1", "attributes": {"plan": 1}}),
            "user.attributes.plan: expected a string, got a number",
        ),
        (base(metric=DROP), "metric: missing"),
        (base(value=DROP), "value: missing"),
        (base(value=None), "value: expected a number, got null"),
        (base(value=True), "value: expected a number, got a boolean"),
        (base(value="12abc"), "value: not a number: '12abc'"),
        (base(value="NaN"), "value: not finite: 'NaN'"),
        (base(value="-Infinity"), "value: not finite: '-Infinity'"),
        (base(value="1e400"), "value: too many digits or too large: '1e400'"),
        (base(value="1" * 31), "value: too many digits or too large: '" + "1" * 31 + "'"),
        (base(attributes=[1]), "attributes: expected an object, got an array"),
        (base(attributes={"genre": None}), "attributes.genre: expected a string, got null"),
        (base(idempotencyKey=""), "idempotencyKey: expected a non-empty string, got a string"),
        (base(type="achievement"), "achievement: missing"),
        (base(type="tick"), "userId: missing user id"),
    ],
)
def test_invalid_records_are_rejected_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_command(raw)
    assert caught.value.reason.startswith(reason), caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_nan_as_a_json_number_is_not_json() -> None:
    with pytest.raises(InvalidRecord, match="not JSON"):
        decode_command(b'{"schema_version":1,"type":"metric","value":NaN}')


def test_msgspec_errors_are_translated_into_the_fields_terms() -> None:
    """msgspec says "Expected `str`, got `int` - at `$.user.id`"; Podium says it in JSON's terms."""
    for raw, reason in (
        (
            base(user={"id": "1", "deviceTokens": ["a", 2]}),
            "user.deviceTokens[1]: expected a string, got a number",
        ),
        (base(time=True), "time: expected integer epoch milliseconds, got a boolean"),
        (base(value=1e300), "value: too many digits or too large: '1e+300'"),
    ):
        with pytest.raises(InvalidRecord) as caught:
            decode_command(raw)
        assert caught.value.reason.startswith(reason), caught.value.reason
        assert "`" not in caught.value.reason and "$." not in caught.value.reason
