"""The Redis read views: their key layout and the document kept per user. Pure.

The projector (`processors.projector`; documents built by `processors.core.views`) is the only
writer; the gateway's GET endpoints read. Everything here can be rebuilt from Kafka
(`podium views rebuild`).

Key layout (all under a namespace `prefix`, by default `podium:`):

    {prefix}user:{user_id}          hash  at  = the state record's offset on podium.state
                                          doc = JSON `UserView` document (below)
    {prefix}users                   set   every user id seen (the denominator of rarity)
    {prefix}completed:{achievement} set   user ids that completed the achievement
                                          (a set, so a redelivered record never double counts)
    {prefix}epoch:3                 string when the views were last built whole (epoch ms;
                                          ":3" is the layout's version, `VIEWS_LAYOUT`);
                                          written by the projector after a full rebuild.
                                          Missing = Redis lost the views (flushed, restarted
                                          without persistence) or they are being rebuilt:
                                          the gateway answers 503, never a false 404
    {prefix}rebuilding              string the token of the rebuild under way, a lease of
                                          `REBUILD_LEASE_S` renewed by each batch it applies
                                          (so the live projector does not start a second one;
                                          the epoch is set only if it survived, `FINISH_REBUILD`)
    {prefix}names                   hash  user id -> name (users with a name): a board page's
                                          names in one HMGET, not a document per entry
    {prefix}attr:{key}              zset  the users with user attribute `key`, all scored 0,
                                          member = `attribute_member(value, user_id)`: one
                                          value's users are one ZRANGEBYLEX range (the points
                                          summary's `userAttributes` filter). The user's hash
                                          keeps `a:{key}` = the value indexed, so a changed
                                          value moves the member. The fold never removes an
                                          attribute (they merge), so neither does the index
    {prefix}points:{system}         zset  the user ids with a standing in the points system
                                          (awarded in it at least once), scored by their
                                          total: the points summary and the level summary
                                          count ranges of it
    {prefix}streak:{kind}           zset  (`kind` active | longest) the user ids whose streak
                                          (current, or longest ever) is at least 1, scored
                                          by minus its length, so ZRANGE ascending is the
                                          streak rankings' order (longest first, then user
                                          id); a user whose length is 0 leaves it
                                          (`processors.core.streak_views`)
    {prefix}year:{kind}:{key}:{year}
                                    zset  one year's (`kind` metric | points) change per user,
                                          in each user's local year, over the kept days
                                          (`processors.core.wrapped.year_changes`): only years the
                                          user's kept days cover whole; wrapped's percentiles
                                          count ranges of it
    {prefix}board:{ranking}         zset  one ranking (`board|run|group`): score = -value,
                                          member = `board_member(value, reached_ms, user_id)`
                                          (the exact value first: the score is a double), so
                                          ZRANGE ascending is the exact order (value desc,
                                          reached first, user id) and ZRANK the position - 1,
                                          for every value, above 2^53 too
    {prefix}board-epoch:2, {prefix}board-rebuilding   the board views' own epoch marker and
                                          rebuild lease, as `epoch` and `rebuilding` above
    {prefix}board-member:{ranking}  hash  user id -> its member in the zset (a move removes
                                          the old member)
    {prefix}rank-history:{ranking}:{user_id}
                                    zset  the participant's daily snapshots on one ranking:
                                          score = the UTC day (date ordinal), member =
                                          `history_member(day)`; at most `HISTORY_DAYS` days
                                          (the latest), from `podium.leaderboards`
                                          (`processors.board_views.HistoryProjector`)
    {prefix}rank-history-epoch, {prefix}rank-history-rebuilding   the histories' own epoch
                                          marker and rebuild lease

A tenant's users (`schemas.tenants`) have the same per-user and aggregate keys with
`tenant:{tenant}:` (percent-encoded) after the prefix (`Keys.scoped`):
`{prefix}tenant:acme:user:18`, its own users set, completion sets, points, streak and yearly
sets, names hash and attribute index, with the ids the tenant knows. A tenant's rankings
are rankings of their own (the group starts with `@{tenant}`), so `board:`, `board-member:`
and `rank-history:` keys need no scope; their members are the ids the tenant knows. The
markers are shared.

The per-user document is written only when its version is newer than or equal to the stored
one (a Lua compare-and-set, `WRITE_USER`), so an older changelog record never overwrites a
newer view. The version is the state record's offset on `podium.state` (hash field `at`): a
user's states all land on one partition of that changelog, in the order they were decided,
and a `podium replay` writes its rebuilt states after the live ones, so the later offset is
the state to show even when it applied fewer commands (a count of applied commands, the
version before, kept the live view then). Equal offsets are a redelivery of the same record.

The document is a `UserView` (below; its JSON Schema is schemas/json/view.schema.json):
camelCase, decimals as strings, times epoch ms, and every day (metric and points days,
streak periods, the streak's dates, the sign-up date) an ISO date, `YYYY-MM-DD`. ISO rather
than ordinals: the answers print days as ISO dates, the document stays readable in
`redis-cli`, and msgspec decodes a `date` in C, so no reader parses strings or converts
ordinals by hand (`date.toordinal()` where it counts days). Documents of an older layout do
not decode: the layout's version (`VIEWS_LAYOUT`) is in the views' epoch marker, so the first
projector after an upgrade rebuilds them, and a reader answers 503 meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote

import msgspec

from schemas.records import Frequency
from schemas.state import KeptAward

DEFAULT_PREFIX = "podium:"
STREAK_RANKINGS = ("active", "longest")  # the kinds of `Keys.streak_ranking`
VIEWS_LAYOUT = ":3"
"""The user views' layout version, in their epoch marker (`Keys.epoch`). Views built under an
older layout have no marker of this one, so the projector rebuilds them on its first start
after an upgrade, and readers answer 503 meanwhile, as after a flush. ":2" added the offset
versions, the names hash and the attribute index; ":3" made the document a `UserView`, every
day an ISO date (":2" kept points days as ordinals)."""
BOARDS_LAYOUT = ":2"
"""The board views' layout version (":2": the exact board members), in `Keys.board_epoch`."""


class Positioned(Protocol):
    """A changelog record as the projector's loops hand it over (the Kafka adapter's `Record`
    is one): its offset in its partition and its value (None: a tombstone)."""

    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


# KEYS[1] = user hash, KEYS[2] = users set, KEYS[3..] = completion sets, then the zsets the
# user is scored in (points totals, year changes), then the zsets the user leaves, then the
# index: the names hash and one attribute zset per attribute of the user
# ARGV[1] = the state record's offset (the version), ARGV[2] = doc, ARGV[3] = user id,
# ARGV[4] = the number of zsets scored, ARGV[5] = the number left, ARGV[6..] = the user's
# score in each scored one (in KEYS order); then the index (`index_args`): the number of
# attributes, "1" and the name (or "0" and ""), then each attribute's key and value.
# Returns 1 when written.
WRITE_USER = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'at') or '-1')
if cur > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'doc', ARGV[2])
redis.call('HDEL', KEYS[1], 'v')
redis.call('SADD', KEYS[2], ARGV[3])
local zsets = tonumber(ARGV[4] or '0')
local gone = tonumber(ARGV[5] or '0')
local x = 6 + zsets
local attrs = tonumber(ARGV[x] or '-1')
local sets = #KEYS - zsets - gone - (attrs + 1)
for i = 3, sets do redis.call('SADD', KEYS[i], ARGV[3]) end
for j = 1, zsets do
  redis.call('ZADD', KEYS[sets + j], ARGV[5 + j], ARGV[3])
end
for k = 1, gone do redis.call('ZREM', KEYS[sets + zsets + k], ARGV[3]) end
if attrs < 0 then return 1 end
local names = sets + zsets + gone + 1
if ARGV[x + 1] == '1' then
  redis.call('HSET', KEYS[names], ARGV[3], ARGV[x + 2])
else
  redis.call('HDEL', KEYS[names], ARGV[3])
end
for a = 1, attrs do
  local field, value = 'a:' .. ARGV[x + 1 + 2 * a], ARGV[x + 2 + 2 * a]
  local old = redis.call('HGET', KEYS[1], field)
  if old ~= value then
    if old then redis.call('ZREM', KEYS[names + a], #old .. ':' .. old .. ARGV[3]) end
    redis.call('ZADD', KEYS[names + a], 0, #value .. ':' .. value .. ARGV[3])
    redis.call('HSET', KEYS[1], field, value)
  end
end
return 1
"""


def attribute_member(value: str, user_id: str) -> str:
    """A user's member in an attribute's zset (`Keys.attribute`): the value's UTF-8 length,
    ':', the value, then the user id, all scored 0, so the users with one value are one
    lexicographic range (`attribute_range`) and no value's range holds another's."""
    return f"{len(value.encode())}:{value}{user_id}"


def attribute_range(value: str) -> tuple[bytes, bytes]:
    """The ZRANGEBYLEX bounds of the members with this value: from the prefix on, before the
    prefix followed by 0xFF (a byte UTF-8 never has)."""
    prefix = f"{len(value.encode())}:{value}".encode()
    return b"[" + prefix, b"(" + prefix + b"\xff"


def user_of_attribute_member(member: bytes, value: str) -> str:
    """The user id in a member of `attribute_range(value)`."""
    return member[len(f"{len(value.encode())}:{value}".encode()) :].decode()


# KEYS[1] = rebuilding token, KEYS[2] = epoch; ARGV[1] = token, ARGV[2] = epoch ms.
# Returns 1 when the epoch was set, 0 when the views were lost meanwhile (redo the rebuild),
# 2 when another rebuild started since (it sets the epoch when done).
FINISH_REBUILD = """
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return 2 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
"""
REBUILD_LEASE_S = 30  # the rebuilding token expires unless its rebuild makes progress


@dataclass(frozen=True, slots=True)
class Keys:
    """The Redis keys of one deployment's views: the markers under `prefix`, the data of the
    default tenant too, a tenant's data under `prefix` + its `scope` (`scoped`)."""

    prefix: str = DEFAULT_PREFIX
    scope: str = ""  # "" for users of no tenant; "tenant:{quoted tenant}:" for a tenant's

    def scoped(self, tenant: str | None) -> Keys:
        """The keys of a tenant's views (`schemas.tenants`): the same markers, its own users,
        completion sets, points and yearly sets. Rankings and histories are not scoped: a
        tenant's rankings have names of their own (`schemas.tenants.tenant_group`)."""
        if not tenant:
            return self if not self.scope else Keys(self.prefix)
        return Keys(self.prefix, f"tenant:{quote(tenant, safe='')}:")

    def user(self, user_id: str) -> str:
        return f"{self.prefix}{self.scope}user:{user_id}"

    @property
    def users(self) -> str:
        return f"{self.prefix}{self.scope}users"

    def completed(self, achievement: str) -> str:
        return f"{self.prefix}{self.scope}completed:{achievement}"

    def points(self, system: str) -> str:
        return f"{self.prefix}{self.scope}points:{system}"

    def streak_ranking(self, kind: str) -> str:
        """The users ranked by their current (`kind` "active") or longest streak."""
        return f"{self.prefix}{self.scope}streak:{kind}"

    @property
    def names(self) -> str:
        """The users' names (user id -> name; absent: no name), for the pages of a board."""
        return f"{self.prefix}{self.scope}names"

    def attribute(self, key: str) -> str:
        """The users with attribute `key`, by value (`attribute_member`), for filters."""
        return f"{self.prefix}{self.scope}attr:{key}"

    def year(self, kind: str, key: str, year: int) -> str:
        """The year's changes of one metric (`kind` "metric") or points system ("points")."""
        return f"{self.prefix}{self.scope}year:{kind}:{key}:{year}"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}epoch{VIEWS_LAYOUT}"

    @property
    def rebuilding(self) -> str:
        return f"{self.prefix}rebuilding"

    @property
    def board_epoch(self) -> str:
        """The board views' own epoch marker (`processors.board_views`)."""
        return f"{self.prefix}board-epoch{BOARDS_LAYOUT}"

    @property
    def board_rebuilding(self) -> str:
        return f"{self.prefix}board-rebuilding"

    def board(self, ranking: str) -> str:
        return f"{self.prefix}board:{ranking}"

    def board_members(self, ranking: str) -> str:
        return f"{self.prefix}board-member:{ranking}"

    def rank_history(self, ranking: str, user_id: str) -> str:
        """A participant's daily snapshots on one ranking. A ranking key has no ':' (the group
        is percent-encoded, board keys and runs have none), so the user id after it is
        unambiguous."""
        return f"{self.prefix}rank-history:{ranking}:{user_id}"

    @property
    def rank_history_epoch(self) -> str:
        """The histories' own epoch marker (they are rebuilt from their own topic)."""
        return f"{self.prefix}rank-history-epoch"

    @property
    def rank_history_rebuilding(self) -> str:
        return f"{self.prefix}rank-history-rebuilding"

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of these views."""
        return f"{self.prefix}*"

    @property
    def markers(self) -> tuple[str, ...]:
        """Every epoch marker `pattern` matches: a rebuild drops them before it clears, so a
        reader answers 503, never a false 404, while the views go."""
        return (self.epoch, self.board_epoch, self.rank_history_epoch)


def board_member(value: Decimal, reached_ms: int, user_id: str) -> str:
    """A participant's member in a ranking's zset. Equal scores order by member bytes, so the
    member starts with the exact value (`ordered_key(-value)`): the score is a double, and
    values a double cannot tell apart (above 2^53, or differing beyond 17 digits) share a
    score; rounding to a double keeps order, so score then member is the exact order. Then the
    zero-padded time (who reached the value first), then the user id (UTF-8 byte order is
    code point order, the ranking's own tie order). No ':' before the one ahead of the id."""
    return f"{ordered_key(value.copy_negate())}{reached_ms:015d}:{user_id}"  # exact: no context


_EXPONENT_BIAS = 5000  # adjusted exponents within ±4999: values are 30 digits, exponent ±30
_COMPLEMENT = str.maketrans("0123456789", "9876543210")


def ordered_key(number: Decimal) -> str:
    """A string whose byte order is the numeric order of `number`, exactly (1.0 and 1 give
    the same key), and no key is a prefix of another: a sign class ("0" negative, "1" zero,
    "2" positive), the biased exponent of the leading digit (4 digits), the significant
    digits without trailing zeros, and a terminator below every digit ("."); a negative's
    digits are complemented and end above every digit ("~"), so a larger magnitude sorts
    first. Exponents beyond ±4999 are clamped (the edge admits none near them)."""
    if number == 0:
        return "1"
    sign, digits, _ = number.as_tuple()
    significant = "".join(map(str, digits)).strip("0")
    exponent = min(max(number.adjusted(), 1 - _EXPONENT_BIAS), _EXPONENT_BIAS - 1)
    magnitude = f"{exponent + _EXPONENT_BIAS:04d}{significant}"
    if sign == 0:
        return f"2{magnitude}."
    return f"0{magnitude.translate(_COMPLEMENT)}~"


# KEYS[1] = ranking zset, KEYS[2] = its member hash; ARGV = user id, member, score ("" = leave)
WRITE_BOARD = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('ZREM', KEYS[1], old) end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return 1
"""


HISTORY_DAYS = 100  # days kept per participant and ranking: Trophy's `numEvents` maximum


@dataclass(frozen=True, slots=True)
class HistoryDay:
    """One participant's day on one ranking: its rank and value before the day's first change
    and after the day's last (None: not on the board). `day` is the UTC date's ordinal."""

    day: int
    previous_rank: int | None
    rank: int | None
    previous_value: Decimal | None
    value: Decimal | None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def history_member(entry: HistoryDay) -> str:
    """A day's member in the history zset: `day|previousRank|rank|previousValue|value`, ""
    for None; decimals as written (no '|' in either)."""
    fields = (entry.day, entry.previous_rank, entry.rank, entry.previous_value, entry.value)
    return "|".join(_text(f) for f in fields)


def parse_history_member(member: bytes | str) -> HistoryDay:
    """The inverse of `history_member`."""
    text = member.decode() if isinstance(member, bytes) else member
    day, prev_rank, rank, prev_value, value = text.split("|")
    return HistoryDay(
        int(day),
        int(prev_rank) if prev_rank else None,
        int(rank) if rank else None,
        Decimal(prev_value) if prev_value else None,
        Decimal(value) if value else None,
    )


class Streak(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The user's streak now (a `StreakSnapshot` without `extended`, its days as dates)."""

    length: int
    longest: int
    frequency: Frequency
    started: date | None
    period_start: date | None
    period_end: date | None
    expires: date | None
    freezes: int | None = None
    max_freezes: int | None = None
    freeze_auto_earn_interval: int | None = None
    freeze_auto_earn_amount: int | None = None


class StreakPeriod(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A kept streak period, `[periodStart, periodEnd, length, usedFreeze, usedPause]`; a
    period between two kept ones had no streak (length 0)."""

    period_start: date
    period_end: date
    length: int
    used_freeze: bool
    used_pause: bool


class PointsDay(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A local day with points awarded: `[day, added, totalAtDayEnd]`."""

    day: date
    added: int
    total: int


class Points(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The user's standing in one points system: the total, the level key (None: below
    every level), the kept awards and days, oldest first (`ingest.http.api_points`)."""

    total: int
    level: str | None = None
    awards: tuple[KeptAward, ...] = ()
    days: tuple[PointsDay, ...] = ()


class MetricDay(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A local day with a change of a metric: `[day, added, totalAtDayEnd]`."""

    day: date
    added: Decimal
    total: Decimal


class UserView(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The document the gateway reads per user (hash field `doc`), built from the user's
    state by `processors.core.views.user_view`."""

    user_id: str
    email: str | None = None
    name: str | None = None
    tz: str | None = None
    device_tokens: tuple[str, ...] | None = None
    subscribe_to_emails: bool | None = None  # None: never set (Trophy's default is true)
    attributes: dict[str, str] = {}
    sign_up_date: date | None = None
    notifications: dict[str, tuple[str, ...]] = {}  # type -> channels ("email", "push")
    created_ms: int = 0
    updated_ms: int = 0
    events: int = 0  # commands applied
    totals: dict[str, Decimal] = {}
    achievements: dict[str, int] = {}  # key -> achieved at (ms)
    streak: Streak | None = None
    extended_ms: int | None = None  # the streak's last extension
    history: tuple[StreakPeriod, ...] = ()  # oldest first
    recent: tuple[str, ...] = ()  # short hashes of the latest event ids applied
    points: dict[str, Points] = {}
    metric_days: dict[str, tuple[MetricDay, ...]] = {}  # oldest first


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(UserView)


def encode_view(view: UserView) -> bytes:
    return _ENCODER.encode(view)


def decode_view(raw: bytes | str) -> UserView:
    """A stored document; `msgspec.ValidationError` (a `DecodeError`) when it is not one of
    this layout."""
    return _DECODER.decode(raw)
