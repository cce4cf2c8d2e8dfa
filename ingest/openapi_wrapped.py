"""The wrapped operation of the OpenAPI document (`ingest.openapi`): GET
/v1/users/{id}/wrapped and Trophy's `Wrapped*` shapes as Podium answers them."""

from __future__ import annotations

from typing import Any

from schemas.rules import FREQUENCIES

Schema = dict[str, Any]
STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
DAY: Schema = {"type": "string", "format": "date"}
NULL_STR: Schema = {"type": "string", "nullable": True}
NULL_DAY: Schema = {"type": "string", "format": "date", "nullable": True}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": props}


def _map(schema: Schema) -> Schema:
    return {"type": "object", "additionalProperties": schema}


def _period(**more: Schema) -> Schema:
    """A `WrappedActivityPeriod` with the fields of one kind of period."""
    return {"allOf": [_ref("WrappedActivityPeriod"), _obj(list(more), **more)]}


FIGURES = {"currentTotal": NUM, "changeThisPeriod": NUM, "percentChange": NUM}


def wrapped_components() -> Schema:
    """Trophy's `WrappedResponse` and its parts."""
    metric = _obj(
        ["name", "currentTotal", "changeThisPeriod", "percentChange", "byAttribute"],
        name=STR,
        units=NULL_STR,
        **FIGURES,
        percentileThisPeriod=NUM,
        byAttribute=_map(_map({"type": "object"})),
    )
    points = _obj(
        ["name", "currentTotal", "changeThisPeriod", "percentChange"],
        name=STR,
        description=NULL_STR,
        **FIGURES,
        percentileThisPeriod=NUM,
    )
    streak = _obj(
        ["length", "frequency", "periodStart", "periodEnd", "started"],
        length=INT,
        frequency={"type": "string", "enum": list(FREQUENCIES)},
        periodStart=NULL_DAY,
        periodEnd=NULL_DAY,
        started=NULL_DAY,
    )
    period = _obj(
        ["metrics", "points", "achievements", "leaderboards"],
        metrics=_map(metric),
        points=_map(points),
        achievements={"type": "array", "items": _ref("UserAchievement")},
        leaderboards={"type": "object"},
    )
    activity = _obj(
        [
            "daysActive",
            "weeksActive",
            "monthsActive",
            "mostActiveDay",
            "mostActiveWeek",
            "mostActiveMonth",
            "entireYear",
        ],
        daysActive=INT,
        weeksActive=INT,
        monthsActive=INT,
        mostActiveDay=_period(date=DAY),
        mostActiveWeek=_period(start=DAY, end=DAY),
        mostActiveMonth=_period(month={"type": "integer", "minimum": 0, "maximum": 11}),
        entireYear=_period(longestStreak=streak),
    )
    return {
        "WrappedActivityPeriod": period,
        "WrappedResponse": _obj(["user", "activity"], user=_ref("User"), activity=activity),
    }


def wrapped_path(uid: Schema) -> Schema:
    """GET /v1/users/{id}/wrapped (`year`: 1 to the current year; 422 otherwise)."""
    year = {"name": "year", "in": "query", "required": False, "schema": {**INT, "minimum": 1}}
    answers: Schema = {
        "200": {
            "description": "success",
            "content": {"application/json": {"schema": _ref("WrappedResponse")}},
        }
    }
    for code in (401, 404, 422, 503):
        answers[str(code)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return {"get": {"operationId": "userWrapped", "parameters": [uid, year], "responses": answers}}
