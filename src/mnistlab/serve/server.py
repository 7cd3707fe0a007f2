"""The draw-a-digit app's server: a listening socket, its URL, and a uvicorn server that closes idle connections."""
from __future__ import annotations

import socket

from ..errors import UserError

IDLE_SECONDS = 5  # an idle keep-alive connection is closed after this
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one); a busy or bad address is a user error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app, log_level: str = "warning", idle: float = IDLE_SECONDS):
    """A uvicorn server for `app`; run it with `.run(sockets=[listen(...)])`, stop it with `.should_exit = True`.

    A connection that sends no complete request within `idle` seconds (idle keep-alive, or headers sent
    halfway) is closed, so slow clients cannot hold the server's connections (see `protocol`).
    """
    # uvicorn: the optional serve extra
    import uvicorn

    from .protocol import HEADER_LIMIT, protocol

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, server_header=False, http=protocol(idle),
                                         timeout_keep_alive=max(1, int(idle)), h11_max_incomplete_event_size=HEADER_LIMIT))
