"""`python -m deploy.dashboard_snapshot`: a picture of the Grafana dashboard's main panels from
a real run, without Grafana. A Prometheus server (Debian's `prometheus` package, on loopback,
its data in a temporary folder) scrapes the given processes' /metrics while a command runs
(the load); then the queries of those panels in `deploy/grafana/podium.json` are evaluated
over the run (`query_range`, Grafana's `$__rate_interval` as a fixed range) and drawn with
matplotlib, one chart per panel.

    python -m deploy.dashboard_snapshot --out docs/dashboard.png \\
        --targets 127.0.0.1:9100,127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103 -- COMMAND ...

Without a command it scrapes for `--seconds`. The README's picture is made this way."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.settings import REPO_DIR

DASHBOARD = REPO_DIR / "deploy" / "grafana" / "podium.json"
MAIN_PANELS = (
    "Ingest rate",
    "Answer wait p50 / p99",
    "Pending and 5xx share",
    "Consumer lag per group",
    "Dead letters by reason",
    "Blocked partitions",
    "Ready processes",
    "Broker round-trip: transaction commit p50 / p99",
)
"""The panels issue 21 names, in the dashboard's order."""
Points = list[tuple[float, float]]
UNITS = {"reqps": "per second", "s": "seconds", "percentunit": "share", "short": ""}
"""Grafana's unit ids as axis labels."""


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    unit: str
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend format)


def main_panels(dashboard: dict[str, Any], titles: Sequence[str] = MAIN_PANELS) -> list[Panel]:
    """The panels named `titles`, in that order, with their queries (KeyError: one is missing)."""
    by_title = {p["title"]: p for p in dashboard["panels"] if p["type"] != "row"}
    return [
        Panel(
            title,
            by_title[title].get("fieldConfig", {}).get("defaults", {}).get("unit", ""),
            tuple((t["expr"], t.get("legendFormat", "")) for t in by_title[title]["targets"]),
        )
        for title in titles
    ]


def concrete(expr: str, rate_interval: str) -> str:
    """A dashboard query with Grafana's `$__rate_interval` written out."""
    return expr.replace("$__rate_interval", rate_interval)


def legend(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's legend format: `{{label}}` replaced by the series' value of it."""
    out = fmt
    for name, value in labels.items():
        out = out.replace("{{" + name + "}}", value)
    return out or ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


def scrape_config(targets: Sequence[str], interval_s: float) -> str:
    return json.dumps(  # JSON is YAML: Prometheus reads it as its config
        {
            "global": {"scrape_interval": f"{interval_s:g}s", "scrape_timeout": "1s"},
            "scrape_configs": [{"job_name": "podium", "static_configs": [{"targets": targets}]}],
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True, slots=True)
class Prometheus:
    """A running Prometheus server's HTTP API."""

    url: str

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
            return json.loads(resp.read())

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> list[Any]:
        body = self.get("/api/v1/query_range", query=expr, start=start, end=end, step=step_s)
        result: list[Any] = body["data"]["result"]
        return result


@contextmanager
def prometheus(targets: Sequence[str], interval_s: float) -> Iterator[Prometheus]:
    """Run Prometheus on a free loopback port, scraping `targets`, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="podium-prometheus-") as folder:
        config = Path(folder) / "prometheus.yml"
        config.write_text(scrape_config(targets, interval_s))
        port = free_port()
        args = [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={folder}/data",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        with (Path(folder) / "prometheus.log").open("w") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            server = Prometheus(f"http://127.0.0.1:{port}")
            _wait_ready(server, proc)
            yield server
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _wait_ready(server: Prometheus, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("prometheus did not become ready in time")


def evaluate(
    server: Prometheus, panels: Sequence[Panel], span: tuple[float, float], step_s: float
) -> dict[str, list[tuple[str, Points]]]:
    """Each panel's series over `span`: (legend, [(seconds since the start, value)])."""
    rate_interval = f"{max(4 * step_s, 10):g}s"
    start, end = span
    drawn: dict[str, list[tuple[str, Points]]] = {}
    for panel in panels:
        lines = drawn.setdefault(panel.title, [])
        for expr, fmt in panel.targets:
            for series in server.query_range(concrete(expr, rate_interval), start, end, step_s):
                points = [(float(t) - start, float(v)) for t, v in series["values"]]
                lines.append((legend(fmt, series["metric"]), points))
    return drawn


def draw(panels: Sequence[Panel], drawn: dict[str, list[tuple[str, Points]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 4
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel("seconds", fontsize=7)
        ax.set_ylabel(UNITS.get(panel.unit, panel.unit), fontsize=7)
        ax.tick_params(labelsize=7)
        for name, points in drawn.get(panel.title, []):
            ax.plot([t for t, _ in points], [v for _, v in points], label=name, linewidth=1)
        if drawn.get(panel.title):
            ax.legend(fontsize=6, loc="best")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.dashboard_snapshot")
    parser.add_argument("--targets", required=True, help="host:port,… of /metrics to scrape")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--seconds", type=float, default=60, help="without a command")
    parser.add_argument("--scrape-s", type=float, default=2.0, help="scrape interval")
    parser.add_argument("command", nargs="*", help="the load to run meanwhile (after --)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    panels = main_panels(json.loads(DASHBOARD.read_text()))
    with prometheus(args.targets.split(","), args.scrape_s) as server:
        start = time.time()
        if args.command:
            subprocess.run(args.command, check=True)
        else:
            time.sleep(args.seconds)
        time.sleep(2 * args.scrape_s)  # the last scrapes of the run
        drawn = evaluate(server, panels, (start, time.time()), args.scrape_s)
    draw(panels, drawn, args.out)
    print(f"wrote {args.out}: {sum(map(len, drawn.values()))} series in {len(panels)} panels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
