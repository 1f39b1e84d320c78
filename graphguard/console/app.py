"""The review console as a WSGI application (stdlib only; `graphguard.console.server` serves it).

Routes (anything else is 404; methods other than GET and POST are 405):

| method | path | what |
|---|---|---|
| GET | ``/`` | the queue; ``?sort=suspicion|size|growth|status|updated``, ``?status=...`` |
| GET | ``/case?id=CASE`` | the case: decision forms above the run's case file |
| GET | ``/audit`` | the audit log, latest first |
| GET | ``/static/NAME`` | the page assets and licences, by exact name from a fixed list |
| POST | ``/act`` | every state change: ``action`` = decide, status, assign, note, bulk |

Every request passes `Guard` (Host header, access token); a POST also needs its session's CSRF
token and a same-site Origin. A POST answers 303 to the page it changed (post/redirect/get).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import polars as pl

from graphguard.casestore import STATUSES, CaseNotFound, CaseStore, CaseStoreError
from graphguard.console import pages
from graphguard.console.security import (
    ACCESS_COOKIE,
    SESSION_COOKIE,
    Guard,
    cookie_header,
    cookies,
)
from graphguard.rundir import CLUSTER_ID, load_run
from graphguard.rundir.cases import Case, load_cases

StartResponse = Callable[..., Any]
#: Largest form body accepted (a decision with a few thousand exceptions fits).
MAX_BODY = 1 << 20
#: Files ``/static/`` serves: name -> (folder of graphguard.report.html, content type).
STATIC = {
    "style.css": ("static", "text/css; charset=utf-8"),
    "case.js": ("static", "text/javascript; charset=utf-8"),
    "cytoscape.min.js": ("vendor", "text/javascript; charset=utf-8"),
    "cytoscape.LICENSE": ("vendor", "text/plain; charset=utf-8"),
    "README.md": ("vendor", "text/plain; charset=utf-8"),
}
CAMPAIGN = "campaign_id"


@dataclass
class Response:
    status: str
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _html(status: str, text: str) -> Response:
    return Response(status, text.encode("utf-8"))


def _redirect(location: str) -> Response:
    return Response("303 See Other", b"", "text/plain", [("Location", location)])


def _one(values: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    got = values.get(name)
    return got[0] if got else default


class BadRequest(Exception):
    """A request the console refuses; the message is shown, escaped."""


class ReviewApp:
    """The console over one case store and the run under review.

    Args:
        store: the case store (already synced with the run).
        run_dir: the run directory whose case files the case pages show.
        guard: the request checks (`Guard.for_server`).
        actor: who the decisions are recorded as.
    """

    def __init__(self, store: CaseStore, run_dir: str | Path, guard: Guard, actor: str) -> None:
        self.store = store
        self.run_dir = Path(run_dir)
        self.run = load_run(self.run_dir)
        self.run_name = self.run_dir.name
        self.guard = guard
        self.actor = actor

    # --------------------------------------------------------------------------- plumbing

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self.handle(environ)
        except Exception:  # never a traceback to the browser; the terminal gets it
            traceback.print_exc(file=sys.stderr)
            response = _html(
                "500 Internal Server Error",
                pages.error_page("500", "the console failed on this request (see its terminal)"),
            )
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", pages.REFERRER),
            ("Content-Security-Policy", "frame-ancestors 'none'"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            *response.headers,
        ]
        start_response(response.status, headers)
        return [response.body]

    def handle(self, environ: dict[str, Any]) -> Response:
        if not self.guard.host_ok(environ):
            return Response(
                "421 Misdirected Request",
                b"graphguard review: this server does not answer to that Host name\n",
                "text/plain; charset=utf-8",
            )
        query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        path = str(environ.get("PATH_INFO") or "/")
        query_token = _one(query, "token")
        if not self.guard.access_ok(environ, query_token):
            return _html(
                "401 Unauthorized",
                pages.error_page(
                    "401",
                    "this console needs its access token: open the link graphguard review "
                    "printed (…/?token=…)",
                ),
            )
        if query_token is not None and method == "GET":
            # The token moves to a cookie; the address bar and history lose it.
            rest = {k: v for k, v in query.items() if k != "token"}
            target = path + ("?" + urlencode(rest, doseq=True) if rest else "")
            response = _redirect(target if path.startswith("/") else "/")
            response.headers.append(cookie_header(ACCESS_COOKIE, query_token))
            return response
        session = cookies(environ).get(SESSION_COOKIE)
        new_session = None
        if not session:
            from secrets import token_urlsafe

            session = new_session = token_urlsafe(24)
        if method == "GET" or method == "HEAD":
            response = self.get(path, query, self.guard.csrf_token(session))
        elif method == "POST":
            response = self.post(environ, path)
        else:
            response = Response(
                "405 Method Not Allowed", b"", "text/plain", [("Allow", "GET, POST")]
            )
        if new_session is not None:
            response.headers.append(cookie_header(SESSION_COOKIE, new_session))
        if method == "HEAD":
            response.body = b""
        return response

    # --------------------------------------------------------------------------- pages

    def get(self, path: str, query: dict[str, list[str]], csrf: str) -> Response:
        if path == "/":
            return self.queue(query, csrf)
        if path == "/case":
            return self.case(query, csrf)
        if path == "/audit":
            entries = list(reversed(self.store.audit(limit=2000)))
            return _html(
                "200 OK", pages.audit_page(entries, run_name=self.run_name, actor=self.actor)
            )
        if path == "/favicon.ico":
            return Response("204 No Content", b"", "text/plain")
        if path.startswith("/static/"):
            return self.static(path[len("/static/") :])
        return _html("404 Not Found", pages.error_page("404", "no such page"))

    def queue(self, query: dict[str, list[str]], csrf: str, **extra: Any) -> Response:
        sort = _one(query, "sort", "suspicion") or "suspicion"
        status = _one(query, "status") or None
        if sort not in pages.QUEUE_SORTS or (status is not None and status not in STATUSES):
            return _html(
                "400 Bad Request",
                pages.error_page(
                    "400",
                    f"sort must be one of {', '.join(pages.QUEUE_SORTS)} and status one of "
                    f"{', '.join(STATUSES)}",
                ),
            )
        cases = self.store.list_cases(status=status, sort=sort)
        text = pages.queue_page(
            cases,
            self.store.counts(),
            sort=sort,
            status=status,
            csrf=csrf,
            run_name=self.run_name,
            actor=self.actor,
            message=_one(query, "done"),
        )
        return _html("200 OK", text)

    def _run_case(self, case_id: str) -> Case | None:
        clusters = self.run.clusters
        if CAMPAIGN not in clusters.columns:
            return None
        found = clusters.filter(pl.col(CAMPAIGN) == case_id).get_column(CLUSTER_ID)
        if found.is_empty() or found[0] is None:
            return None
        return load_cases(self.run, [int(found[0])])[0]

    def case(
        self, query: dict[str, list[str]], csrf: str, error: str | None = None, status: str = ""
    ) -> Response:
        case_id = _one(query, "id")
        if not case_id:
            return _html("400 Bad Request", pages.error_page("400", "which case? (/case?id=…)"))
        try:
            detail = self.store.get_case(case_id)
        except CaseNotFound as exc:
            return _html("404 Not Found", pages.error_page("404", str(exc)))
        text = pages.case_page(
            detail,
            self._run_case(case_id),
            csrf=csrf,
            run_name=self.run_name,
            actor=self.actor,
            message=_one(query, "done"),
            error=error,
        )
        return _html(status or "200 OK", text)

    def static(self, name: str) -> Response:
        # Exact names only: no path is ever built from the request.
        if name not in STATIC:
            return _html("404 Not Found", pages.error_page("404", "no such file"))
        folder, content_type = STATIC[name]
        data = resources.files("graphguard.report.html").joinpath(folder, name).read_bytes()
        return Response("200 OK", data, content_type)

    # --------------------------------------------------------------------------- changes

    def _form(self, environ: dict[str, Any]) -> dict[str, list[str]]:
        kind = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise BadRequest("a form post (application/x-www-form-urlencoded) is expected")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadRequest("a bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise BadRequest(f"a form of at most {MAX_BODY:,} bytes is expected")
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the form is not UTF-8") from None
        return parse_qs(text, keep_blank_values=True, max_num_fields=100_000)

    def post(self, environ: dict[str, Any], path: str) -> Response:
        forbidden = Response(
            "403 Forbidden",
            b"graphguard review: refused: this request did not come from the console's own "
            b"page (missing or wrong CSRF token, or another site's Origin)\n",
            "text/plain; charset=utf-8",
        )
        if not self.guard.origin_ok(environ):
            return forbidden
        try:
            form = self._form(environ)
        except BadRequest as exc:
            return Response("400 Bad Request", f"{exc}\n".encode(), "text/plain; charset=utf-8")
        if not self.guard.csrf_ok(environ, form):
            return forbidden
        if path != "/act":
            return _html("404 Not Found", pages.error_page("404", "no such action"))
        action = _one(form, "action")
        case_id = _one(form, "case")
        try:
            if action == "bulk":
                return self.bulk(form)
            if not case_id:
                raise BadRequest("which case?")
            done = self.act(action, case_id, form)
        except (BadRequest, CaseStoreError) as exc:
            if isinstance(exc, CaseNotFound):
                return _html("404 Not Found", pages.error_page("404", str(exc)))
            session = cookies(environ).get(SESSION_COOKIE) or ""
            if case_id and action != "bulk":
                return self.case(
                    {"id": [case_id]},
                    self.guard.csrf_token(session),
                    error=str(exc),
                    status="400 Bad Request",
                )
            return _html("400 Bad Request", pages.error_page("400", str(exc)))
        return _redirect(pages.case_href(case_id) + "&" + urlencode({"done": done}))

    def act(self, action: str | None, case_id: str, form: dict[str, list[str]]) -> str:
        """One change to one case; the message key for the page it redirects to."""
        actor = self.actor
        if action == "decide":
            verdict = _one(form, "verdict") or ""
            label = _one(form, "label") or None
            note = (_one(form, "note") or "").strip() or None
            exceptions = form.get("except", []) if verdict == "confirmed" else []
            self.store.decide(
                case_id, verdict, label=label, note=note, exceptions=exceptions, actor=actor
            )
            return "decided"
        if action == "status":
            self.store.set_status(case_id, _one(form, "status") or "", actor=actor)
            return "status"
        if action == "assign":
            assignee = (_one(form, "assignee") or "").strip() or None
            self.store.assign(case_id, assignee, actor=actor)
            return "assigned"
        if action == "note":
            self.store.add_note(case_id, _one(form, "text") or "", actor=actor)
            return "noted"
        raise BadRequest(f"unknown action {action!r}")

    def bulk(self, form: dict[str, list[str]]) -> Response:
        """One verdict (or in_review) on every selected case of the queue."""
        chosen = list(dict.fromkeys(form.get("case", [])))
        verdict = _one(form, "verdict") or ""
        if not chosen:
            raise BadRequest("select at least one case for a bulk decision")
        if verdict not in ("confirmed", "dismissed", "in_review"):
            raise BadRequest("a bulk decision is confirmed, dismissed or in_review")
        label = (_one(form, "label") or None) if verdict == "confirmed" else None
        for case_id in chosen:  # checked first: an unknown id changes nothing
            self.store.get_case(case_id)
        for case_id in chosen:
            if verdict == "in_review":
                self.store.set_status(case_id, "in_review", actor=self.actor)
            else:
                self.store.decide(case_id, verdict, label=label, actor=self.actor)
        return _redirect("/?" + urlencode({"done": "bulk"}))
