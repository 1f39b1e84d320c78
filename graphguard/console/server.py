"""Serving the review console: a threaded stdlib WSGI server bound to loopback by default."""

from __future__ import annotations

import errno
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from graphguard.casestore import CaseStore, SyncSummary
from graphguard.console.app import ReviewApp
from graphguard.console.security import ConsoleError, Guard, check_bind
from graphguard.report.text import PLAIN_TEXT_TABLE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = False  # a second console on the same port must fail, not share it


class _Server6(_Server):
    address_family = socket.AF_INET6


_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]*")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # The access token never reaches a log; request lines are data, made inert.
        line = _TOKEN_IN_URL.sub(r"\1…", format % args).translate(PLAIN_TEXT_TABLE)
        sys.stderr.write("graphguard review: " + line + "\n")

    def address_string(self) -> str:
        return str(self.client_address[0])


def _not_ready(environ: object, start_response: Callable[..., object]) -> list[bytes]:
    """What the socket answers before the run is synced (it is not served yet)."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"graphguard review is starting\n"]


class Console:
    """A console ready to serve: `serve_forever` blocks, `shutdown` stops it from another
    thread; `url` is the link to open (with the access token, when there is one)."""

    def __init__(self, server: WSGIServer, app: ReviewApp, host: str, token: str | None):
        self.server = server
        self.app = app
        port = server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.base = f"http://{shown}:{port}/"
        self.url = self.base + (f"?token={token}" if token else "")
        self.port = port

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def open_console(
    store: CaseStore,
    run_dir: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    actor: str = "review",
    on_sync: Callable[[SyncSummary], None] | None = None,
) -> Console:
    """Check the bind, bind the server (port 0: a free one), then sync ``run_dir`` into
    ``store``; serve with `Console.serve_forever`. Raises `ConsoleError` for a host beyond
    loopback without a token or a port in use (before any sync), and the store's errors for a
    run it cannot sync."""
    check_bind(host, token)
    # Bind before syncing: a port in use fails at once, before any work.
    server_class = _Server6 if ":" in host else _Server
    try:
        server = make_server(
            host, port, _not_ready, server_class=server_class, handler_class=_QuietHandler
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConsoleError(
                f"port {port} on {host} is already in use (another graphguard review?); "
                "choose another with --port, or stop what is listening there"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(
            exc, socket.gaierror
        ):
            raise ConsoleError(f"cannot listen on {host}: {exc.strerror or exc}") from None
        raise
    try:
        summary = store.sync_run(run_dir, actor=actor)
        if on_sync is not None:
            on_sync(summary)
        guard = Guard.for_server(host, server.server_address[1], token)
        app = ReviewApp(store, run_dir, guard, actor)
    except BaseException:
        server.server_close()
        raise
    server.set_app(app)
    return Console(server, app, host, token)
