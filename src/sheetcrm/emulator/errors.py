"""Google's JSON error bodies: ``{"error": {"code", "message", "status"}}``.

Message texts are copied from real answers of the Sheets API v4 (the recorded cassettes in
``shared/ref/gspread-cassettes`` and Google's documentation) wherever one was available.
"""

from __future__ import annotations

from typing import Any

STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An error the API answers with; ``body()`` is the JSON Google sends."""

    def __init__(self, code: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> str:
        return STATUS.get(self.code, "UNKNOWN")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


PAYLOAD_LIMIT = 10_485_760
"""The most bytes of body Google takes in one request; over it, the request is refused whole
(the message as Google words it, quoted in many client libraries' issues)."""


def payload_too_large() -> ApiError:
    return ApiError(400, f"Request payload size exceeds the limit: {PAYLOAD_LIMIT} bytes.")


def unparsable_range(text: str) -> ApiError:
    return ApiError(400, f"Unable to parse range: {text}")


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.")


def permission_denied() -> ApiError:
    return ApiError(403, "The caller does not have permission")


def invalid_value(field: str, value: Any) -> ApiError:
    """What Google answers when a JSON field has the wrong type, e.g. ``"values": "X"``."""
    shown = value if isinstance(value, str) else repr(value)
    message = (
        f"Invalid value at '{field}' (type.googleapis.com/google.protobuf.ListValue), \"{shown}\""
    )
    violation = {"field": field, "description": message}
    details = [
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}
    ]
    return ApiError(400, message, details)


def quota_exceeded(kind: str, limit: int) -> ApiError:
    """429 as Google documents it for the per-minute, per-user read and write quotas."""
    metric = "Read requests" if kind == "read" else "Write requests"
    quota_limit = (
        "ReadRequestsPerMinutePerUser" if kind == "read" else "WriteRequestsPerMinutePerUser"
    )
    message = (
        f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' "
        "of service 'sheets.googleapis.com' for consumer 'project_number:0'."
    )
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "service": "sheets.googleapis.com",
            "consumer": "projects/0",
            "quota_metric": f"sheets.googleapis.com/{kind}_requests",
            "quota_limit": quota_limit,
            "quota_limit_value": str(limit),
            "quota_location": "global",
        },
    }
    help_link = {
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [
            {
                "description": "Request a higher quota limit.",
                "url": "https://cloud.google.com/docs/quotas/help/request_increase",
            }
        ],
    }
    return ApiError(429, message, [info, help_link])


def server_fault(code: int) -> ApiError:
    if code == 503:
        return ApiError(503, "The service is currently unavailable.")
    return ApiError(500, "Internal error encountered.")
