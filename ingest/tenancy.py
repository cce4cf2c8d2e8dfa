"""The request's tenant: Trophy's optional `Tenant-ID` header, set by the gateway's guard
(`ingest.app.RequireApiKey`) for the request it passes on. Views are read under the tenant's
keys (`ingest.views.ViewReader.keys`), commands carry the tenant's user ids
(`with_tenant`), rankings are the tenant's (`ranking`); the routes themselves deal in the ids
the tenant knows. Layout and reasons: `schemas.tenants`."""

from __future__ import annotations

from contextvars import ContextVar

from schemas.commands import ClockTicked, Command
from schemas.leaderboards import ranking_key
from schemas.tenants import qualify, tenant_group
from schemas.values import replace

TENANT: ContextVar[str | None] = ContextVar("podium_tenant", default=None)


def tenant_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The `Tenant-ID` header's value (latin-1, as HTTP carries it), None when absent or
    empty."""
    for name, value in headers:
        if name == b"tenant-id":
            return value.decode("latin-1") or None
    return None


def with_tenant(cmd: Command) -> Command:
    """The command as the log carries it: the user id qualified by the request's tenant."""
    tenant = TENANT.get()
    if tenant is None or isinstance(cmd, ClockTicked):
        return cmd
    return replace(cmd, user=replace(cmd.user, id=qualify(tenant, cmd.user.id)))


def ranking(board: str, run: str, group: str) -> str:
    """The key of the request's tenant's ranking of a board's run and breakdown group."""
    return ranking_key(board, run, tenant_group(TENANT.get(), group))
