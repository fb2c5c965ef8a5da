"""The FastAPI application: routes, OpenAI-shaped errors, health."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tars.contracts.errors import ErrorKind
from tars.runtime.errors import BusError
from tars_gateway import __version__
from tars_gateway.api import build_router
from tars_gateway.console import build_console
from tars_gateway.errors import ApiError, error_body
from tars_gateway.gateway import Gateway

log = logging.getLogger("tars.gateway")


def create_app(gw: Gateway) -> FastAPI:
    app = FastAPI(title="tars gateway", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gw
    app.include_router(build_router(gw))
    if gw.settings.console:
        app.include_router(build_console(gw))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        workers = gw.health.snapshot()
        ok = gw.service.bus.connected
        body: dict[str, Any] = {"status": "ok" if ok else "degraded", "bus": "connected" if ok else "disconnected",
                                "workers": workers}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        kind: ErrorKind = "request" if exc.status < 500 else "dependency"
        # logged, counted and reported on tars/system/error (the reason, never the payload)
        await gw.service.report_error(kind, f"{request.method} {request.url.path}: {exc.status} {exc.message}")
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(BusError)
    async def bus_error(request: Request, exc: BusError) -> JSONResponse:
        log.warning("%s %s: the bus is unavailable (%s)", request.method, request.url.path, exc)
        return JSONResponse(error_body("the message bus is unavailable; retry later", "server_error",
                                       code="bus_unavailable"), status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        await gw.service.report_error("handler", f"{request.method} {request.url.path}: {type(exc).__name__}")
        return JSONResponse(error_body("internal error (see the gateway's log)", "server_error"), status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return JSONResponse(error_body(str(exc.detail), kind), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(x) for x in err.get("loc", ())[1:]) or None
        return JSONResponse(error_body(str(err.get("msg", "invalid request")), "invalid_request_error",
                                       param=param), status_code=400)

    return app
