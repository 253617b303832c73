"""Errors as RFC 9457 problem+json, with field-level ``errors``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FieldProblem, MetadataError, RapportError, ValidationError

log = logging.getLogger("rapport.web")
PROBLEM = "application/problem+json"


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None,
            code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://rapport.dev/problems/{code}" if code else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def from_error(exc: RapportError) -> JSONResponse:
    if isinstance(exc, ValidationError):
        return problem(exc.status, str(exc), [p.as_dict() for p in exc.problems], exc.code)
    if isinstance(exc, MetadataError):
        errors = [FieldProblem(f"{p.source}:{p.pointer or '/'}", "invalid_metadata",
                               p.message).as_dict() for p in exc.problems]
        return problem(exc.status, "the definition is not valid", errors, exc.code)
    return problem(exc.status, str(exc), [FieldProblem(None, exc.code, str(exc)).as_dict()],
                   exc.code)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or \
        "application/json" in request.headers.get("accept", "")


async def rapport_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RapportError)
    return from_error(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, exc.detail or HTTPStatus(exc.status_code).phrase,
                   headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "an internal error occurred; it has been logged")
