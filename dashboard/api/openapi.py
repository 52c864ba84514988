"""The JSON API as OpenAPI 3.1, built from one table below (the car's request bodies from ``gridwatch.protocol``).

``python -m dashboard.api.openapi`` writes ``docs/openapi.yaml``; tests check that the file is current, that every
``/api`` route of the app is in it and that docs/api.md documents every path in it, and fuzz a live instance
with schemathesis against it (tests/dashboard/test_api_fuzz.py).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from alerts import verdicts
from gridwatch.categories import CATEGORIES
from gridwatch.protocol import MAX_BATCH, Report, StatusChange, TelemetryFix

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"

Json = dict[str, Any]
_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}
_CASE_ACTIONS = ["verify", "reject", "register", "dispatch", "start", "handle", "check", "close", "rework",
                 "escalate", "defer", "resume", "invalidate"]
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_TEXT = {"type": "string", "maxLength": 4000}
_REF = "#/components/schemas/{model}"
# The protocol's messages under the names this document has always published (clients generate code from them),
# and the one whose docstring is also the document's description (the others describe them field by field).
_PUBLISHED = {"Report": "ReportIn", "ReportPhoto": "PhotoIn", "StatusChange": "StatusIn", "TelemetryFix": "FixIn"}
_DESCRIBED = {"TelemetryFix"}


def _q(name: str, schema: Json, description: str = "") -> Json:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _p(name: str, schema: Json | None = None) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": schema or _ID}


def _published(node: Any) -> Any:
    """A protocol schema with every message (its title, its ``$defs`` entry, each ``$ref`` to it) renamed."""
    if isinstance(node, list):
        return [_published(n) for n in node]
    if not isinstance(node, dict):
        return node
    title = node.get("title")
    renamed = {}
    for key, value in node.items():
        if key == "description" and title in _PUBLISHED and title not in _DESCRIBED:
            continue
        if key == "title" and value in _PUBLISHED:
            value = _PUBLISHED[value]
        elif key == "$ref":
            where, _, name = value.rpartition("/")
            value = f"{where}/{_PUBLISHED.get(name, name)}"
        elif key == "$defs":
            value = {_PUBLISHED.get(k, k): v for k, v in value.items()}
        renamed[key] = _published(value)
    return renamed


def _message(message: type) -> Json:
    """A protocol message's JSON schema (gridwatch.protocol: the car<->centre contract) under its published name."""
    schema: Json = _published(TypeAdapter(message).json_schema(ref_template=_REF))
    return schema


def _json_body(schema: Json) -> Json:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _obj(**props: Json) -> Json:
    return {"type": "object", "properties": props, "additionalProperties": False}


_MONTH = _q("month", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, "e.g. 2026-11")
_GRID = _q("grid", {"type": "string", "pattern": "^[0-9]{1,15}$"}, "a grid code: the subtree to cover")
_LEVEL = _q("level", {"type": "integer", "minimum": 1, "maximum": 3})
_PERIOD = [_MONTH, _q("from", {"type": "string", "format": "date"}), _q("to", {"type": "string", "format": "date"})]
_CLAIM_KINDS = ("alerts", "cases")
# Why a false alarm is one: each category has its own short list of these (alerts.verdicts.reasons).
_VERDICT_REASON = {
    "type": "string", "enum": sorted({r.code for c in CATEGORIES for r in verdicts.reasons(c, real=False)}),
    "description": "with reject and reason false_alarm only: one of the case's category's list "
                   "(400 naming the list otherwise)"}

# (method, path, summary, roles, parameters, request body, success status)
OPERATIONS: list[tuple[str, str, str, str, list[Json], Json | None, str]] = [
    ("get", "/api/me", "Who is logged in", "anyone logged in", [], None, "200"),
    ("get", "/api/cameras", "Camera states (never a URL)", "anyone logged in", [], None, "200"),
    ("get", "/api/alerts", "Newest alerts of the user's subtree", "anyone logged in",
     [_q("limit", {"type": "integer", "minimum": 1, "maximum": 500})], None, "200"),
    ("get", "/api/wall/summary", "The wall's figures and map colours (204 while current)", "anyone logged in",
     [_q("v", {"type": "string", "maxLength": 64})], None, "200"),
    ("get", "/api/live", "Where the wall's live video comes from (never a camera URL)", "anyone logged in", [],
     None, "200"),
    ("get", "/api/cameras/config", "The camera registry (passwords masked)", "admin", [], None, "200"),
    ("post", "/api/cameras/config", "Add a camera", "admin", [], _json_body({
        "type": "object", "required": ["id", "name", "url"], "properties": {
            "id": _ID, "name": {"type": "string", "maxLength": 100},
            "url": {"type": "string", "pattern": "^rtsp://[a-z0-9.]{1,30}(:[0-9]{2,5})?/[a-z0-9]{0,20}$"},
            "enabled": {"type": "boolean"}}}), "201"),
    ("patch", "/api/cameras/config/{camera_id}", "Change a camera's fields", "admin", [_p("camera_id")],
     _json_body({"type": "object", "properties": {"name": {"type": "string", "maxLength": 100},
                                                  "enabled": {"type": "boolean"}}}), "200"),
    ("delete", "/api/cameras/config/{camera_id}", "Remove a camera", "admin", [_p("camera_id")], None, "200"),
    ("get", "/api/cases", "The case queue of the user's scope", "anyone logged in", [
        _q("status", {"type": "string", "maxLength": 200}), _GRID, _q("category", {"type": "string"}),
        _q("department", {"type": "string"}), _q("assignee_grid", {"type": "string"}),
        _q("open", {"type": "string", "enum": ["0", "1"]}), _q("overdue", {"type": "string", "enum": ["0", "1"]}),
        _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
        _q("offset", {"type": "integer", "minimum": 0})], None, "200"),
    ("get", "/api/cases/overdue", "Held, not handled, past the deadline", "anyone logged in",
     [_GRID, _q("limit", {"type": "integer", "minimum": 1, "maximum": 200})], None, "200"),
    ("get", "/api/cases/{case_id}", "A case with sightings, audit log, queries, allowed actions",
     "anyone logged in, in scope", [_p("case_id")], None, "200"),
    ("post", "/api/cases/{case_id}/{action}", "A workflow action ('handle' takes a multipart photo)",
     "by role and the case's holder", [_p("case_id"), _p("action", {"type": "string", "enum": _CASE_ACTIONS})],
     _json_body(_obj(note=_TEXT, reason={"type": "string", "enum": ["false_alarm", "duplicate"]},
                     verdict_reason=_VERDICT_REASON,
                     grid={"type": "string", "pattern": "^[0-9]{1,15}$"}, department={"type": "string"},
                     staff={"type": "string"})), "200"),
    ("post", "/api/cases/{case_id}/queries", "File a formal query (质询)", "grid_staff, supervisor",
     [_p("case_id")], _json_body(_obj(question=_TEXT)), "201"),
    ("post", "/api/cases/{case_id}/split", "Split sightings into a new case", "operator, supervisor",
     [_p("case_id")], _json_body(_obj(sightings={"type": "array", "items": {"type": "integer"}}, note=_TEXT)),
     "201"),
    ("post", "/api/cases/merge", "Merge cases into one", "operator, supervisor", [],
     _json_body(_obj(into=_ID, others={"type": "array", "items": _ID}, note=_TEXT)), "200"),
    ("get", "/api/queries", "Formal queries of the user's subtree", "anyone logged in",
     [_q("open", {"type": "string", "enum": ["0", "1"]})], None, "200"),
    ("post", "/api/queries/{query_id}/answer", "Answer a formal query", "grid_staff, supervisor",
     [_p("query_id", {"type": "integer", "minimum": 0})], _json_body(_obj(answer=_TEXT)), "200"),
    ("get", "/api/figures", "Figures of a subtree and period", "anyone logged in", [_GRID, *_PERIOD, _LEVEL],
     None, "200"),
    ("get", "/api/figures/grids", "Figures per grid of a level", "anyone logged in", [_GRID, _LEVEL, *_PERIOD],
     None, "200"),
    ("get", "/api/assessment", "The monthly 100-point assessment", "anyone logged in", [_MONTH, _LEVEL, _GRID],
     None, "200"),
    ("get", "/api/export/figures.{fmt}", "Figures as CSV or XLSX", "anyone logged in",
     [_p("fmt", {"type": "string", "enum": ["csv", "xlsx"]}), _GRID, *_PERIOD, _LEVEL], None, "200"),
    ("get", "/api/export/assessment.{fmt}", "The assessment as CSV or XLSX", "anyone logged in",
     [_p("fmt", {"type": "string", "enum": ["csv", "xlsx"]}), _MONTH, _LEVEL, _GRID], None, "200"),
    ("get", "/api/evidence/{case_id}.zip", "The evidence bundle", "supervisor, admin, in scope", [_p("case_id")],
     None, "200"),
    ("post", "/api/reports", "A crew's, phone or web report", "car (bearer token) or logged in", [],
     _json_body(_message(Report)), "201"),
    ("get", "/api/vehicles", "Patrol cars of the user's scope", "anyone logged in", [], None, "200"),
    ("get", "/api/coverage", "Today's (or a day's) coverage", "anyone logged in",
     [_q("day", {"type": "string", "format": "date"})], None, "200"),
    ("post", "/api/vehicles/{vehicle_id}/status", "Crew status of a car", "car (bearer token) or logged in",
     [_p("vehicle_id")], _json_body(_message(StatusChange)),
     "200"),
    ("post", "/api/telemetry/{vehicle_id}", "GPS fixes of a car", "car (bearer token)", [_p("vehicle_id")],
     _json_body({"oneOf": [{"$ref": "#/components/schemas/FixIn"},
                           {"type": "array", "maxItems": MAX_BATCH, "items": {"$ref": "#/components/schemas/FixIn"}}]}),
     "200"),
    *[(m, f"/api/{kind}/{{item_id}}/claim", f"{verb} a claim on an {kind[:-1]}", "operator, supervisor",
       [_p("item_id")], None, "200")
      for kind in _CLAIM_KINDS for m, verb in (("post", "Take"), ("get", "See"), ("delete", "Release"))],
]

_BODY_MESSAGES = (TelemetryFix,)  # bodies referred to by name, not inlined


def spec() -> Json:
    """The OpenAPI document as a dict."""
    paths: dict[str, Json] = {}
    components: dict[str, Json] = {_PUBLISHED[m.__name__]: _message(m) for m in _BODY_MESSAGES}
    for method, path, summary, roles, params, body, ok in OPERATIONS:
        op: Json = {"summary": summary, "description": f"Who: {roles}.", "parameters": params,
                    "responses": {ok: {"description": "done"},
                                  "400": {"description": "refused, naming the field",
                                          "content": {"application/json": {"schema": _ERROR}}},
                                  "401": {"description": "not logged in (or no device token)"},
                                  "403": {"description": "wrong role or outside the user's grid"},
                                  "413": {"description": "request body over the route's limit"}},
                    "security": [{"session": []}, {"device": []}] if "bearer" in roles else [{"session": []}]}
        if body is not None:
            for schema in body["content"]["application/json"]["schema"].pop("$defs", {}).items():
                components[schema[0]] = schema[1]
            op["requestBody"] = body
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "GridWatch JSON API", "version": "1",
                 "description": "Every route checks the login, role and grid scope (dashboard.auth); bodies "
                                "are limited per route (dashboard.limits). Prose reference: docs/api.md. "
                                f"Issue categories: {', '.join(CATEGORIES)}."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "gw_session"},
                "device": {"type": "http", "scheme": "bearer", "description": "auth.device_token"},
            },
        },
    }


def render() -> str:
    return ("# Generated by `python -m dashboard.api.openapi` from dashboard/api/openapi.py: edit that, not this.\n"
            + yaml.safe_dump(spec(), sort_keys=False, allow_unicode=True, width=120))


def main() -> int:
    SPEC_PATH.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {SPEC_PATH}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
