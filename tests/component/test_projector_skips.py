"""A changelog record the projector cannot decode is skipped, logged with its offset and
counted in `podium_views_skipped_total` (no view is written for it). No Redis: nothing is
written, so the projector's Redis is a stand-in that only registers its script."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from processors.projector import Projector
from schemas.views import Keys
from tests.rules import writing_rules


class ScriptOnly:
    def register_script(self, script: str) -> Any:
        return None


def test_an_undecodable_state_record_is_skipped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = REGISTRY.get_sample_value("podium_views_skipped_total") or 0.0
    projector = Projector(ScriptOnly(), Keys("v:"), writing_rules())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        latest = projector.latest([SimpleNamespace(offset=41, value=b"not a state")])
    assert latest == {} and projector.invalid == 1
    assert REGISTRY.get_sample_value("podium_views_skipped_total") == before + 1
    [rec] = caplog.records
    assert rec.__dict__["offset"] == 41
