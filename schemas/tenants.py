"""Tenants: Trophy's `Tenant-ID` header isolates users and everything derived from them, under
the same rules. The wire form of a tenant's user, and of a tenant's rankings.

- **Users**: on the topics a tenant's user id is `"{tenant}\\0{id}"` (U+0000 between them);
  a user of no tenant keeps the bare id, so a deployment without tenants reads and writes
  exactly what it did before. The gateway refuses an id holding U+0000, so no request can
  name another tenant's user. Every per-user thing (state, facts, progress, Kafka key and
  partition) follows from the id alone.
- **Rankings**: a tenant's participants are ranked apart from everyone else's: the ranking's
  group starts with `"@{tenant}"` (percent-encoded), then `"&"` and the breakdown group if
  any. A breakdown group is `attr=value` pairs, percent-encoded, so it never starts with '@'.
- **Views**: a tenant's Redis views live under their own scope (`schemas.views.Keys.scoped`)
  with bare ids and rankings without the tenant, so the gateway reads them as it reads the
  default tenant's.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, unquote

SEPARATOR: Final = "\x00"


def qualify(tenant: str | None, user_id: str) -> str:
    """The user id on the topics of the user `user_id` of `tenant` (None: no tenant)."""
    return user_id if not tenant else f"{tenant}{SEPARATOR}{user_id}"


def split_user(user_id: str) -> tuple[str | None, str]:
    """(tenant or None, the id the tenant knows) of a user id on the topics."""
    tenant, sep, bare = user_id.partition(SEPARATOR)
    return (tenant, bare) if sep else (None, user_id)


def tenant_group(tenant: str | None, group: str) -> str:
    """The group of a ranking of `tenant` whose breakdown group is `group` ("" for none)."""
    if not tenant:
        return group
    scoped = "@" + quote(tenant, safe="")
    return f"{scoped}&{group}" if group else scoped


def split_group(group: str) -> tuple[str | None, str]:
    """(tenant or None, breakdown group) of a ranking's group."""
    if not group.startswith("@"):
        return None, group
    scoped, _, rest = group.partition("&")
    return unquote(scoped[1:]), rest
