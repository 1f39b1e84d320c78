"""The review console's guards: who may connect, and which requests may change state.

* **Where it listens.** `check_bind` refuses a host beyond loopback unless an access token is
  set: on a shared network anyone could otherwise read the cases and decide them.
* **Access token.** When set, every request must carry it: once as ``?token=...`` (the console
  prints that link; the token then moves to an HttpOnly, SameSite=Strict cookie and the page
  redirects to the bare URL), or as ``Authorization: Bearer ...``. Compared in constant time.
* **Host header.** Only the names the server is reached by (``allowed_hosts``) are served, so a
  DNS-rebinding page (evil.example resolving to 127.0.0.1) gets 421, not the queue.
* **Cross-site request forgery.** Only POST changes state. A POST needs the session cookie
  (random, HttpOnly, SameSite=Strict, set on the first GET) and the form field (or
  ``X-CSRF-Token`` header) ``csrf`` equal to an HMAC of that session under the server's secret
  (`hmac.compare_digest`); an ``Origin`` (or, without it, ``Referer``) naming another site is
  refused even with a good token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from graphguard.errors import GraphguardError

SESSION_COOKIE = "gg_session"
ACCESS_COOKIE = "gg_access"
CSRF_FIELD = "csrf"
CSRF_HEADER = "HTTP_X_CSRF_TOKEN"


class ConsoleError(GraphguardError):
    """The console cannot start as asked (a host beyond loopback without a token, a port in
    use); the message says what to do."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only reaches this machine."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


#: What an access token may hold (it travels in a URL and a cookie) and its shortest length.
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
MIN_TOKEN_LENGTH = 16


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without an access token, or with a weak one."""
    if token is not None and (len(token) < MIN_TOKEN_LENGTH or set(token) - _TOKEN_CHARS):
        raise ConsoleError(
            f"an access token needs at least {MIN_TOKEN_LENGTH} characters among letters, "
            "digits and - . _ ~ (or pass --token generate)"
        )
    if not is_loopback(host) and not token:
        raise ConsoleError(
            f"refusing to listen on {host}, which other machines can reach, without an access "
            "token: pass --token TOKEN (or --token generate to have one made and printed), "
            "or listen on 127.0.0.1"
        )


def new_token() -> str:
    """A fresh access token (printed once by `graphguard review`)."""
    return secrets.token_urlsafe(24)


def cookies(environ: Mapping[str, object]) -> dict[str, str]:
    """The request's cookies (a malformed header counts as none)."""
    jar = SimpleCookie()
    try:
        jar.load(str(environ.get("HTTP_COOKIE") or ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets; a missing one never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def cookie_header(name: str, value: str, *, max_age: int | None = None) -> tuple[str, str]:
    """A Set-Cookie header the browser keeps to this site's own requests."""
    age = f"; Max-Age={max_age}" if max_age is not None else ""
    return ("Set-Cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}")


@dataclass
class Guard:
    """The checks of one console server.

    Args:
        allowed_hosts: ``host[:port]`` values of the Host header that are served.
        token: the access token, or None (loopback only).
        secret: the key of the CSRF HMAC (random per server start unless given).
    """

    allowed_hosts: frozenset[str]
    token: str | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def for_server(cls, host: str, port: int, token: str | None) -> Guard:
        """The Host values a browser sends for this server: the bound host, and for loopback
        its usual names. Bound to every interface (0.0.0.0, ::), any name is served: the
        access token, required there, is what protects it."""
        if host.strip("[]") in ("0.0.0.0", "::", ""):
            return cls(frozenset({"*"}), token)
        names = {host.strip("[]")}
        if is_loopback(host):
            names |= {"127.0.0.1", "localhost", "::1"}
        allowed = set()
        for name in names:
            shown = f"[{name}]" if ":" in name else name
            allowed |= {f"{shown}:{port}"} | ({shown} if port == 80 else set())
        return cls(frozenset(a.lower() for a in allowed), token)

    def host_ok(self, environ: Mapping[str, object]) -> bool:
        host = str(environ.get("HTTP_HOST") or "").lower()
        return host in self.allowed_hosts or "*" in self.allowed_hosts

    def origin_ok(self, environ: Mapping[str, object]) -> bool:
        """A POST's Origin (else Referer) is absent or this very server."""
        origin = str(environ.get("HTTP_ORIGIN") or "")
        if not origin:
            referer = str(environ.get("HTTP_REFERER") or "")
            if not referer:
                return True  # no header at all: the CSRF token alone decides
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin == "null":
            return False
        parts = urlsplit(origin)
        host = str(environ.get("HTTP_HOST") or "").lower()
        return parts.scheme == "http" and parts.netloc.lower() == host and self.host_ok(environ)

    def access_ok(self, environ: Mapping[str, object], query_token: str | None) -> bool:
        """Whether the request carries the access token (always, without one)."""
        if self.token is None:
            return True
        auth = str(environ.get("HTTP_AUTHORIZATION") or "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        return any(
            same(candidate, self.token)
            for candidate in (cookies(environ).get(ACCESS_COOKIE), bearer, query_token)
        )

    def csrf_token(self, session: str) -> str:
        """The token the forms of ``session`` carry."""
        return hmac.new(self.secret, session.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf_ok(self, environ: Mapping[str, object], form: Mapping[str, Iterable[str]]) -> bool:
        """A POST carries its session's CSRF token (form field or header)."""
        session = cookies(environ).get(SESSION_COOKIE)
        if not session:
            return False
        sent = list(form.get(CSRF_FIELD, ())) or [str(environ.get(CSRF_HEADER) or "")]
        return len(sent) == 1 and same(sent[0], self.csrf_token(session))
