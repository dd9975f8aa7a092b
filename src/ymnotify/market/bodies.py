"""Reading a request body with a size limit, so an oversized one is refused before it is
held in memory, with the API's own JSON error (Starlette's body limit answers in plain text)."""

from __future__ import annotations

from starlette.requests import Request

from ymnotify.market.errors import TooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or ``TooLarge`` as soon as its declared or received size passes ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the request body is {declared} bytes; at most {limit} are taken")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
