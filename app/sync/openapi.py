"""The OpenAPI description of the device API, with every event type's payload.

Built from the same pydantic models that validate events, so it cannot drift.
It describes what the endpoints really accept and answer, status codes and
error bodies included: tests/test_api_fuzz.py runs schemathesis against it.

Over 400 lines on purpose: it is one document (paths, envelopes, error bodies), read
top to bottom like the contract it describes; most of it is data, not code.
"""

from __future__ import annotations

import copy
from functools import lru_cache

from ..events import EVENT_TYPES, Envelope

# The stable codes of an error body, as far as the endpoints themselves give them.
ERROR_CODES = {
    400: ["bad_batch", "csrf_failed", "bad_cursor", "bad_limit", "bad_request"],
    401: ["unauthenticated"],
    409: ["wrong_user"],
    413: ["batch_too_large", "too_large"],
    429: ["too_many_requests"],
}
# The codes of a rejected event (results[].error.code); the list may grow.
REJECTION_CODES = [
    "invalid_envelope",
    "invalid_payload",
    "unknown_type",
    "branch_forbidden",
    "forbidden",
    "id_conflict",
    "unknown_subject",
    "subject_exists",
    "subject_mismatch",
    "conflict",
    "clock_ahead",
    "reserved_device",
    # a referral's own (docs/events-lobby.md): who may take or hand it on
    "already_taken",
    "not_assignee",
    "not_yours",
    "referral_closed",
    "unknown_assignee",
]


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
        "description": "Every 4xx/5xx answer of the API: JSON, never a redirect or a page.",
    }


def _error_detail_schema() -> dict:
    return {
        "type": "object",
        "required": ["code", "message"],
        "additionalProperties": False,
        "properties": {
            "code": {
                "type": "string",
                "minLength": 1,
                "description": "Stable, for programs: e.g. "
                + ", ".join(
                    sorted(
                        {c for codes in ERROR_CODES.values() for c in codes} | set(REJECTION_CODES)
                    )
                )
                + ".",
            },
            "message": {
                "type": "string",
                "minLength": 1,
                "description": "For people, in the user's language.",
            },
        },
    }


# Text with a NUL character is refused (PostgreSQL stores none). A `not` rather than a
# pattern of what is allowed: generators then filter instead of building from a regex.
NO_NUL = {"pattern": "\\u0000"}


def _refuse_nul(schema):
    """Mark every free string of `schema` as one without a NUL character."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {
            "pattern",
            "format",
            "enum",
            "const",
            "not",
        } & set(schema):
            schema["not"] = dict(NO_NUL)
        for value in schema.values():
            _refuse_nul(value)
    elif isinstance(schema, list):
        for value in schema:
            _refuse_nul(value)
    return schema


def _event_schema(name: str) -> dict:
    etype = EVENT_TYPES[name]
    envelope = Envelope.model_json_schema()
    envelope["properties"]["type"] = {"const": name, "type": "string"}
    envelope["properties"]["payload"] = {"$ref": f"#/components/schemas/payload.{name}"}
    envelope["properties"]["occurred_at"]["format"] = "date-time"
    envelope["properties"]["occurred_at"]["description"] = (
        "RFC 3339 with an offset or Z, the device's clock."
    )
    envelope["properties"]["id"]["format"] = "uuid"
    envelope["properties"]["subject_id"]["format"] = "uuid"
    envelope["additionalProperties"] = False
    envelope["title"] = name
    envelope["description"] = etype.description
    return _refuse_nul(envelope)


def _stored_event_schema(name: str) -> dict:
    """An event as the pull side gives it: the envelope plus `received_at` and `user`."""
    stored = copy.deepcopy(_event_schema(name))
    stored["properties"]["received_at"] = {
        "type": "string",
        "format": "date-time",
        "description": "The server's clock, in UTC.",
    }
    stored["properties"]["user"] = {
        "type": "string",
        "description": "The username who recorded it.",
    }
    stored["properties"]["occurred_at"]["description"] = (
        "The device's own time, as the envelope was sent."
    )
    stored["properties"]["corrected_at"] = {
        "type": "string",
        "format": "date-time",
        "description": "`occurred_at` corrected by the device's clock skew (measured from the "
        "batch's `sent_at`), in UTC: the time folds and figures use.",
    }
    stored["required"] = [*stored["required"], "corrected_at", "received_at", "user"]
    stored["title"] = f"stored {name}"
    return stored


def _payload_schema(name: str) -> dict:
    schema = EVENT_TYPES[name].payload.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    schema.pop("$defs", None)
    schema["additionalProperties"] = False
    return _refuse_nul(schema)


def _one_of(prefix: str, types: tuple[str, ...]) -> dict:
    return {
        "oneOf": [{"$ref": f"#/components/schemas/{prefix}.{n}"} for n in types],
        "discriminator": {
            "propertyName": "type",
            "mapping": {n: f"#/components/schemas/{prefix}.{n}" for n in types},
        },
    }


def _errors(*statuses: int, **descriptions: str) -> dict:
    """Error responses: every one a JSON `Error` body."""
    out = {}
    for status in statuses:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        out[str(status)] = {
            "description": descriptions.get(f"s{status}", _DEFAULTS[status]),
            "content": content,
        }
    return out


_DEFAULTS = {
    400: "The request could not be understood; nothing written.",
    401: "Not signed in, or the session expired: JSON, never a redirect. Checked before "
    "anything else, so a caller with no session gets it even without a CSRF token.",
    409: "Conflict; nothing written.",
    413: "Too large; nothing written.",
    429: "Overloaded; retry with back-off.",
}


@lru_cache(maxsize=1)
def _document(types: tuple[str, ...]) -> dict:
    schemas: dict = {"Error": _error_schema(), "ErrorDetail": _error_detail_schema()}
    for name in types:
        schemas[f"event.{name}"] = _event_schema(name)
        schemas[f"stored.{name}"] = _stored_event_schema(name)
        schemas[f"payload.{name}"] = _payload_schema(name)
    schemas["Event"] = _one_of("event", types)
    schemas["StoredEvent"] = _one_of("stored", types)
    schemas["Batch"] = {
        "type": "object",
        "required": ["events"],
        "description": "At most 500 events and 1 MiB. Each event is judged on its own: one that "
        "does not match `Event` is answered `rejected` in the 200 result, it does "
        "not fail the batch.",
        "properties": {
            "device_id": {"type": "string", "description": "The installed app's id."},
            "sent_at": {
                "type": "string",
                "format": "date-time",
                "description": "The device's clock when it sent the batch "
                "(RFC 3339 with an offset or Z): the server "
                "corrects the events' times by the skew. "
                "Malformed: 400 `bad_batch`.",
            },
            "events": {
                "type": "array",
                "maxItems": 500,
                "items": {"$ref": "#/components/schemas/Event"},
            },
        },
    }
    schemas["Result"] = {
        "type": "object",
        "required": ["id", "status"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "type": ["string", "null"],
                "description": "The event's id as sent; null when it had none.",
            },
            "status": {"enum": ["accepted", "duplicate", "rejected"]},
            "error": {"$ref": "#/components/schemas/ErrorDetail"},
        },
        # `error` comes with `rejected` and only with it.
        "if": {"properties": {"status": {"const": "rejected"}}},
        "then": {"required": ["error"]},
        "else": {"not": {"required": ["error"]}},
    }
    session_only: list[dict[str, list[str]]] = [{"session": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Datang device API",
            "version": "1.0.0",
            "description": "Push a device's events and pull its branches' events. "
            "See docs/sync-contract.md for the contract and docs/events.md "
            "for the meaning of each event type. Every error is JSON: "
            '`{"error": {"code", "message"}}`.',
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The normal session cookie of a signed-in user.",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRFToken",
                    "description": "The session's CSRF token (from the page's "
                    "csrf-token meta or GET /api/v1/session); POST only.",
                },
            },
        },
        "security": [{"session": [], "csrf": []}],
        "paths": {
            "/api/v1/sync": {
                "post": {
                    "operationId": "sync",
                    "summary": "Push a batch of events; each is judged on its own.",
                    "parameters": [
                        {
                            "name": "X-Datang-User",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "Optional: the (percent-encoded) username whose entries "
                            "these are; refused with 409 if another user is signed in.",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One result per event, in order.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["results", "server_time"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "server_time": {
                                                "type": "string",
                                                "format": "date-time",
                                            },
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Result"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(
                            400,
                            401,
                            409,
                            413,
                            429,
                            s400="Not a batch at all (not JSON, no `events` list, a malformed "
                            "`sent_at`), or a "
                            "missing or wrong CSRF token (`csrf_failed`); nothing "
                            "written.",
                            s409="X-Datang-User names someone other than the signed-in "
                            "user (`wrong_user`); nothing written.",
                            s413="Over 500 events or 1 MiB; nothing written: split the batch.",
                        ),
                    },
                }
            },
            "/api/v1/session": {
                "get": {
                    "operationId": "session",
                    "summary": "Who is signed in, a fresh CSRF token, and the newest pull cursor.",
                    "security": session_only,
                    "responses": {
                        "200": {
                            "description": "The session.",
                            "headers": {
                                "Cache-Control": {"required": True, "schema": {"const": "no-store"}}
                            },
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["user", "csrf_token", "cursor"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "user": {"type": "string"},
                                            "csrf_token": {"type": "string"},
                                            "cursor": {"type": "string", "pattern": "^[0-9]*$"},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(401),
                    },
                }
            },
            "/api/v1/events": {
                "get": {
                    "operationId": "pull",
                    "summary": "Pull the readable branches' events in the order the server "
                    "accepted them.",
                    "security": session_only,
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[0-9]{0,19}$"},
                            "description": "The `next` of the previous page (or `cursor` of "
                            "GET /api/v1/session); empty for the start. Opaque: "
                            "only a value this server gave is accepted (else 400).",
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "default": 500},
                            "description": "Page size; a larger value is capped at 1000, a smaller "
                            "one read as 1. Not a whole number: 400.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of the events the caller's role may read "
                            '(docs/events.md, "Who reads what"), notes '
                            "removed where the role reads a type without "
                            "them. When nothing more is there, `events` is "
                            "empty and `next` equals `since`.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["events", "next"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "events": {
                                                "type": "array",
                                                "items": {
                                                    "$ref": "#/components/schemas/StoredEvent"
                                                },
                                            },
                                            "next": {"type": "string", "pattern": "^[0-9]*$"},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(
                            400,
                            401,
                            s400="A cursor this server did not give (`bad_cursor`) or a "
                            "limit that is not a whole number (`bad_limit`).",
                        ),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document. Public.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "object", "required": ["openapi", "paths"]}
                                }
                            },
                        },
                    },
                }
            },
        },
    }


def openapi_document() -> dict:
    return _document(tuple(sorted(EVENT_TYPES)))
