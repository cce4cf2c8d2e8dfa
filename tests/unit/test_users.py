"""User profiles: the notification channels and the sign-up date a user object carries are
kept like its other fields (absent leaves the stored value; channels are set per type)."""

from __future__ import annotations

from processors.core.users import new_user, upsert
from processors.core.views import user_view
from schemas.commands import User, UserIdentified, decode_command, encode_command
from schemas.state import decode_state, encode_state
from schemas.views import encode_view
from tests.unit.strategies import RULES


def test_notification_channels_are_set_per_type_and_others_kept() -> None:
    state = new_user("u1", 10, RULES, User(id="u1", notifications={"recap": ("email",)}))
    assert dict(state.notifications) == {"recap": ("email",)}
    later = upsert(state, User(id="u1", notifications={"streak_reminder": ()}))
    assert dict(later.notifications) == {"recap": ("email",), "streak_reminder": ()}
    again = upsert(later, User(id="u1", notifications={"recap": ("push", "email")}))
    assert dict(again.notifications) == {"recap": ("push", "email"), "streak_reminder": ()}
    assert upsert(again, User(id="u1", notifications={"recap": ("push", "email")})) is again
    assert upsert(again, User(id="u1", name="Ann")).notifications == again.notifications


def test_the_sign_up_date_is_kept_and_replaced_only_when_given() -> None:
    state = upsert(new_user("u1", 10, RULES), User(id="u1", sign_up_date="2024-04-02"))
    assert state.sign_up_date == "2024-04-02"
    assert upsert(state, User(id="u1", name="Ann")).sign_up_date == "2024-04-02"
    assert upsert(state, User(id="u1", sign_up_date="2024-04-02")) is state
    assert upsert(state, User(id="u1", sign_up_date="2023-01-31")).sign_up_date == "2023-01-31"


def test_the_view_and_the_codecs_carry_them() -> None:
    user = User(id="u1", sign_up_date="2024-04-02", notifications={"recap": ("push",)})
    state = new_user("u1", 10, RULES, user)
    doc = encode_view(user_view(state, RULES))
    assert b'"signUpDate":"2024-04-02"' in doc and b'"notifications":{"recap":["push"]}' in doc
    assert decode_state(encode_state(state)) == state
    cmd = UserIdentified(event_id="e1", time_ms=10, user=user)
    raw = encode_command(cmd)
    assert b'"signUpDate":"2024-04-02"' in raw and b'"notifications":{"recap":["push"]}' in raw
    assert decode_command(raw) == cmd
    plain = encode_command(UserIdentified(event_id="e1", time_ms=10, user=User(id="u1")))
    assert b"signUpDate" not in plain and b"notifications" not in plain  # omitted when unset
