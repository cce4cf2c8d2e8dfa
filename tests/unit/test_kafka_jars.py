"""The Kafka jar cache is filled where it is named, even when named by a relative path: Maven
reads a relative `-DoutputDirectory` from the pom's folder, not from the caller's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deploy import local

# A stand-in for `mvn` that behaves as Maven does with a relative output folder: it resolves it
# against the folder of the pom given with -f, and copies one jar there.
FAKE_MVN = """#!/bin/sh
pom=""; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -f) pom="$2"; shift ;;
    -DoutputDirectory=*) out="${1#-DoutputDirectory=}" ;;
  esac
  shift
done
cd "$(dirname "$pom")" && mkdir -p "$out" && touch "$out/kafka_2.13-test.jar"
"""


def test_a_relative_cache_folder_gets_the_jars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN)
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    lib = local.ensure_kafka_jars(Path("cache"))

    assert lib == work / "cache" / f"kafka-{local.KAFKA_VERSION}" / "lib"
    assert (lib / "kafka_2.13-test.jar").exists()
    assert (lib / ".complete").read_text().strip() == local.KAFKA_VERSION
