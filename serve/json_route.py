"""A route class whose JSON bodies must be UTF-8: anything else is 422, like malformed JSON.

FastAPI answers malformed JSON with 422 but a body that is not UTF-8 with 400 (the decoding error
is not a JSON error to it); JSON is UTF-8 text (RFC 8259), so both are the same client error
here, answered the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class JsonBodyRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` that refuses a body that is not UTF-8 with 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            body = await request.body()  # cached: the handler reads it again from the request
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RequestValidationError(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", exc.start),
                            "msg": "JSON decode error: the body is not UTF-8",
                            "input": {},
                            "ctx": {"error": "invalid UTF-8"},
                        }
                    ]
                ) from exc
            return await handler(request)

        return route
