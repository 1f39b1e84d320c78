"""The review console end to end: `graphguard review` started as a process on a run with a
planted ring, driven in headless Chromium over the DevTools protocol (`tests.browser`): open the
queue, click into the ring's case, confirm it as bot_ring with one member excepted, then find
the decision in the database (`CaseStore.get_case`) and in `graphguard cases labels`. A page of
another site that posts a forged decision is refused. Skipped where Chromium is not installed.

With GRAPHGUARD_SCREENSHOTS=DIR the screenshots (queue.png, case_decided.png) are also copied
there (experiments/casework/ holds the ones in git).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from graphguard.casestore import CaseStore
from tests.browser import CHROMIUM, Browser
from tests.clicheck import invoke
from tests.worlds import HTML_ID, QUOTE_ID, SCRIPT_ID

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
    ),
]
pytest.importorskip("websocket", reason="websocket-client (the dev extra) is not installed")

ACTOR = "e2e-investigator"
READY = "document.documentElement.dataset.ready === '1'"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def console(hostile_run: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(URL, database) of `graphguard review` serving the hostile run on a free port."""
    db = tmp_path / "cases.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRAPHGUARD_DEBUG": ""}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graphguard",
            "review",
            str(hostile_run),
            "--db",
            str(db),
            "--port",
            "0",
            "--actor",
            ACTOR,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        try:
            url = lines.get(timeout=120).strip()
        except queue.Empty:
            url = ""
        if not url.startswith("http://127.0.0.1:"):
            process.kill()
            pytest.fail(f"graphguard review did not start: {url!r} {process.stderr.read()}")
        yield url, db
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def keep(shot: Path) -> None:
    target = os.environ.get("GRAPHGUARD_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)


def test_decide_a_case_in_the_browser(console: tuple[str, Path], tmp_path: Path) -> None:
    url, db = console
    with CaseStore.open(db) as store:
        [ring] = [c.id for c in store.list_cases() if HTML_ID in store.get_case(c.id).members]
        members = store.get_case(ring).members
    with Browser(width=1400, height=1000) as browser:
        # The queue: every case a row, the ring among them; hostile ids stay text.
        browser.open(url, ready=READY)
        rows = browser.evaluate("document.querySelectorAll('table.queue tbody tr').length")
        assert rows >= 2
        assert browser.evaluate("document.querySelectorAll('img, iframe').length") == 0

        # Into the ring's case: its graph is drawn by Cytoscape.js, its members listed.
        marked = browser.evaluate(
            "(function (id) { var a = Array.prototype.find.call("
            "document.querySelectorAll('a.case-link'), function (a) { return a.textContent === "
            f"id; }}); if (a) a.setAttribute('data-e2e', '1'); return !!a; }})({ring!r})"
        )
        assert marked
        browser.follow("a[data-e2e]", ready=READY)
        assert browser.evaluate("document.getElementById('gg-graph').cy.nodes().length") > 12
        texts = browser.evaluate(
            "Array.prototype.map.call(document.querySelectorAll('td.id'), "
            "function (td) { return td.textContent; })"
        )
        assert HTML_ID in texts and SCRIPT_ID in texts  # as text, not markup
        assert browser.evaluate("document.querySelectorAll('img, iframe').length") == 0

        # Decide: confirm as bot_ring, one real user excepted, with a note.
        browser.evaluate(
            "(function (except) {"
            " var f = document.getElementById('decide-form');"
            " f.querySelector('select[name=label]').value = 'bot_ring';"
            " f.querySelector('textarea[name=note]').value = 'two devices, one IP, waves';"
            " Array.prototype.forEach.call(f.querySelectorAll('input[name=except]'),"
            "   function (box) { box.checked = box.value === except; });"
            " f.querySelector('details').open = true;"
            f" }})({QUOTE_ID!r})"
        )
        browser.follow("#decide-button", ready=READY)
        assert "Decision recorded." in browser.evaluate("document.body.innerText")
        assert browser.evaluate("document.querySelector('header .badge.st').textContent") == (
            "confirmed"
        )
        browser.evaluate("window.scrollTo(0, 0)")
        keep(browser.screenshot(tmp_path / "case_decided.png", scale=1.0))

        # Back in the queue, the case shows as confirmed with its label.
        browser.follow("header a[href='/']", ready=READY)
        row = browser.evaluate(
            "(function (id) { var a = Array.prototype.find.call("
            "document.querySelectorAll('a.case-link'), function (a) { return a.textContent === "
            f"id; }}); return a.closest('tr').innerText; }})({ring!r})"
        )
        assert "confirmed" in row and "bot_ring" in row
        keep(browser.screenshot(tmp_path / "queue.png", "body", scale=1.0))
        assert browser.console == [], browser.console  # no error, no CSP violation

        # A page of another site posting a forged decision to the console is refused: the
        # SameSite=Strict session cookie is not sent, the Origin is not the console's.
        forged = tmp_path / "forged.html"
        forged.write_text(
            f'<form id="f" method="post" action="{url}act">'
            f'<input name="action" value="decide"><input name="case" value="{ring}">'
            '<input name="verdict" value="dismissed"><input name="csrf" value="guess"></form>'
            "<script>document.getElementById('f').submit()</script>",
            encoding="utf-8",
        )
        browser.open(forged.as_uri())
        browser.wait_for("location.href.indexOf('/act') > 0 && document.readyState === 'complete'")
        assert "refused" in browser.evaluate("document.body.innerText")

    with CaseStore.open(db) as store:
        detail = store.get_case(ring)
    assert (detail.status, detail.verdict, detail.label) == ("confirmed", "confirmed", "bot_ring")
    assert detail.exceptions == [QUOTE_ID]
    assert [n.text for n in detail.notes] == ["two devices, one IP, waves"]
    decisions = [e for e in detail.audit if e.action.startswith("decide")]
    assert len(decisions) == 1 and decisions[0].actor == ACTOR  # the forgery left no trace

    labels_file = tmp_path / "labels.parquet"
    result = invoke("cases", "labels", "--out", labels_file, "--db", db)
    assert result.exit_code == 0, result.output
    labels = dict(pl.read_parquet(labels_file).select("account_id", "label").iter_rows())
    assert labels[QUOTE_ID] == "benign"
    assert {labels[m] for m in members if m != QUOTE_ID} == {"bot_ring"}
