"""schemathesis against the served OpenAPI document: generated valid and invalid requests for
every operation (examples, coverage, fuzzing and stateful phases) never get a 5xx, and every
answer conforms to the document (status code, content type, response schema)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.gateway.conftest import Podium

pytestmark = pytest.mark.integration
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def test_document_is_served_without_a_key(podium: Podium) -> None:
    doc = httpx.get(podium.base_url + "/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/metrics/{key}/event" in doc["paths"]
    key_param = doc["paths"]["/v1/metrics/{key}/event"]["post"]["parameters"][0]
    assert key_param["schema"]["enum"] == ["chapters-finished", "words-written"]


def test_schemathesis_finds_no_server_error(podium: Podium, tmp_path: Path) -> None:
    root = podium.base_url.removesuffix("/v1")
    cli = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(cli),
            "run",
            f"{root}/v1/openapi.json",
            "--url",
            root,
            "-H",
            f"X-API-KEY: {podium.api_key}",
            "--checks",
            CHECKS,
            "--max-examples",
            "20",
            "--seed",
            "1",
            "--workers",
            "1",
            "--no-color",
            "--request-timeout",
            "15",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:]
    assert "No issues found" in done.stdout, done.stdout[-3000:]
