"""`python -m deploy.healthcheck [PORT ...]`: the image's HEALTHCHECK. A container runs one
Podium process, which serves /livez on its metrics port (gateway 9100, worker 9101, ranker
9102, projector 9103, webhooks 9104); exit 0 when /livez answers 200 on one of the given ports
(default: all of those) on this host's loopback, 1 otherwise. Liveness, not readiness: a broker
outage does not make a process unhealthy (issue 21)."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Sequence

METRICS_PORTS = (9100, 9101, 9102, 9103, 9104)


def alive(port: int, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=timeout_s) as r:
            return bool(r.status == 200)
    except OSError:  # refused, timed out, or an HTTP error status (HTTPError is an OSError)
        return False


def main(argv: Sequence[str] | None = None) -> int:
    ports = [int(a) for a in (sys.argv[1:] if argv is None else argv)] or METRICS_PORTS
    return 0 if any(alive(port) for port in ports) else 1


if __name__ == "__main__":
    sys.exit(main())
