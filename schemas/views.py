"""The Redis read views: their key layout and the document kept per user. Pure.

The projector (`processors.projector`; documents built by `processors.views`) is the only
writer; the gateway's GET endpoints read. Everything here can be rebuilt from Kafka
(`podium views rebuild`).

Key layout (all under a namespace `prefix`, by default `podium:`):

    {prefix}user:{user_id}          hash  v   = the state's version (commands applied)
                                          doc = JSON `UserView` document (below)
    {prefix}users                   set   every user id seen (the denominator of rarity)
    {prefix}completed:{achievement} set   user ids that completed the achievement
                                          (a set, so a redelivered record never double counts)

The per-user document is written only when its version is newer than or equal to the stored
one (a Lua compare-and-set, `WRITE_USER`), so an older changelog record never overwrites a
newer view. Equal versions carry the same state (the fold is deterministic) unless the rules
changed and the log was replayed, in which case the later record is the one to keep.

`UserView` JSON (camelCase, decimals as strings, times epoch ms, dates ISO):

    {"userId", "email", "name", "tz", "deviceTokens", "subscribeToEmails", "attributes",
     "signUpDate": "YYYY-MM-DD" | null, "notifications": {type: ["email", "push"]},
     "createdMs", "updatedMs", "events", "totals": {metric: "750"},
     "achievements": {key: achievedAtMs},
     "streak": {"length", "longest", "frequency", "started", "periodStart", "periodEnd",
                "expires", "freezes", "maxFreezes", "freezeAutoEarnInterval",
                "freezeAutoEarnAmount"} | null,
     "extendedMs": int | null,
     "history": [[periodStart, periodEnd, length, usedFreeze], ...]   (oldest first)
     "recent": [short hashes of the latest event ids applied],
     "metricDays": {metric: [[localDay, added, totalAtDayEnd], ...]}   (oldest first)}
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

DEFAULT_PREFIX = "podium:"

# KEYS[1] = user hash, KEYS[2] = users set, KEYS[3..] = completion sets
# ARGV[1] = version, ARGV[2] = doc, ARGV[3] = user id. Returns 1 when written.
WRITE_USER = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if cur > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'doc', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
for i = 3, #KEYS do redis.call('SADD', KEYS[i], ARGV[3]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class Keys:
    """The Redis keys of one deployment's views."""

    prefix: str = DEFAULT_PREFIX

    def user(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}"

    @property
    def users(self) -> str:
        return f"{self.prefix}users"

    def completed(self, achievement: str) -> str:
        return f"{self.prefix}completed:{achievement}"

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of these views."""
        return f"{self.prefix}*"


def encode_view(view: dict[str, Any]) -> bytes:
    return orjson.dumps(view, option=orjson.OPT_SORT_KEYS)


def decode_view(raw: bytes | str) -> dict[str, Any]:
    view: dict[str, Any] = orjson.loads(raw)
    return view


def view_total(view: dict[str, Any] | None, metric: str) -> Decimal:
    if view is None:
        return Decimal(0)
    return Decimal(view["totals"].get(metric, "0"))
