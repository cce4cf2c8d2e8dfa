"""Trophy's OpenAPI document in `tests/trophy/` is the one its README names, byte for byte:
the conformance test fuzzes against it, so an edit would move the contract silently."""

from __future__ import annotations

import hashlib
import json
import re

from deploy.settings import REPO_DIR

FOLDER = REPO_DIR / "tests" / "trophy"


def test_the_document_is_the_published_version_its_readme_names() -> None:
    readme = (FOLDER / "README.md").read_text()
    raw = (FOLDER / "application.json").read_bytes()
    version = re.search(r"\*\*version\s+(\S+)\*\*", readme)
    digest = re.search(r"`([0-9a-f]{64})`", readme)
    assert version and digest, "tests/trophy/README.md names no version or sha256"
    assert json.loads(raw)["info"]["version"] == version.group(1)
    assert hashlib.sha256(raw).hexdigest() == digest.group(1)
