"""User profiles: the upsert carried by every command's user object. Pure.

A field that is absent (None) leaves the stored value; `attributes` are merged key by key, up
to `MAX_USER_ATTRIBUTES` in all (`attributes_problem`: the runtime's step dead-letters a
command that would go over, the gateway refuses it first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.core.streaks import initial_streak
from schemas.commands import MAX_ATTRIBUTE_CHARS, MAX_USER_ATTRIBUTES, User
from schemas.rules import Rules
from schemas.state import UserState
from schemas.values import replace


def new_user(user_id: str, time_ms: int, rules: Rules, user: User | None = None) -> UserState:
    """A user seen for the first time, with the profile fields `user` carries."""
    u = user or User(id=user_id)
    return UserState(
        user_id=user_id,
        email=u.email,
        name=u.name,
        tz=u.tz,
        device_tokens=u.device_tokens,
        subscribe_to_emails=u.subscribe_to_emails,
        attributes=dict(u.attributes) if u.attributes else {},
        sign_up_date=u.sign_up_date,
        notifications=dict(u.notifications) if u.notifications else {},
        created_ms=time_ms,
        updated_ms=time_ms,
        streak=initial_streak(rules),
    )


def attributes_problem(state: UserState | None, user: User) -> str | None:
    """Why the user object's attributes cannot be merged into the user's (a key or value over
    `MAX_ATTRIBUTE_CHARS`, or more than `MAX_USER_ATTRIBUTES` in all), or None."""
    given = user.attributes
    if not given:
        return None
    for key, value in given.items():
        if len(key) > MAX_ATTRIBUTE_CHARS or len(value) > MAX_ATTRIBUTE_CHARS:
            return (
                f"user.attributes: {key[:64]!r}: a key and a value have at most "
                f"{MAX_ATTRIBUTE_CHARS} characters"
            )
    stored = state.attributes if state is not None else {}
    count = len(given) if not stored else len(stored.keys() | given.keys())
    if count > MAX_USER_ATTRIBUTES:
        return (
            f"user.attributes: a user has at most {MAX_USER_ATTRIBUTES} attributes; "
            f"{len(stored)} stored and {len(given)} given would make {count}"
        )
    return None


def upsert(state: UserState, user: User) -> UserState:
    """The state with the user object's given fields applied (the same object if unchanged)."""
    # Every command carries its user object, nearly always repeating what is stored: answer
    # that case with comparisons only, before building a dict of changes.
    attributes = user.attributes
    if (
        (user.email is None or user.email == state.email)
        and (user.name is None or user.name == state.name)
        and (user.tz is None or user.tz == state.tz)
        and (user.device_tokens is None or user.device_tokens == state.device_tokens)
        and (
            user.subscribe_to_emails is None
            or user.subscribe_to_emails == state.subscribe_to_emails
        )
        and (not attributes or attributes == state.attributes or _included(attributes, state))
        and (user.sign_up_date is None or user.sign_up_date == state.sign_up_date)
        and (not user.notifications or _included(user.notifications, state.notifications))
    ):
        return state
    changes: dict[str, Any] = {}
    if user.email is not None and user.email != state.email:
        changes["email"] = user.email
    if user.name is not None and user.name != state.name:
        changes["name"] = user.name
    if user.tz is not None and user.tz != state.tz:
        changes["tz"] = user.tz
    if user.device_tokens is not None and user.device_tokens != state.device_tokens:
        changes["device_tokens"] = tuple(user.device_tokens)
    if user.subscribe_to_emails is not None and (
        user.subscribe_to_emails != state.subscribe_to_emails
    ):
        changes["subscribe_to_emails"] = user.subscribe_to_emails
    if attributes and attributes != state.attributes and not _included(attributes, state):
        changes["attributes"] = {**state.attributes, **attributes}
    if user.sign_up_date is not None and user.sign_up_date != state.sign_up_date:
        changes["sign_up_date"] = user.sign_up_date
    if user.notifications and not _included(user.notifications, state.notifications):
        given = {k: tuple(v) for k, v in user.notifications.items()}
        changes["notifications"] = {**state.notifications, **given}
    return replace(state, **changes) if changes else state


def _included(given: Mapping[str, Any], stored: Mapping[str, Any] | UserState) -> bool:
    """Whether every given key already has that value (attributes, notification types)."""
    have = stored.attributes if isinstance(stored, UserState) else stored
    return all(have.get(k) == v for k, v in given.items())
