"""The OpenAPI description of the device API, with every event type's payload.

Built from the same pydantic models that validate events, so it cannot drift.
"""
from __future__ import annotations

from functools import lru_cache

from ..events import EVENT_TYPES, Envelope


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
    }


def _event_schema(name: str) -> dict:
    etype = EVENT_TYPES[name]
    envelope = Envelope.model_json_schema()
    envelope["properties"]["type"] = {"const": name, "type": "string"}
    envelope["properties"]["payload"] = {"$ref": f"#/components/schemas/payload.{name}"}
    envelope["properties"]["occurred_at"]["format"] = "date-time"
    envelope["properties"]["id"]["format"] = "uuid"
    envelope["properties"]["subject_id"]["format"] = "uuid"
    envelope["additionalProperties"] = False
    envelope["title"] = name
    envelope["description"] = etype.description
    return envelope


def _payload_schema(name: str) -> dict:
    schema = EVENT_TYPES[name].payload.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["additionalProperties"] = False
    return schema


@lru_cache(maxsize=1)
def _document(types: tuple[str, ...]) -> dict:
    schemas: dict = {"Error": _error_schema()}
    for name in types:
        schemas[f"event.{name}"] = _event_schema(name)
        schemas[f"payload.{name}"] = _payload_schema(name)
    schemas["Event"] = {"oneOf": [{"$ref": f"#/components/schemas/event.{n}"} for n in types],
                        "discriminator": {"propertyName": "type", "mapping": {
                            n: f"#/components/schemas/event.{n}" for n in types}}}
    stored = {"allOf": [{"$ref": "#/components/schemas/Event"}, {
        "type": "object",
        "properties": {"received_at": {"type": "string", "format": "date-time"},
                       "user": {"type": "string"}}}]}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Datang device API", "version": "1.0.0",
                 "description": "Push a device's events and pull its branches' events. "
                                "See docs/events.md for the meaning of each event type."},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
        },
        "security": [{"session": [], "csrf": []}],
        "paths": {
            "/api/v1/sync": {"post": {
                "summary": "Push a batch of events; each is judged on its own.",
                "parameters": [{
                    "name": "X-Datang-User", "in": "header", "required": False,
                    "schema": {"type": "string"},
                    "description": "Optional: the (percent-encoded) username whose entries "
                                   "these are; refused with 409 if another user is signed in."}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["events"],
                    "properties": {"device_id": {"type": "string"},
                                   "events": {"type": "array", "maxItems": 500,
                                              "items": {"$ref": "#/components/schemas/Event"}}}}}}},
                "responses": {
                    "200": {"description": "One result per event, in order.",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["results", "server_time"],
                                "properties": {
                                    "server_time": {"type": "string", "format": "date-time"},
                                    "results": {"type": "array", "items": {
                                        "type": "object", "required": ["id", "status"],
                                        "properties": {
                                            "id": {"type": ["string", "null"]},
                                            "status": {"enum": ["accepted", "duplicate",
                                                                "rejected"]},
                                            "error": {"$ref": "#/components/schemas/Error/properties/error"},
                                        }}}}}}}},
                    "400": {"description": "Not a batch, or no CSRF token.", "content": error},
                    "409": {"description": "X-Datang-User names someone other than the "
                                           "signed-in user; nothing written.", "content": error},
                    "401": {"description": "Not signed in.", "content": error},
                    "413": {"description": "Over 500 events or 1 MiB.", "content": error},
                    "429": {"description": "Overloaded; retry with back-off.", "content": error},
                }}},
            "/api/v1/session": {"get": {
                "summary": "Who is signed in, a fresh CSRF token, and the newest pull cursor.",
                "responses": {
                    "200": {"description": "The session.", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["user", "csrf_token", "cursor"],
                                   "properties": {"user": {"type": "string"},
                                                  "csrf_token": {"type": "string"},
                                                  "cursor": {"type": "string"}}}}}},
                    "401": {"description": "Not signed in.", "content": error},
                }}},
            "/api/v1/events": {"get": {
                "summary": "Pull the readable branches' events in the order the server accepted them.",
                "parameters": [
                    {"name": "since", "in": "query", "schema": {"type": "string"},
                     "description": "The `next` of the previous page; empty for the start."},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "default": 500},
                     "description": "Page size, capped at 1000."},
                ],
                "responses": {
                    "200": {"description": "A page of events.",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["events", "next"],
                                "properties": {"events": {"type": "array", "items": stored},
                                               "next": {"type": "string"}}}}}},
                    "400": {"description": "A cursor or limit this server did not give.",
                            "content": error},
                    "401": {"description": "Not signed in.", "content": error},
                }}},
        },
    }


def openapi_document() -> dict:
    return _document(tuple(sorted(EVENT_TYPES)))
