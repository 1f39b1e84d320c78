"""The review console's routes, through its WSGI application (and a live server where binding
matters): CSRF, Origin and Host checks, the access token, escaping of hostile strings in the
queue, case page and audit log, static files without traversal, and the decisions it records."""

from __future__ import annotations

import html
import io
import re
import shutil
import socket
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from graphguard.casestore import CaseStore
from graphguard.console import ConsoleError, Guard, ReviewApp, check_bind, open_console
from tests.clicheck import assert_clean_error, invoke
from tests.worlds import HOSTILE_ACCOUNTS, HTML_ID, QUOTE_ID, SCRIPT_ID

HOSTILE = (HTML_ID, SCRIPT_ID, QUOTE_ID)
PORT = 8765
HOST = f"127.0.0.1:{PORT}"
ORIGIN = f"http://{HOST}"
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf" value="([0-9a-f]{64})">')


class Client:
    """A browser's side of the WSGI app: keeps cookies, sends Host (and Origin on POST)."""

    def __init__(self, app: ReviewApp, host: str = HOST, origin: str | None = ORIGIN) -> None:
        self.app, self.host, self.origin = app, host, origin
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, url: str, form: dict | list | None = None, **headers: str
    ) -> tuple[str, dict[str, list[str]], str]:
        parts = urlsplit(url)
        body = urlencode(form or {}, doseq=True).encode() if form is not None else b""
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "HTTP_HOST": self.host,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(PORT),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "CONTENT_LENGTH": str(len(body)),
        }
        if form is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST" and self.origin:
            environ["HTTP_ORIGIN"] = self.origin
        environ.update(headers)
        got: dict = {}

        def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
            got["status"] = status
            got["headers"] = response_headers

        text = b"".join(self.app(environ, start_response)).decode()
        headers_by_name: dict[str, list[str]] = {}
        for name, value in got["headers"]:
            headers_by_name.setdefault(name.lower(), []).append(value)
        for cookie in headers_by_name.get("set-cookie", []):
            jar = SimpleCookie()
            jar.load(cookie)
            self.cookies.update({k: m.value for k, m in jar.items()})
        return got["status"], headers_by_name, text

    def get(self, url: str, **headers: str) -> tuple[str, dict, str]:
        return self.request("GET", url, **headers)

    def post(self, url: str, form: dict | list, **headers: str) -> tuple[str, dict, str]:
        return self.request("POST", url, form, **headers)

    def csrf(self) -> str:
        _, _, page = self.get("/")
        return CSRF_INPUT.findall(page)[0]


@pytest.fixture()
def store(tmp_path: Path, hostile_run: Path) -> Iterator[CaseStore]:
    with CaseStore.open(tmp_path / "cases.db") as opened:
        opened.sync_run(hostile_run, actor="setup")
        yield opened


@pytest.fixture()
def app(store: CaseStore, hostile_run: Path) -> ReviewApp:
    return ReviewApp(store, hostile_run, Guard.for_server("127.0.0.1", PORT, None), "ana")


def ring_case(store: CaseStore) -> str:
    """The case of the hostile ring (its members carry the hostile ids)."""
    [case] = [c for c in store.list_cases() if HTML_ID in store.get_case(c.id).members]
    return case.id


# ------------------------------------------------------------------------------ CSRF and Origin


def test_session_cookie_is_strict_and_forms_carry_the_token(app: ReviewApp) -> None:
    client = Client(app)
    status, headers, page = client.get("/")
    assert status == "200 OK"
    [cookie] = headers["set-cookie"]
    assert cookie.startswith("gg_session=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    tokens = set(CSRF_INPUT.findall(page))
    assert len(tokens) == 1 and '<form method="post" action="/act"' in page
    assert "form-action 'self'" in page and headers["x-frame-options"] == ["DENY"]


def test_a_post_without_the_csrf_token_changes_nothing(app: ReviewApp, store: CaseStore) -> None:
    case_id = ring_case(store)
    before = store.audit()
    client = Client(app)
    client.get("/")  # has a session, but sends no token
    form = {"action": "decide", "case": case_id, "verdict": "confirmed", "label": "bot_ring"}
    status, _, text = client.post("/act", form)
    assert status == "403 Forbidden" and "CSRF" in text
    wrong = client.post("/act", {**form, "csrf": "0" * 64})
    assert wrong[0] == "403 Forbidden"
    # Another session's token is wrong for this one.
    other = Client(app)
    assert client.post("/act", {**form, "csrf": other.csrf()})[0] == "403 Forbidden"
    # Two tokens (one right) are refused too.
    assert client.post("/act", {**form, "csrf": [client.csrf(), "x"]})[0] == "403 Forbidden"
    # No session cookie at all: a token alone is not enough.
    token = client.csrf()
    bare = Client(app)
    assert bare.post("/act", {**form, "csrf": token})[0] == "403 Forbidden"
    assert store.get_case(case_id).status == "open"
    assert store.audit() == before


def test_another_sites_origin_is_refused_even_with_the_token(
    app: ReviewApp, store: CaseStore
) -> None:
    case_id = ring_case(store)
    form = {"action": "status", "case": case_id, "status": "in_review"}
    for origin in ("http://evil.example", "null", f"https://{HOST}", "http://127.0.0.1:9999"):
        client = Client(app, origin=origin)
        assert client.post("/act", {**form, "csrf": client.csrf()})[0] == "403 Forbidden", origin
    referer = Client(app, origin=None)
    status, _, _ = referer.post(
        "/act", {**form, "csrf": referer.csrf()}, HTTP_REFERER="http://evil.example/x"
    )
    assert status == "403 Forbidden"
    assert store.get_case(case_id).status == "open"


def test_the_right_token_decides(app: ReviewApp, store: CaseStore) -> None:
    case_id = ring_case(store)
    client = Client(app)
    form = {
        "action": "decide",
        "case": case_id,
        "verdict": "confirmed",
        "label": "bot_ring",
        "note": "waves of likes from two devices",
        "except": [QUOTE_ID],
        "csrf": client.csrf(),
    }
    status, headers, _ = client.post("/act", form)
    assert status == "303 See Other"
    assert headers["location"] == ["/case?" + urlencode({"id": case_id}) + "&done=decided"]
    detail = store.get_case(case_id)
    assert (detail.status, detail.verdict, detail.label) == ("confirmed", "confirmed", "bot_ring")
    assert detail.exceptions == [QUOTE_ID]
    assert [n.text for n in detail.notes] == ["waves of likes from two devices"]
    assert detail.audit[-1].actor == "ana" and detail.audit[-1].action.startswith("decide")
    _, _, page = client.get(headers["location"][0])
    assert "Decision recorded." in page
    # The header is served without a browser Origin too (curl, a script with the cookie).
    client.origin = None
    form2 = {"action": "note", "case": case_id, "text": "second", "csrf": client.csrf()}
    assert client.post("/act", form2)[0] == "303 See Other"


def test_only_post_changes_state(app: ReviewApp, store: CaseStore) -> None:
    case_id = ring_case(store)
    client = Client(app)
    query = urlencode({"action": "status", "case": case_id, "status": "dismissed"})
    assert client.get(f"/act?{query}")[0] == "404 Not Found"
    for method in ("PUT", "DELETE", "PATCH"):
        status, headers, _ = client.request(method, "/act")
        assert status == "405 Method Not Allowed" and headers["allow"] == ["GET, POST"]
    assert store.get_case(case_id).status == "open"


def test_a_refused_decision_says_why(app: ReviewApp, store: CaseStore) -> None:
    case_id = ring_case(store)
    client = Client(app)
    form = {"action": "decide", "case": case_id, "verdict": "dismissed", "label": "bot_ring"}
    status, _, page = client.post("/act", {**form, "csrf": client.csrf()})
    assert status == "400 Bad Request" and "a dismissed case takes no label" in page
    status, _, page = client.post(
        "/act",
        {"action": "decide", "case": "no-such", "verdict": "dismissed", "csrf": client.csrf()},
    )
    assert status == "404 Not Found" and "no case" in page
    assert store.get_case(case_id).status == "open"


# ------------------------------------------------------------------------------ Host and token


def test_a_foreign_host_header_is_refused(app: ReviewApp) -> None:
    for host in ("evil.example", "evil.example:8765", "127.0.0.1:9999", ""):
        assert Client(app, host=host).get("/")[0] == "421 Misdirected Request", host
    for host in (HOST, f"localhost:{PORT}", f"[::1]:{PORT}"):
        assert Client(app, host=host).get("/")[0] == "200 OK", host


def test_beyond_loopback_needs_a_token(store: CaseStore, hostile_run: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.10", "::", "example.org"):
        with pytest.raises(ConsoleError, match="without an access token"):
            check_bind(host, None)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_bind(host, None)
    with pytest.raises(ConsoleError, match="at least 16 characters"):
        check_bind("0.0.0.0", "short")
    with pytest.raises(ConsoleError, match="at least 16 characters"):
        check_bind("0.0.0.0", "a" * 20 + "; Path=/x")
    with pytest.raises(ConsoleError, match="without an access token"):
        open_console(store, hostile_run, host="0.0.0.0", port=0)


def test_the_cli_refuses_a_public_host_without_a_token(hostile_run: Path, tmp_path: Path) -> None:
    result = invoke("review", hostile_run, "--db", tmp_path / "c.db", "--host", "0.0.0.0")
    assert_clean_error(result, "refusing to listen on 0.0.0.0", "--token")


def test_with_a_token_every_request_needs_it(store: CaseStore, hostile_run: Path) -> None:
    token = "t0ken-" + "x" * 20
    app = ReviewApp(store, hostile_run, Guard.for_server("0.0.0.0", PORT, token), "ana")
    client = Client(app, host=f"reviews.example:{PORT}", origin=f"http://reviews.example:{PORT}")
    assert client.get("/")[0] == "401 Unauthorized"
    assert client.get("/?token=wrong-" + "x" * 20)[0] == "401 Unauthorized"
    assert client.get("/", HTTP_AUTHORIZATION="Bearer nope")[0] == "401 Unauthorized"
    assert client.get("/", HTTP_AUTHORIZATION=f"Bearer {token}")[0] == "200 OK"
    status, headers, _ = client.get(f"/audit?token={token}")
    assert status == "303 See Other" and headers["location"] == ["/audit"]  # token leaves URL
    assert any(
        c.startswith(f"gg_access={token};") and "SameSite=Strict" in c and "HttpOnly" in c
        for c in headers["set-cookie"]
    )
    assert client.get("/")[0] == "200 OK"  # by the cookie now
    case_id = ring_case(store)
    form = {"action": "status", "case": case_id, "status": "in_review", "csrf": client.csrf()}
    assert client.post("/act", form)[0] == "303 See Other"
    intruder = Client(app, host=f"reviews.example:{PORT}", origin=f"http://reviews.example:{PORT}")
    intruder.cookies = {"gg_session": client.cookies["gg_session"]}  # a stolen session alone
    assert intruder.post("/act", form)[0] == "401 Unauthorized"


def test_a_port_in_use_is_named(store: CaseStore, hostile_run: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConsoleError, match=f"port {port} on 127.0.0.1 is already in use"):
            open_console(store, hostile_run, port=port)
        db = tmp_path / "fresh.db"
        result = invoke("review", hostile_run, "--db", db, "--port", port)
        assert_clean_error(result, f"port {port} on 127.0.0.1 is already in use", "--port")
    with CaseStore.open(db) as fresh:
        assert fresh.list_cases() == []  # refused before syncing anything


# ------------------------------------------------------------------------------ static files


def test_static_files_by_name_only(app: ReviewApp) -> None:
    client = Client(app)
    status, headers, text = client.get("/static/cytoscape.LICENSE")
    assert status == "200 OK" and "Cytoscape Consortium" in text
    assert headers["content-type"] == ["text/plain; charset=utf-8"]
    for path in (
        "/static/../cli.py",
        "/static/../../pyproject.toml",
        "/static/%2e%2e/case.py",
        "/static/..%2fcase.py",
        "/static/vendor/cytoscape.min.js",
        "/static/static/case.js",
        "/static//etc/passwd",
        "/static/",
        "/static/./style.css",
        "/static/style.css/",
        "/../pyproject.toml",
    ):
        status, _, text = client.get(path)
        assert status == "404 Not Found", path
        assert "import" not in text and "[project]" not in text


# ------------------------------------------------------------------------------ escaping


def test_hostile_strings_are_text_in_queue_case_and_audit(app: ReviewApp, store: CaseStore) -> None:
    case_id = ring_case(store)
    client = Client(app)
    for form in (
        {"action": "assign", "assignee": HTML_ID},
        {"action": "note", "text": SCRIPT_ID},
        {
            "action": "decide",
            "verdict": "confirmed",
            "label": "bot_ring",
            "except": [HTML_ID, QUOTE_ID],
            "note": QUOTE_ID,
        },
    ):
        status, _, _ = client.post("/act", {**form, "case": case_id, "csrf": client.csrf()})
        assert status == "303 See Other", form
    hostile_actor = ReviewApp(store, app.run_dir, app.guard, SCRIPT_ID)
    other = [c.id for c in store.list_cases() if c.id != case_id][0]
    actor_client = Client(hostile_actor)
    form = {"action": "note", "case": other, "text": HTML_ID, "csrf": actor_client.csrf()}
    assert actor_client.post("/act", form)[0] == "303 See Other"

    _, _, queue = client.get("/")
    _, _, case_page = client.get("/case?" + urlencode({"id": case_id}))
    _, _, audit = client.get("/audit")
    for name, page in (("queue", queue), ("case", case_page), ("audit", audit)):
        for hostile in HOSTILE:
            assert hostile not in page, (name, hostile)
        assert "<img" not in page and "<iframe" not in page, name
        assert "onerror=alert" not in page.replace(html.escape("onerror=alert"), ""), name
    # Each shows them, escaped.
    assert html.escape(HTML_ID) in queue  # the assignee column
    assert html.escape(SCRIPT_ID) in case_page and html.escape(QUOTE_ID) in case_page
    assert f'value="{html.escape(HTML_ID)}" checked' in case_page  # the exception's checkbox
    assert html.escape(SCRIPT_ID) in audit and html.escape(HTML_ID) in audit
    # The queue and audit pages hold the data block and the page script; a case page also
    # Cytoscape.js: no hostile string opened or closed a script element.
    assert queue.count("<script") == queue.count("</script>") == 2
    assert audit.count("<script") == audit.count("</script>") == 2
    assert case_page.count("<script") == case_page.count("</script>") == 3
    # The page is the run's case file (its member table, the graph data) under the forms.
    members = store.get_case(case_id).members
    assert case_page.count('<tr class="pick"') == len(members)
    assert all(html.escape(a) in case_page for a in HOSTILE_ACCOUNTS[:3])
    assert 'id="gg-graph"' in case_page and 'id="decide-form"' in case_page


# ------------------------------------------------------------------------------ the queue


def test_queue_sorts_filters_and_bulk_decides(app: ReviewApp, store: CaseStore) -> None:
    client = Client(app)
    ids = re.compile(r'<a class="case-link" href="/case\?id=([^"]+)">')

    def shown(url: str) -> list[str]:
        status, _, page = client.get(url)
        assert status == "200 OK", url
        return [parse_qs("id=" + html.unescape(i))["id"][0] for i in ids.findall(page)]

    for sort in ("suspicion", "size", "growth", "status", "updated"):
        assert shown(f"/?sort={sort}") == [c.id for c in store.list_cases(sort=sort)], sort
    assert client.get("/?sort=evil")[0] == "400 Bad Request"
    assert client.get("/?status=<b>")[0] == "400 Bad Request"
    chosen = [c.id for c in store.list_cases()][:2]
    form = {"action": "bulk", "case": chosen, "verdict": "dismissed", "csrf": client.csrf()}
    status, headers, _ = client.post("/act", form)
    assert status == "303 See Other" and headers["location"] == ["/?done=bulk"]
    assert {store.get_case(c).status for c in chosen} == {"dismissed"}
    assert shown("/?status=dismissed") == chosen
    assert set(shown("/?status=open")).isdisjoint(chosen)
    # An unknown id in a bulk request changes nothing at all.
    rest = [c.id for c in store.list_cases(status="open")]
    form = {
        "action": "bulk",
        "case": [*rest[:1], "nope"],
        "verdict": "confirmed",
        "csrf": client.csrf(),
    }
    assert client.post("/act", form)[0] == "404 Not Found"
    assert store.get_case(rest[0]).status == "open"


def test_a_hostile_case_id_stays_text_and_round_trips(hostile_run: Path, tmp_path: Path) -> None:
    """Case ids come from campaign ids, which a previous run (a file anyone could edit) carries
    forward: one made of markup must stay text in links, forms and pages, and still work."""
    import polars as pl

    run_dir = tmp_path / "run"
    shutil.copytree(hostile_run, run_dir)
    clusters = pl.read_parquet(run_dir / "clusters.parquet")
    top = clusters.sort("suspicion", descending=True)["campaign_id"][0]
    hostile_id = SCRIPT_ID + "&id=x/../?" + HTML_ID
    for name in ("clusters.parquet", "accounts.parquet"):
        frame = pl.read_parquet(run_dir / name)
        frame.with_columns(
            pl.when(pl.col("campaign_id") == top)
            .then(pl.lit(hostile_id))
            .otherwise(pl.col("campaign_id"))
            .alias("campaign_id")
        ).write_parquet(run_dir / name)
    with CaseStore.open(tmp_path / "cases.db") as store:
        store.sync_run(run_dir, actor="setup")
        app = ReviewApp(store, run_dir, Guard.for_server("127.0.0.1", PORT, None), "ana")
        client = Client(app)
        _, _, queue = client.get("/")
        href = html.escape(f"/case?{urlencode({'id': hostile_id})}")
        assert f'<a class="case-link" href="{href}">{html.escape(hostile_id)}</a>' in queue
        status, _, page = client.get(f"/case?{urlencode({'id': hostile_id})}")
        assert status == "200 OK" and 'id="gg-graph"' in page  # the run's case file found
        form = {
            "action": "decide",
            "case": hostile_id,
            "verdict": "confirmed",
            "label": "bot_ring",
            "csrf": client.csrf(),
        }
        status, headers, _ = client.post("/act", form)
        assert status == "303 See Other"
        assert parse_qs(urlsplit(headers["location"][0]).query)["id"] == [hostile_id]
        assert store.get_case(hostile_id).status == "confirmed"
        _, _, audit = client.get("/audit")
        for text in (queue, page, audit):
            assert SCRIPT_ID not in text and HTML_ID not in text
            assert text.count("<script") == text.count("</script>")


def test_the_request_log_never_holds_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    from graphguard.console.server import _QuietHandler

    secret = "s3cret-" + "y" * 20
    _QuietHandler.log_message(
        None, '"%s" %s %s', f"GET /audit?a=1&token={secret} HTTP/1.1", "303", "0"
    )  # type: ignore[arg-type]
    _QuietHandler.log_message(None, '"%s" %s %s', "GET /?id=\x1b[31m HTTP/1.1", "200", "9")  # type: ignore[arg-type]
    logged = capsys.readouterr().err
    assert secret not in logged and "token=…" in logged
    assert "\x1b" not in logged
