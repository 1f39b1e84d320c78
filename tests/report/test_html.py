"""HTML case files and run reports: escaping, content, links, and a real browser.

The browser test opens the pages in headless Chromium (Debian's `chromium`), checks that the
script ran without a console message, that a hostile account id selected through the URL shows
up as text in the details panel, and that the screenshot shows the graph. It is skipped where
Chromium is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from graphguard.cli import app
from graphguard.evaluation.evaluate import read_truth, truth_curve
from graphguard.export import load_cases, top_cluster_ids
from graphguard.report.html import (
    evidence_sentences,
    render_case_html,
    render_run_html,
    script_json,
    write_html_report,
)
from graphguard.rundir import load_run
from tests.worlds import (
    HOSTILE_DEVICE,
    HOSTILE_IP,
    HOSTILE_TARGET,
    HTML_ID,
    QUOTE_ID,
    RING_SIZE,
    SCRIPT_ID,
    hostile_cluster,
)

runner = CliRunner(env={"GRAPHGUARD_DEBUG": None})
DATA_BLOCK = re.compile(r'<script type="application/json" id="gg-data">(.*?)</script>', re.S)
CODE_BLOCK = re.compile(r"<script>(.*?)</script>", re.S)


def truth_curves(run_dir: Path, truth: Path) -> list[dict]:
    """The truth file's curve, as `graphguard report --html --truth` computes it."""
    curve = truth_curve(load_run(run_dir), read_truth(truth))
    return [curve] if curve else []


@pytest.fixture(scope="module")
def hostile_page(hostile_run: Path) -> str:
    return render_case_html(load_cases(hostile_run, [hostile_cluster(hostile_run)])[0])


def page_data(page: str) -> dict:
    [block] = DATA_BLOCK.findall(page)
    return json.loads(block)


# ------------------------------------------------------------------------------ escaping


def test_script_json_cannot_end_its_element() -> None:
    data = {"id": SCRIPT_ID, "other": "a & b <!-- \u2028\u2029 -->", SCRIPT_ID: [HTML_ID]}
    text = script_json(data)
    for forbidden in ("<", ">", "&", "\u2028", "\u2029"):
        assert forbidden not in text
    assert json.loads(text) == data


def test_hostile_ids_render_as_text(hostile_page: str) -> None:
    for hostile in (HTML_ID, SCRIPT_ID, QUOTE_ID, HOSTILE_DEVICE, HOSTILE_IP, HOSTILE_TARGET):
        assert hostile not in hostile_page, hostile
    # Account ids are in the member table, escaped.
    for account in (HTML_ID, SCRIPT_ID, QUOTE_ID):
        assert f'<td class="id" data-v="{html.escape(account)}">{html.escape(account)}</td>' in (
            hostile_page
        )
    # Exactly the page's three script elements (data, Cytoscape.js, the page's own): no id
    # opened a fourth or closed one early.
    assert hostile_page.count("<script") == 3
    assert hostile_page.count("</script>") == 3
    assert "onerror=" not in hostile_page.replace("onerror=alert", "")
    assert "<img" not in hostile_page and "<iframe" not in hostile_page


def test_hostile_ids_survive_as_data(hostile_page: str) -> None:
    data = page_data(hostile_page)
    labels = {(n["type"], n["label"]) for n in data["nodes"]}
    assert {("account", HTML_ID), ("account", SCRIPT_ID), ("account", QUOTE_ID)} <= labels
    assert {("device", HOSTILE_DEVICE), ("ip", HOSTILE_IP), ("target", HOSTILE_TARGET)} <= labels
    # The control character is made visible (U+FFFD) in the page; exports keep it exactly.
    assert ("account", "evil\ufffd[31mred") in labels
    explained = {e["account_id"] for e in data["explain"]}
    assert HTML_ID in explained and len(explained) == RING_SIZE


def test_the_content_security_policy_admits_only_the_page_scripts(hostile_page: str) -> None:
    vendor, code = CODE_BLOCK.findall(hostile_page)
    assert vendor.startswith("/**\n * Copyright (c) 2016-2026, The Cytoscape Consortium.")
    digests = [
        base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() for text in (vendor, code)
    ]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', hostile_page)
    assert policy is not None
    assert f"script-src 'sha256-{digests[0]}' 'sha256-{digests[1]}';" in policy.group(1)
    assert "default-src 'none'" in policy.group(1)
    assert "http" not in policy.group(1) and "unsafe-eval" not in policy.group(1)


# ------------------------------------------------------------------------------ case file content


def test_case_file_shows_graph_evidence_timeline_members_parameters(
    simulated_world: tuple[Path, Path],
) -> None:
    run_dir, _ = simulated_world
    run = load_run(run_dir)
    cluster = top_cluster_ids(run, 1)[0]
    case = load_cases(run, [cluster])[0]
    page = render_case_html(case)
    data = page_data(page)
    accounts = [n for n in data["nodes"] if n["type"] == "account"]
    assert len(accounts) == min(case.members.height, 400)
    assert data["layout"] == "kinds" and data["edges"]
    assert all(0 <= n["x"] <= 1000 and 0 <= n["y"] <= 620 for n in data["nodes"])
    assert {e[2] for e in data["edges"]} >= {"uses"}
    # Accounts on the outer ring, what they share inside it.
    centre = np.array([500.0, 310.0])

    def spread(kind: str) -> float:
        xy = np.array(
            [
                [n["x"], n["y"]]
                for n in data["nodes"]
                if (n["type"] == "account") == (kind == "account")
            ]
        )
        return float(np.mean(np.hypot(*((xy - centre) / [476, 286]).T)))

    assert spread("account") > 0.85 > 0.55 > spread("entity")
    # Every member is a table row and has an explanation.
    assert page.count('<tr class="pick"') == case.members.height == len(data["explain"])
    for text, _ in evidence_sentences(case.cluster):
        assert html.escape(text) in page
    assert "Activity over time" in page and page.count("<rect x=") > 3
    seed = run.meta["community"]["seed"]
    assert f"<tr><td>seed</td><td>{seed}</td></tr>" in page
    assert "Detector's summary" in page
    assert render_case_html(case) == page  # deterministic, layout included


# ------------------------------------------------------------------------------ run report


def test_run_report_links_case_files_and_draws_curves(
    simulated_world: tuple[Path, Path], tmp_path: Path
) -> None:
    run_dir, truth = simulated_world
    paths = write_html_report(
        run_dir, tmp_path / "report.html", cases=3, curves=truth_curves(run_dir, truth)
    )
    report = paths[0].read_text(encoding="utf-8")
    top = top_cluster_ids(load_run(run_dir), 3)
    assert [p.name for p in paths] == ["report.html", *(f"cluster-{c}.html" for c in top)]
    links = re.findall(r'<a href="(cluster-\d+\.html)">', report)
    assert links == [f"cluster-{c}.html" for c in top]
    assert all((tmp_path / link).is_file() for link in links)
    assert 'href="report.html"' in (tmp_path / links[0]).read_text(encoding="utf-8")
    assert "Cluster sizes" in report and "Cluster suspicion" in report
    assert "labels given to detect: AP" in report and "truth file: AP" in report
    assert report.count("<polyline") == 2
    assert len(re.findall(r"average precision [01]\.\d{3}", report)) == 2


def test_run_report_without_labels_says_so(hostile_run: Path) -> None:
    page = render_run_html(load_run(hostile_run))
    assert "No labels" in page and "<polyline" not in page
    assert "Cluster sizes" in page


def test_cli_report_html(hostile_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "site" / "index.html"
    result = runner.invoke(app, ["report", str(hostile_run), "--html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = [Path(line) for line in result.stdout.splitlines()]
    assert written[0] == out and all(p.is_file() for p in written)
    assert len(written) == 1 + min(10, load_run(hostile_run).clusters.height)
    clash = runner.invoke(app, ["report", str(hostile_run), "--html", "--json"])
    assert clash.exit_code == 2 and "choose one of" in clash.stderr
    stray = runner.invoke(app, ["report", str(hostile_run), "--truth", str(out)])
    assert stray.exit_code == 2


def test_export_format_html_writes_the_case_file(hostile_run: Path, tmp_path: Path) -> None:
    cluster = hostile_cluster(hostile_run)
    result = runner.invoke(
        app,
        ["export", str(hostile_run), "--cluster", str(cluster), "-f", "html", "-o", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / f"cluster-{cluster}.html").read_text(encoding="utf-8")
    assert HTML_ID not in page and html.escape(HTML_ID) in page


# ------------------------------------------------------------------------------ a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def console_messages(stderr: str) -> list[str]:
    """Console output: errors, CSP violations, uncaught exceptions (the pages log nothing else)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def script_ran(dom: str) -> bool:
    """The page's script finished (it marks <html data-ready>) and caught no error."""
    root = re.search(r"<html[^>]*>", dom)
    return (
        root is not None and 'data-ready="1"' in root.group() and "data-errors" not in root.group()
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)
def test_pages_in_headless_chromium(
    hostile_run: Path, simulated_world: tuple[Path, Path], tmp_path: Path
) -> None:
    import matplotlib.image

    hostile_case = tmp_path / "hostile.html"
    hostile_case.write_text(
        render_case_html(load_cases(hostile_run, [hostile_cluster(hostile_run)])[0]),
        encoding="utf-8",
    )
    run_dir, truth = simulated_world
    report, *cases = write_html_report(
        run_dir, tmp_path / "report.html", cases=1, curves=truth_curves(run_dir, truth)
    )

    # The script runs without a console message and fills the details panel from the URL,
    # showing the hostile id as text: no element is made from it.
    url = hostile_case.as_uri() + "#account=" + urllib.parse.quote(HTML_ID, safe="")
    dom = chromium(url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert script_ran(dom.stdout)
    assert console_messages(dom.stderr) == []
    panel = re.search(
        r'<aside class="details open" id="gg-details">(.*?)</aside>', dom.stdout, re.S
    )
    assert panel is not None, "selecting the account from the URL opens its details"
    assert f'<h3 class="mono">{html.escape(HTML_ID, quote=False)}</h3>' in panel.group(1)
    assert "What drove its risk" in panel.group(1)
    assert "<img" not in dom.stdout and "<iframe" not in dom.stdout

    for page in (report, cases[0]):
        dom = chromium(page.as_uri(), "--dump-dom")
        assert script_ran(dom.stdout)
        assert console_messages(dom.stderr) == []

    # Screenshots: the case file shows the graph (high-risk red accounts) beside the evidence.
    for page, name in ((cases[0], "case.png"), (report, "report.png")):
        shot = tmp_path / name
        result = chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1400,1000")
        assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
        pixels = matplotlib.image.imread(shot)[..., :3]
        assert pixels.shape[:2] == (1000, 1400)
        colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
        assert len(colours) > 200, "a rendered page, not a blank one"
        if name == "case.png":
            red = (np.abs(pixels - np.array([0xC6, 0x28, 0x28]) / 255).max(axis=-1) < 0.03).sum()
            assert red > 500, "high-risk accounts drawn in the graph"


# ------------------------------------------------------------------------------ the kinds layout


def test_kind_layout_separates_accounts_from_what_they_share() -> None:
    from graphguard.report.html import kind_layout

    # 40 accounts on 4 devices (account a on device a % 4), all on one IP and one target.
    n_accounts = 40
    kinds = ["account"] * n_accounts + ["device"] * 4 + ["ip", "target"]
    src = np.concatenate([np.arange(n_accounts)] * 3)
    dst = np.concatenate(
        [n_accounts + np.arange(n_accounts) % 4, np.full(n_accounts, 44), np.full(n_accounts, 45)]
    )
    none = np.zeros(0, dtype=np.int64)
    pos = kind_layout(kinds, src, dst, none, none)
    assert np.array_equal(pos, kind_layout(kinds, src, dst, none, none))  # no randomness
    radius = np.hypot(*(pos - 0.5).T) * 2
    assert radius[:n_accounts].min() > 0.9 > 0.8 >= radius[n_accounts:].max()
    # The hubs (used by everyone) sit on the inner ring; a device nearer its own accounts.
    assert radius[44] == radius[45] < radius[n_accounts]
    angle = np.arctan2(pos[:, 1] - 0.5, pos[:, 0] - 0.5)
    for d in range(4):
        users = np.flatnonzero(np.arange(n_accounts) % 4 == d)
        # the device is closer (in angle) to its own accounts than to the others
        gap = np.abs(np.angle(np.exp(1j * (angle[:n_accounts] - angle[n_accounts + d]))))
        assert gap[users].mean() < gap[np.setdiff1d(np.arange(n_accounts), users)].mean()
