"""The service's endpoints as an OpenAPI 3 description, served at /openapi.json and fuzzed by
the tests (every answer documented here, and never a 5xx for what a client sends)."""

from __future__ import annotations

from typing import Any

from sheetcrm.intake.adapters import SOURCES


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_TASK_ERRORS = {
    "401": _error("missing or wrong bearer token"),
    "403": _error("task endpoints are off: SHEETCRM_TASK_TOKEN is not set"),
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}}
_UNAVAILABLE = {**_error("the outbox's database cannot be reached"), "headers": _RETRY_AFTER}


_TEXT = {"type": "string"}
_TOUCH: dict[str, Any] = {
    "type": "object",
    "required": ["at"],
    "description": "lead_id or email is required; event_id (or id) is the idempotency key, "
    "else a digest of the body.",
    "properties": {
        "event_id": _TEXT,
        "at": {**_TEXT, "example": "2026-12-03 14:30"},
        "lead_id": {**_TEXT, "example": "L-00042"},
        "email": _TEXT,
        "type": {**_TEXT, "example": "call"},
        "outcome": {**_TEXT, "example": "reached"},
        "by": {**_TEXT, "example": "Sofia Marin"},
        "notes": _TEXT,
        "next_action_date": {**_TEXT, "example": "2026-12-10"},
    },
}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": _TEXT}}}


_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "the signed token of the e-mail's link (notify/unsubscribe.py)",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},  # URL-safe base64 and dots
}
_UNSUBSCRIBE_ANSWERS = {
    "400": _html(
        "the token was edited or signed with another key: a page that says what to "
        "do instead (reply to the e-mail); nothing changed"
    ),
    "404": {
        "description": "SHEETCRM_UNSUBSCRIBE_SECRET is unset: a plain text that says so "
        "(or, for a path that is no token, the usual Error)",
        "content": {
            "text/plain": {"schema": _TEXT},
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
        },
    },
    "410": _html(
        "the token has expired (SHEETCRM_UNSUBSCRIBE_DAYS): a page that says what "
        "to do instead; nothing changed"
    ),
}
_UNSUBSCRIBE = {
    "get": {
        "summary": "The page an unsubscribe link opens (docs/sequences.md): the address and a "
        "button that confirms. Changes nothing: mail scanners fetch links.",
        "parameters": [_TOKEN],
        "responses": {"200": _html("the page, in the token's language"), **_UNSUBSCRIBE_ANSWERS},
    },
    "post": {
        "summary": "The page's button, or a mail client's RFC 8058 one-click POST: the address "
        "gets no more nurture e-mail; an unsubscribe activity is appended to Activities by "
        "the next flush. A second POST stores nothing new.",
        "parameters": [_TOKEN],
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _html("unsubscribed: a page that says so"),
            **_UNSUBSCRIBE_ANSWERS,
            "413": _error("the body is over the size limit"),
            "503": {
                **_html("the outbox's database cannot be reached: nothing changed, try again"),
                "headers": _RETRY_AFTER,
            },
        },
    },
}


def openapi() -> dict[str, Any]:
    accepted = {
        "type": "object",
        "required": ["status", "key"],
        "properties": {
            "status": {"type": "string", "enum": ["accepted", "duplicate"]},
            "key": {"type": "string"},
            "reused_key": {
                "type": "string",
                "description": "the key the post came with, when an earlier, different "
                "submission holds it: this one is stored under ``key`` and its lead flagged",
            },
        },
    }
    anything = {"type": "object", "additionalProperties": True}
    task: dict[str, Any] = {"security": [{"bearer": []}]}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "sheetcrm",
            "version": "1",
            "description": "Web-form intake into a lead spreadsheet, and its sync tasks. "
            "A method a path does not list here is answered 405, with an Allow header "
            "naming those it takes and an Error body.",
        },
        "paths": {
            "/hooks/{source}": {
                "post": {
                    "summary": "Accept one web-form submission; it is stored before the answer.",
                    "parameters": [
                        {
                            "name": "source",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": list(SOURCES)},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {}},
                            "application/x-www-form-urlencoded": {"schema": anything},
                            "multipart/form-data": {"schema": anything},
                        },
                    },
                    "responses": {
                        "202": _json("stored; it will be appended to Leads", accepted),
                        "200": _json("already stored: a replay adds nothing", accepted),
                        "400": _error("empty or malformed body"),
                        "401": _error("the signature or token is missing or wrong"),
                        "404": _error("no such source"),
                        "413": _error("the body is over the size limit"),
                        "415": _error("a content type the service does not take"),
                        "422": _error("the body is not what this form vendor sends"),
                        "503": {
                            **_error("the submission could not be stored; send it again"),
                            "headers": _RETRY_AFTER,
                        },
                    },
                }
            },
            "/hooks/activity": {
                "post": {
                    "summary": "Accept one touch (a call, e-mail or meeting) from a dialer or an "
                    "e-mail tool; stored before the answer, appended to Activities by the "
                    "next flush (docs/activities.md).",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _TOUCH}},
                    },
                    "responses": {
                        "202": _json("stored; it will be appended to Activities", accepted),
                        "200": _json("already stored: a replay adds nothing", accepted),
                        "400": _error("empty body, not a JSON object, no at, no lead, a bad date"),
                        "401": _error("the signature or token is missing or wrong"),
                        "413": _error("the body is over the size limit"),
                        "415": _error("a content type the service does not take"),
                        "503": {
                            **_error("the touch could not be stored; send it again"),
                            "headers": _RETRY_AFTER,
                        },
                    },
                }
            },
            "/tasks/flush": {
                method: {
                    **task,
                    "summary": "Append waiting submissions to the sheet.",
                    "responses": {
                        "200": _json("flushed", anything),
                        "503": _json("the sheet could not be reached; they wait", anything),
                        **_TASK_ERRORS,
                    },
                }
                for method in ("get", "post")
            },
            "/tasks/sync": {
                method: {
                    **task,
                    "summary": "Sync the sheet now.",
                    "responses": {
                        "200": _json("synced", anything),
                        "503": _json("the sync failed; see error", anything),
                        **_TASK_ERRORS,
                    },
                }
                for method in ("get", "post")
            },
            "/healthz": {
                "get": {"summary": "Liveness.", "responses": {"200": _json("alive", anything)}}
            },
            "/_ah/warmup": {
                "get": {
                    "summary": "App Engine's warmup: opens the outbox connection.",
                    "responses": {"200": _json("ready", anything), "503": _UNAVAILABLE},
                }
            },
            "/status": {
                "get": {
                    **task,
                    "summary": "Outbox depth, oldest pending age, last sync and flush, errors.",
                    "responses": {
                        "200": _json("status", anything),
                        **_TASK_ERRORS,
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/unsubscribe/{token}": _UNSUBSCRIBE,
            "/openapi.json": {
                "get": {
                    "summary": "This description.",
                    "responses": {"200": _json("an OpenAPI 3 description", anything)},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "MethodNotAllowed": {
                    **_error("a method this path does not take"),
                    "headers": {
                        "Allow": {
                            "description": "the methods it takes",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    },
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "hint": {"type": "string"}},
                }
            },
        },
    }
