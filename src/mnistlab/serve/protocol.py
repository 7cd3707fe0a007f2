"""The HTTP protocol the web app runs on: uvicorn's h11 protocol with deadlines, JSON errors and a lingering close.

- A connection that sends no complete request within `idle` seconds (idle keep-alive, or headers sent halfway)
  is closed, so slow clients cannot hold the server's connections.
- A request h11 cannot parse (a Content-Length of `abc` or `-1`, headers over the size limit) gets a JSON error
  like every other (400, or 431 for headers too large), not uvicorn's plain text.
- Closing never resets: a socket closed with unread bytes makes the kernel send a reset, and the client loses
  the response it was sent (a 413 for a large body while the body still arrives). So a close first sends the
  response and a FIN, then reads and drops what the client still sends, for at most LINGER_SECONDS.
"""
from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

LINGER_SECONDS = 2.0
HEADER_LIMIT = 64 * 1024  # bytes of request line and headers


class Lingering:
    """A transport whose close() flushes and half-closes, then drops incoming bytes until the client closes too."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self.transport, self.loop, self.closing = transport, loop, False

    def close(self) -> None:
        if self.closing or self.transport.is_closing():
            return
        self.closing = True
        try:
            self.transport.resume_reading()  # flow control may have paused it: the rest must be read to be dropped
            if self.transport.can_write_eof():
                self.transport.write_eof()
        except (OSError, RuntimeError):
            self.transport.close()
            return
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def is_closing(self) -> bool:
        return self.closing or self.transport.is_closing()

    def __getattr__(self, name: str):
        return getattr(self.transport, name)


class Guarded(H11Protocol):
    idle = 5.0

    def connection_made(self, transport) -> None:
        super().connection_made(Lingering(transport, self.loop))
        self.deadline = self.loop.call_later(self.idle, self.expire)
        next_event = self.conn.next_event

        def remember(*args, **kwargs):  # the error h11 raised, for send_400_response (uvicorn does not pass it on)
            try:
                return next_event(*args, **kwargs)
            except h11.RemoteProtocolError as exc:
                self.protocol_error = exc
                raise

        self.conn.next_event = remember

    def data_received(self, data: bytes) -> None:
        if not self.transport.closing:  # after a close, what still arrives is dropped
            super().data_received(data)

    def eof_received(self) -> None:
        if self.transport.closing:
            self.transport.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.deadline.cancel()
        self.deadline = self.loop.call_later(self.idle, self.expire)

    def expire(self) -> None:
        if self.cycle is None or self.cycle.response_complete:  # not answering a request: idle or half-sent
            self.transport.close()
        else:
            self.deadline = self.loop.call_later(self.idle, self.expire)

    def connection_lost(self, exc) -> None:
        self.deadline.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        error = getattr(self, "protocol_error", None)
        status = getattr(error, "error_status_hint", 400)
        if status == 431:
            text = f"request headers over {HEADER_LIMIT // 1024} KB; send a smaller request"
        else:
            status, text = 400, f"malformed HTTP request ({error or msg}); check the Content-Length and other headers"
        body = json.dumps({"error": text, "detail": None}).encode()
        reason = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}[status]
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()


def protocol(idle: float) -> type[Guarded]:
    """The protocol class for uvicorn's `http=`, closing idle connections after `idle` seconds."""
    return type("Guarded", (Guarded,), {"idle": idle})
