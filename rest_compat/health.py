"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from rest_compat.responses import JSONBytes

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Response:
    return JSONBytes({"status": "ok"})


@router.get("/readyz", summary="Readiness: the database answers too")
async def readyz(request: Request) -> Response:
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means not ready
        return JSONBytes({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    return JSONBytes({"status": "ok", "database": "ok"})
