"""Tenants (`schemas.tenants`): the wire form of a tenant's user and ranking, the views'
scoped keys, and where the fold, the gateway's publish step and the direct client put the
tenant. Expected strings are written out by hand from the documented layout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.client import EventClient
from ingest.http.api import ApiError, parse_event
from ingest.tenancy import TENANT, tenant_of, with_tenant
from ingest.tenancy import ranking as tenant_ranking
from processors.core.leaderboards import Standing, score_changes
from processors.core.moment import Moment
from schemas.commands import ClockTicked, MetricTracked, User
from schemas.tenants import qualify, split_group, split_user, tenant_group
from schemas.views import Keys
from tests.rules import leaderboard_rules, writing_rules

ids = st.text(min_size=1).filter(lambda s: "\x00" not in s)


def test_a_tenants_user_is_tenant_nul_id_and_no_tenant_keeps_the_bare_id() -> None:
    assert qualify("acme", "18") == "acme\x0018"
    assert qualify(None, "18") == qualify("", "18") == "18"
    assert split_user("acme\x0018") == ("acme", "18")
    assert split_user("18") == (None, "18")


@given(tenant=ids, user=ids)
def test_qualified_ids_split_back_and_never_equal_a_bare_id(tenant: str, user: str) -> None:
    qualified = qualify(tenant, user)
    assert split_user(qualified) == (tenant, user)
    assert "\x00" in qualified and "\x00" not in user


def test_a_tenants_group_names_the_tenant_before_the_breakdown() -> None:
    assert tenant_group("acme", "") == "@acme"
    assert tenant_group("acme", "plan=pro") == "@acme&plan=pro"
    assert tenant_group("a&b@c", "plan=pro") == "@a%26b%40c&plan=pro"
    assert tenant_group(None, "plan=pro") == "plan=pro"
    assert split_group("@a%26b%40c&plan=pro&region=eu") == ("a&b@c", "plan=pro&region=eu")
    assert split_group("plan=pro") == (None, "plan=pro")
    assert split_group("") == (None, "")


@given(tenant=ids, group=st.sampled_from(["", "plan=pro", "plan=pro&region=eu", "p=%40x"]))
def test_groups_split_back(tenant: str, group: str) -> None:
    assert split_group(tenant_group(tenant, group)) == (tenant, group)


def test_scoped_keys_move_the_data_and_share_the_markers() -> None:
    base = Keys("v:")
    acme = base.scoped("acme")
    assert acme.user("18") == "v:tenant:acme:user:18"
    assert (acme.users, acme.completed("a"), acme.points("xp")) == (
        "v:tenant:acme:users",
        "v:tenant:acme:completed:a",
        "v:tenant:acme:points:xp",
    )
    assert acme.year("metric", "words", 2026) == "v:tenant:acme:year:metric:words:2026"
    assert base.scoped("a:b").user("1") == "v:tenant:a%3Ab:user:1"
    assert (acme.epoch, acme.board("r"), acme.rank_history("r", "18")) == (
        base.epoch,
        base.board("r"),
        base.rank_history("r", "18"),
    )
    assert base.scoped(None) is base and acme.scoped(None) == base


def test_the_fold_ranks_a_tenants_user_on_the_tenants_rankings() -> None:
    boards = leaderboard_rules().leaderboards
    before, after = Standing({"words": Decimal(0)}), Standing({"words": Decimal(40)})
    at = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    for user, group in (("acme\x0018", "@acme"), ("18", "")):
        moment = Moment.of(user, "e1", at, None, {})
        _, changes = score_changes(boards, {}, before, after, moment)
        all_time = next(c for c in changes if c.board == "all-time-words")
        assert (all_time.group, all_time.user_id) == (group, user)
        assert all_time.ranking == f"all-time-words|all|{group}"


def test_the_gateway_qualifies_commands_and_rankings_by_the_requests_tenant() -> None:
    cmd = MetricTracked(
        event_id="e1", time_ms=1, user=User(id="18"), metric="words", value=Decimal(1)
    )
    tick = ClockTicked(event_id="t1", time_ms=1, user_id="18")
    assert with_tenant(cmd) is cmd and tenant_ranking("b", "all", "") == "b|all|"
    token = TENANT.set("acme")
    try:
        assert with_tenant(cmd).user.id == "acme\x0018"  # type: ignore[union-attr]
        assert with_tenant(tick) is tick  # the gateway writes none; `podium tick` qualifies
        assert tenant_ranking("b", "all", "plan=pro") == "b|all|@acme&plan=pro"
    finally:
        TENANT.reset(token)
    assert tenant_of([(b"x-api-key", b"k"), (b"tenant-id", b"acme")]) == "acme"
    assert tenant_of([(b"tenant-id", b"")]) is None
    assert tenant_of([]) is None


def test_the_direct_client_writes_the_tenants_user() -> None:
    rules = writing_rules()
    plain = EventClient("127.0.0.1:1", rules).command("words-written", {"id": "18"}, 5)
    acme = EventClient("127.0.0.1:1", rules, tenant="acme").command(
        "words-written", {"id": "18"}, 5
    )
    assert (plain.user.id, acme.user.id) == ("18", "acme\x0018")


@pytest.mark.parametrize("uid", ["acme\x0018", "\x00"])
def test_the_gateway_refuses_a_user_id_holding_u0000(uid: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_event({"user": {"id": uid}, "value": 1}, "words-written", writing_rules(), None)
    assert "U+0000" in err.value.message
