"""One JSON error shape for every failure, mapped by exception class, never by message text.

    {"error": {"code": "validation_error", "message": "...",
               "fields": [{"field": "body.amount", "reason": "..."}]}}

Client mistakes are 4xx with field-level reasons; Temporal being unreachable is a
503 with Retry-After; nothing a client sends produces a 500.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from core.domain.feedback import BadPayload, BadSignature
from core.runtime.client_workflow import (
    UNAVAILABLE_CODES,
    ClientWorkflowError,
    EditRejected,
    EmailNotPending,
    TemporalUnavailable,
    WorkflowBusy,
)
from core.runtime.logging import get_logger
from core.store.datakeys import DataKeysUnavailable

log = get_logger(__name__)
TEMPORAL_RETRY_AFTER_SECONDS = 5


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] = []


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An error the API answers with its own status and code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.headers = headers


def client_workflow_error(exc: ClientWorkflowError) -> ApiError:
    """The HTTP answer for a client workflow call that did not happen (core.runtime.client_workflow)."""
    retry = {"Retry-After": str(TEMPORAL_RETRY_AFTER_SECONDS)}
    if isinstance(exc, EditRejected):
        fields = [FieldError(field="body", reason=f"{v.name}: {v.detail}".rstrip(": ")) for v in exc.verdicts]
        fields = fields or [FieldError(field="body", reason=str(exc) or "fails the guardrails")]
        return ApiError(422, "edit_rejected", "the edited email fails the guardrails", fields)
    if isinstance(exc, EmailNotPending):
        return ApiError(409, "not_pending", "the email is not awaiting a decision (already decided or stale)")
    if isinstance(exc, WorkflowBusy):
        return ApiError(503, "workflow_busy", str(exc), headers=retry)
    return ApiError(503, "temporal_unavailable", str(TemporalUnavailable()), headers=retry)


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _reason(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    # pydantic prefixes messages of custom validators; the reason reads better without it.
    return message.removeprefix("Value error, ")


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [FieldError(field=_field_name(tuple(e["loc"])), reason=_reason(e)) for e in exc.errors()]
    return error_response(422, "validation_error", "the request is not valid", fields)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI could not parse the body (not UTF-8, not a form)
        fields = [FieldError(field="body", reason=str(exc.detail))]
        return error_response(422, "validation_error", "the request is not valid", fields)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405 and (methods := _allowed_methods(_request)):
        headers["Allow"] = ", ".join(methods)
    return error_response(
        exc.status_code, code.get(exc.status_code, "http_error"), str(exc.detail), headers=headers or None
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for this path (HEAD with GET, as served):
    Starlette names only the first matching route's (``PUT /v1/clients/{id}`` answered
    ``Allow: PUT`` although GET and DELETE exist too). Empty for undocumented paths."""
    matching = [
        (p, m) for p, m in _documented_paths(request.app) if p.pattern and p.fullmatch(request.url.path)
    ]
    # "/v1/clients/c-1:pause" fits "{client_id}" too: the template with the most literal text wins.
    best = max((_literal_length(p) for p, _ in matching), default=0)
    methods = {method for p, documented in matching if _literal_length(p) == best for method in documented}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _literal_length(pattern: re.Pattern[str]) -> int:
    return len(pattern.pattern.replace("[^/]+", ""))


def _documented_paths(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    cached: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "documented_paths", None)
    if cached is None:
        cached = []
        for template, operations in app.openapi().get("paths", {}).items():
            parts = re.split(r"(\{[^}]+\})", template)
            regex = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
            methods = {m.upper() for m in operations if m in {"get", "put", "post", "delete", "patch"}}
            cached.append((re.compile(regex), methods))
        app.state.documented_paths = cached
    return cached


async def _rpc_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    if exc.status in UNAVAILABLE_CODES:
        return await _api_error(_request, client_workflow_error(TemporalUnavailable()))
    log.error("temporal rejected a request", status=exc.status.name)
    return error_response(502, "temporal_error", "the workflow service rejected the request")


async def _client_workflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClientWorkflowError)
    return await _api_error(request, client_workflow_error(exc))


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (a NUL character in text for PostgreSQL, a number out of
    its column's range) that validation let through: the request's fault, never a 500. The
    message names no value (it may be personal); the log says which driver error it was."""
    assert isinstance(exc, DataError)
    log.warning("database refused a value", error_type=type(exc.orig).__name__)
    fields = [FieldError(field="request", reason="holds a value the database cannot store")]
    return error_response(422, "validation_error", "the request is not valid", fields)


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable", error_type=type(exc).__name__)
    return error_response(
        503,
        "database_unavailable",
        "the database is unavailable; retry later",
        headers={"Retry-After": str(TEMPORAL_RETRY_AFTER_SECONDS)},
    )


async def _bad_signature(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadSignature)
    return error_response(401, "bad_signature", str(exc))


async def _bad_payload(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BadPayload)
    field, _, reason = str(exc).partition(": ")
    fields = [FieldError(field=field, reason=reason or field)]
    return error_response(422, "validation_error", "the payload is not valid", fields)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", error_type=type(exc).__name__)
    return error_response(500, "internal_error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientWorkflowError, _client_workflow_error)
    app.add_exception_handler(RPCError, _rpc_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
    app.add_exception_handler(DataKeysUnavailable, _database_error)
    app.add_exception_handler(BadSignature, _bad_signature)
    app.add_exception_handler(BadPayload, _bad_payload)
    app.add_exception_handler(Exception, _unexpected)


def documented(description: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    example = {"error": {"code": code, "message": message, "fields": [], **extra}}
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: documented("No API key, or not a valid one", "unauthorized", "the API key is not valid"),
    403: documented(
        "The API key lacks the scope this route needs", "forbidden", "this API key lacks the 'ops' scope"
    ),
}
NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: documented("No such resource", "not_found", "no such client"),
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: documented(
        "Invalid input, with field-level reasons",
        "validation_error",
        "the request is not valid",
        fields=[{"field": "body.currency", "reason": "unknown ISO 4217 currency code 'XYZ'"}],
    ),
    503: documented(
        "Temporal unreachable; retry after the header's delay",
        "temporal_unavailable",
        "the workflow service is unreachable; nothing was accepted, retry later",
    ),
}
