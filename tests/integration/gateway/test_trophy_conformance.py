"""schemathesis with Trophy's own OpenAPI document (version 1.21.1, the one its SDKs are
generated from) against the real stack, every check on: each operation Podium serves answers
only the status codes Trophy lists for it, with bodies that validate against Trophy's schemas.
The stack runs the tests' writing rules with three leaderboards and a points system added
(`BOARDS`, `POINTS`) and the ranker, so the leaderboard and points reads answer real boards and
systems, ranked and awarded from the events the fuzzer sends.

Where Trophy's document is wrong or vague, `amend` changes a copy of it, one named point each
(a test holds it to the pointers it names), and `docs/trophy-conformance.md` lists the same
points; nothing else of the document is changed."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from deploy.settings import REPO_DIR
from ingest.http import api, api_leaderboards
from schemas.commands import known_time_zone
from tests.integration.gateway.conftest import Podium, start_podium
from tests.rules import WRITING_PATH

pytestmark = pytest.mark.integration
# Trophy's own document, kept unchanged in the repository (its source: tests/trophy/README.md)
TROPHY_DOCUMENT = REPO_DIR / "tests" / "trophy" / "application.json"
SERVED = {
    "/metrics/{key}/event": ("post",),
    "/achievements": ("get",),
    "/achievements/{key}/complete": ("post",),
    "/streaks": ("get",),
    "/users": ("post",),
    "/users/{id}": ("get", "put", "patch"),
    "/users/{id}/metrics": ("get",),
    "/users/{id}/metrics/{key}": ("get",),
    "/users/{id}/achievements": ("get",),
    "/users/{id}/streak": ("get",),
    "/users/{id}/preferences": ("get", "patch"),
    "/users/{id}/metrics/{key}/event-summary": ("get",),
    "/leaderboards": ("get",),
    "/leaderboards/{key}": ("get",),
    "/users/{id}/leaderboards/{key}": ("get",),
    "/points/{key}": ("get",),
    "/points/{key}/summary": ("get",),
    "/points/{key}/boosts": ("get",),
    "/points/{key}/levels": ("get",),
    "/points/{key}/level-summary": ("get",),
    "/users/{id}/points/{key}": ("get",),
    "/users/{id}/points/{key}/boosts": ("get",),
    "/users/{id}/points/{key}/event-summary": ("get",),
    "/users/{id}/wrapped": ("get",),
}
OPERATIONS = 27
# Added to the writing rules: a perpetual board, a weekly one with a cap, a finished one
BOARDS = """
[[leaderboards]]
key = "top-writers"
name = "Top writers"
rank_by = "metric"
metric = "words-written"

[[leaderboards]]
key = "weekly-top"
name = "Weekly top three"
rank_by = "metric"
metric = "chapters-finished"
run_unit = "day"
run_interval = 7
max_participants = 3

[[leaderboards]]
key = "spring-2020"
name = "Spring 2020"
rank_by = "metric"
metric = "words-written"
run_unit = "month"
start = 2020-03-01
end = 2020-05-31
"""
BOARD_KEYS = ["top-writers", "weekly-top", "spring-2020"]
# Added too: a points system with a described level and a badge, and a boost of each status
# (one for a user attribute), beside the writing rules' `xp` (levels) and `coins` (a cap)
POINTS = """
[[points]]
key = "karma"
name = "Karma"
description = "Standing among the writers"
badge_url = "https://example.com/badges/karma.png"

[[points.triggers]]
key = "per-chapter"
type = "metric"
metric = "chapters-finished"
threshold = 1
points = 4
event_attributes = { genre = "poetry" }

[[points.levels]]
key = "newcomer"
name = "Newcomer"
points = 0

[[points.levels]]
key = "regular"
name = "Regular"
description = "20 karma"
badge_url = "https://example.com/badges/regular.png"
points = 20

[[points.boosts]]
key = "pro-double"
name = "Pro double"
multiplier = 2
start = 2020-01-01T00:00:00Z
user_attributes = { plan = "pro" }

[[points.boosts]]
key = "launch-triple"
name = "Launch triple"
multiplier = 3
start = 2020-01-01T00:00:00Z
end = 2020-02-01T00:00:00Z

[[points.boosts]]
key = "future-half"
name = "Future bonus"
multiplier = 1.5
start = 2999-01-01T00:00:00Z
rounding = "up"
"""
POINTS_KEYS = ["xp", "coins", "karma"]
LEVELLED_KEYS = ["xp", "karma"]  # `coins` has no levels
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
STRING = {"type": "string", "maxLength": api.MAX_USER_STRING}
ATTRIBUTES = {
    "type": "object",
    "maxProperties": api.MAX_ATTRIBUTES,
    "propertyNames": {"minLength": 1, "maxLength": api.MAX_ATTRIBUTE_LENGTH},
    "additionalProperties": {"type": "string", "maxLength": api.MAX_ATTRIBUTE_LENGTH},
}
# A sample of IANA zones (odd offsets, both hemispheres): each enum value is a case of the
# coverage phase for every user-carrying operation, and all ~600 zones take minutes.
ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Pacific/Kiritimati",
]
# Podium's values: within ±1e15 (`ingest.http.requests.MAX_EVENT_VALUE`); at most 30 digits and
# an exponent within ±30 (`schemas.commands.value_problem`), which cents always meet
VALUE = {"type": "number", "minimum": -1e15, "maximum": 1e15, "multipleOf": 0.01}
ATTRIBUTE_PAIRS = "^([^:,]+:[^,]*(,[^:,]+:[^,]*)*)?$"  # empty: no filter


def _answer(why: str, content: dict[str, Any] = ERROR) -> dict[str, Any]:
    return {"description": why, "content": content}


def amend(doc: dict[str, Any]) -> list[str]:
    """Apply the points where Trophy's document is wrong or vague (each one listed in
    docs/trophy-conformance.md); the JSON pointers it changed."""
    p, c = doc["paths"], doc["components"]["schemas"]
    _amend_writes(p)
    _amend_users(p, c)
    _amend_reads(p)
    _amend_leaderboards(p)
    _amend_points(p)
    # Trophy's SDK 1.27 has the `anniversary` trigger (`anniversaryYears`); the document does not
    c["AchievementResponse"]["properties"]["trigger"]["enum"].append("anniversary")
    c["UpdateUserPreferencesRequest"]["additionalProperties"] = False
    c["NotificationPreferences"]["additionalProperties"] = False
    return AMENDED


def _amend_writes(p: dict[str, Any]) -> None:
    """The metric event's answers and bounds; the write bodies closed."""
    event = p["/metrics/{key}/event"]["post"]
    # Trophy answers 404 for an unknown metric or user; the document omits it
    event["responses"]["404"] = _answer("unknown metric")
    p["/users/{id}"]["get"]["responses"]["404"] = _answer("unknown user")
    # Trophy's prose: an idempotent replay answers 202; the document lists 201 only
    event["responses"]["202"] = _answer("idempotent replay", event["responses"]["201"]["content"])
    # Bounds the document leaves out: Podium's (README, "Limits")
    event["parameters"][1]["schema"].update(minLength=1, maxLength=api.MAX_IDEMPOTENCY_KEY)
    body = event["requestBody"]["content"]["application/json"]["schema"]
    # an event's attributes may be null: Trophy's SDK sends null for `attributes=None`
    body["properties"].update(value=VALUE, attributes={"anyOf": [ATTRIBUTES, {"type": "null"}]})
    body["additionalProperties"] = False
    complete = p["/achievements/{key}/complete"]["post"]["requestBody"]["content"]
    complete["application/json"]["schema"]["additionalProperties"] = False


def _amend_users(p: dict[str, Any], c: dict[str, Any]) -> None:
    """The user bodies bounded and closed; the PATCH example made consistent."""
    updated = c["UpdatedUser"]
    updated["properties"].update(
        email=STRING,
        name=STRING,
        tz={"type": ["string", "null"], "enum": [*ZONES, None]},
        deviceTokens={"type": ["array", "null"], "items": STRING, "maxItems": 100},
        attributes=ATTRIBUTES,
    )
    updated["additionalProperties"] = False  # Podium refuses unknown fields, naming them
    c["UpsertedUser"] = {  # UpdatedUser and `id`, closed: `allOf` cannot close it
        "type": "object",
        "properties": {
            **updated["properties"],
            "id": {"type": "string", "minLength": 1, "maxLength": api.MAX_ID},
        },
        "required": ["id"],
        "additionalProperties": False,
    }
    # the PATCH example's body id differs from the path's example id
    del p["/users/{id}"]["patch"]["requestBody"]["content"]["application/json"]["example"]["id"]


def _amend_reads(p: dict[str, Any]) -> None:
    """The read routes' query parameters bounded."""
    # "false" is taken as well as "true" (Trophy: any other value means completed only)
    p["/users/{id}/achievements"]["get"]["parameters"][1]["schema"]["enum"] = ["true", "false"]
    history = p["/users/{id}/streak"]["get"]["parameters"][1]["schema"]
    history.update(minimum=1, maximum=api.MAX_HISTORY_PERIODS)
    ids = p["/streaks"]["get"]["parameters"][0]["schema"]
    ids.update(minItems=1, maxItems=api.MAX_STREAK_USERS, items={"type": "string", "minLength": 1})
    p["/achievements"]["get"]["parameters"][0]["schema"]["pattern"] = ATTRIBUTE_PAIRS
    # start <= end, at most 400 days apart: two parameters a schema cannot relate; dates
    # that meet it
    for path in ("/users/{id}/metrics/{key}", "/users/{id}/points/{key}"):
        summary = p[path + "/event-summary"]["get"]["parameters"]
        summary[3]["schema"]["enum"] = ["2024-01-01", "2024-02-29"]
        summary[4]["schema"]["enum"] = ["2024-03-01", "2024-12-31"]


def _amend_leaderboards(p: dict[str, Any]) -> None:
    """The leaderboard reads' keys named, their bounds stated."""
    board = p["/leaderboards/{key}"]["get"]["parameters"]
    user = p["/users/{id}/leaderboards/{key}"]["get"]["parameters"]
    # the boards of the test's rules, so that the cases reach them (any other key is a 404)
    board[0]["schema"]["enum"] = user[1]["schema"]["enum"] = BOARD_KEYS
    board[1]["schema"]["maximum"] = api_leaderboards.MAX_OFFSET  # offset
    board[2]["schema"]["maximum"] = api_leaderboards.MAX_LIMIT  # limit
    # userAttributes chooses a breakdown group, required with a breakdown and refused
    # without one: a rule between two parameters; the test's boards have no breakdown
    board[5]["schema"]["enum"] = [""]


def _amend_points(p: dict[str, Any]) -> None:
    """The points reads' keys named, their query parameters stated."""
    # the points systems of the test's rules, so that the cases reach them (any other key
    # is a 404)
    for path, item in p.items():
        if path.startswith(("/points/{key}", "/users/{id}/points/{key}")):
            key = next(q for q in item["get"]["parameters"] if q["name"] == "key")
            key["schema"]["enum"] = POINTS_KEYS
    # the level summary of a system without levels is 422 (Trophy's "No levels configured"),
    # a rule over the rules file that a schema cannot state: the systems with levels
    p["/points/{key}/level-summary"]["get"]["parameters"][0]["schema"]["enum"] = LEVELLED_KEYS
    p["/points/{key}/summary"]["get"]["parameters"][1]["schema"]["pattern"] = ATTRIBUTE_PAIRS
    # includeFinished: the operation lists no 422, and the prose names only 'true' (any
    # other value is the default), so every value is answered; the SDK's booleans stay
    finished = {"anyOf": [{"type": "boolean"}, {"type": "string"}], "default": False}
    p["/points/{key}/boosts"]["get"]["parameters"][1]["schema"] = finished
    # year: "between 1 and the current year" (the user's): the year now where it is earliest
    # (UTC-12) is current for every user
    wrapped = p["/users/{id}/wrapped"]["get"]["parameters"][1]["schema"]
    wrapped["maximum"] = datetime.now(ZoneInfo("Etc/GMT+12")).year


AMENDED = [
    "/paths/~1metrics~1{key}~1event/post/responses/404",
    "/paths/~1metrics~1{key}~1event/post/responses/202",
    "/paths/~1metrics~1{key}~1event/post/parameters/1/schema",
    "/paths/~1metrics~1{key}~1event/post/requestBody/content/application~1json/schema",
    "/paths/~1achievements~1{key}~1complete/post/requestBody/content/application~1json/schema",
    "/paths/~1users~1{id}/get/responses/404",
    "/paths/~1users~1{id}/patch/requestBody/content/application~1json/example/id",
    "/paths/~1users~1{id}~1achievements/get/parameters/1/schema/enum",
    "/paths/~1users~1{id}~1streak/get/parameters/1/schema",
    "/paths/~1streaks/get/parameters/0/schema",
    "/paths/~1achievements/get/parameters/0/schema/pattern",
    "/components/schemas/UpdatedUser",
    "/components/schemas/UpsertedUser",
    "/paths/~1users~1{id}~1metrics~1{key}~1event-summary/get/parameters/3/schema/enum",
    "/paths/~1users~1{id}~1metrics~1{key}~1event-summary/get/parameters/4/schema/enum",
    "/paths/~1users~1{id}~1points~1{key}~1event-summary/get/parameters/3/schema/enum",
    "/paths/~1users~1{id}~1points~1{key}~1event-summary/get/parameters/4/schema/enum",
    "/paths/~1leaderboards~1{key}/get/parameters/0/schema/enum",
    "/paths/~1leaderboards~1{key}/get/parameters/1/schema/maximum",
    "/paths/~1leaderboards~1{key}/get/parameters/2/schema/maximum",
    "/paths/~1leaderboards~1{key}/get/parameters/5/schema/enum",
    "/paths/~1users~1{id}~1leaderboards~1{key}/get/parameters/1/schema/enum",
    "/paths/~1points~1{key}/get/parameters/0/schema/enum",
    "/paths/~1points~1{key}~1summary/get/parameters/0/schema/enum",
    "/paths/~1points~1{key}~1summary/get/parameters/1/schema/pattern",
    "/paths/~1points~1{key}~1boosts/get/parameters/0/schema/enum",
    "/paths/~1points~1{key}~1boosts/get/parameters/1/schema",
    "/paths/~1points~1{key}~1levels/get/parameters/0/schema/enum",
    "/paths/~1points~1{key}~1level-summary/get/parameters/0/schema/enum",
    "/paths/~1users~1{id}~1points~1{key}/get/parameters/1/schema/enum",
    "/paths/~1users~1{id}~1points~1{key}~1boosts/get/parameters/1/schema/enum",
    "/paths/~1users~1{id}~1points~1{key}~1event-summary/get/parameters/1/schema/enum",
    "/paths/~1users~1{id}~1wrapped/get/parameters/1/schema/maximum",
    "/components/schemas/AchievementResponse/properties/trigger/enum",
    "/components/schemas/UpdateUserPreferencesRequest/additionalProperties",
    "/components/schemas/NotificationPreferences/additionalProperties",
]


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    """The writing rules with `BOARDS`, and the ranker beside the worker and projector."""
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-conformance")
        rules = home / "rules.toml"
        rules.write_text(WRITING_PATH.read_text() + BOARDS + POINTS)
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=rules)
        stack.callback(pod.stop)
        pod.start_ranker()
        yield pod
        pod.check_alive()


def trophy_document() -> dict[str, Any]:
    """Trophy's document: the served operations only, amended."""
    doc = copy.deepcopy(json.loads(TROPHY_DOCUMENT.read_text()))
    amend(doc)
    doc["paths"] = {
        path: {m: doc["paths"][path][m] for m in methods} for path, methods in SERVED.items()
    }
    return doc


def _differences(a: Any, b: Any, at: str = "") -> list[str]:
    """The JSON pointers where `a` and `b` differ (the shallowest)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            name = str(key).replace("~", "~0").replace("/", "~1")
            if key not in a or key not in b:
                out.append(f"{at}/{name}")
            else:
                out.extend(_differences(a[key], b[key], f"{at}/{name}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{at}/{i}")
        ]
    return [] if a == b else [at]


def test_the_amendments_change_only_the_points_they_name() -> None:
    original = json.loads(TROPHY_DOCUMENT.read_text())
    assert original["info"]["version"] == "1.21.1"
    amended = copy.deepcopy(original)
    named = amend(amended)
    changed = _differences(original, amended)
    assert changed, "the amendments changed nothing"
    for pointer in changed:
        assert any(pointer == n or pointer.startswith(n + "/") for n in named), pointer
    assert all(any(c == n or c.startswith(n + "/") for c in changed) for n in named)
    served = trophy_document()["paths"]
    assert sum(len(ops) for ops in served.values()) == OPERATIONS
    assert set(served) <= set(original["paths"])
    assert all(known_time_zone(z) for z in ZONES)


def test_schemathesis_with_trophys_document_finds_nothing(podium: Podium, tmp_path: Path) -> None:
    schema = tmp_path / "trophy.json"
    schema.write_text(json.dumps(trophy_document()))
    cli = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(cli),
            "run",
            str(schema),
            "--url",
            podium.base_url,
            "-H",
            f"X-API-KEY: {podium.api_key}",
            "--checks",
            "all",
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
        timeout=300,
        check=False,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=tmp_path,
    )
    print(done.stdout[-700:])  # the summary: operations, phases, cases (pytest -s shows it)
    assert done.returncode == 0, done.stdout[-12000:]
    assert "Failures:" not in done.stdout, done.stdout[-12000:]
    tested = re.search(r"Tested:\s+(\d+)\b", done.stdout)
    assert tested and int(tested.group(1)) == OPERATIONS, done.stdout[-3000:]  # every one
