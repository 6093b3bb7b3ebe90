"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rest_compat.responses import JSONBytes

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Response:
    return JSONBytes({"status": "ok"})


#: A load balancer's probe must get an answer quickly even when the database host hangs.
READY_TIMEOUT_S = 3.0


@router.get(
    "/readyz",
    summary="Readiness: the database answers too (503 while it does not)",
    responses={503: {"description": "The database is unreachable or too slow to answer"}},
)
async def readyz(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure (or a timeout) means not ready
        # The exception's name only: its message may carry the host or the user name.
        return JSONBytes(
            {"status": "unavailable", "database": type(exc).__name__},
            status_code=503,
            headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )
    return JSONBytes(
        {"status": "ok", "database": "ok", "dialect": engine.dialect.name},
        headers={"Cache-Control": "no-store"},
    )
