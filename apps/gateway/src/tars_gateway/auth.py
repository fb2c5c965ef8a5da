"""Bearer-token check for the API (constant-time compare; the token is never logged)."""

from __future__ import annotations

import secrets

from fastapi import Request

from tars_gateway.errors import Unauthorized


def token_ok(expected: str, offered: str | None) -> bool:
    return bool(offered) and secrets.compare_digest(expected.encode(), (offered or "").encode())


async def require_token(request: Request) -> None:
    expected: str = request.app.state.gateway.token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>; tars up writes it to "
                           ".tars/run/gateway.token)", code="missing_token")
    if scheme.lower() != "bearer" or not token_ok(expected, value.strip()):
        raise Unauthorized("invalid bearer token", code="invalid_token")
