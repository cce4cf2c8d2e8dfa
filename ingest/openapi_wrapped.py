"""The wrapped operation of the OpenAPI document (`ingest.openapi`): GET
/v1/users/{id}/wrapped; its shapes are generated from `ingest.http.answers_wrapped`."""

from __future__ import annotations

from ingest.openapi_parts import INT, Schema, _answers, _ref


def wrapped_path(uid: Schema) -> Schema:
    """GET /v1/users/{id}/wrapped (`year`: 1 to the current year; 422 otherwise)."""
    year = {"name": "year", "in": "query", "required": False, "schema": {**INT, "minimum": 1}}
    return {
        "get": {
            "operationId": "userWrapped",
            "parameters": [uid, year],
            "responses": _answers(200, _ref("WrappedResponse"), 404, 422, 503),
        }
    }
