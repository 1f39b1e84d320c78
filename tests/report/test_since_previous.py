"""What changed since the previous run, as every report shows it (`report.summary.since_previous`):
read from the run as stored, hostile strings (a crafted run's ids, its previous path) inert."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
from rich.console import Console

from graphguard import rundir
from graphguard.report.html.run import render_run_html
from graphguard.report.markdown import render_markdown
from graphguard.report.summary import since_previous
from graphguard.rundir import Run
from graphguard.terminal import render_terminal

HOSTILE_ID = "<script>alert(1)</script>|`x`"
HOSTILE_PATH = "runs/\x1b[31mday1<b>"


def make_run(previous: dict | None = None, campaign: str = "C-00000000000000aa") -> Run:
    clusters = pl.DataFrame(
        {
            rundir.CLUSTER_ID: [0, 1, 2],
            rundir.SIZE: [15, 6, 4],
            rundir.SUSPICION: [0.9, 0.8, 0.2],
            rundir.PREDICTED_LABEL: ["bot_ring", "bot_ring", "benign"],
            rundir.CAMPAIGN_ID: [campaign, "C-00000000000000bb", "C-00000000000000cc"],
            rundir.CAMPAIGN_STATUS: ["grown", "new", "merged"],
            rundir.PREVIOUS_SIZE: [10, None, 3],
            rundir.PREVIOUS_CAMPAIGNS: [[campaign], [], ["C-00000000000000cc", "C-0d"]],
            rundir.CAMPAIGN_MATCH: ["entities", None, "members"],
        }
    )
    accounts = pl.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            rundir.CLUSTER_ID: [0, 1, None],
            rundir.RISK: [0.9, 0.8, 0.1],
        }
    )
    meta = {
        "graphguard_version": "0.1.0",
        "summary": {"risk_threshold": 0.5},
        rundir.CAMPAIGNS_META: {
            "format": 1,
            "previous": previous,
            "ended": [f"C-{i:016x}" for i in range(14)],
            "merged_from": {"C-00000000000000cc": ["C-0d"]},
        },
    }
    return Run(path=Path("run"), accounts=accounts, clusters=clusters, meta=meta)


PREVIOUS = {"path": "runs/day1", "fingerprint": "0123456789abcdef", "created_at": "2026-01-01"}


def test_since_previous_reads_the_stored_statuses():
    changes = since_previous(make_run(PREVIOUS))
    assert changes is not None
    statuses = dict(changes["statuses"])
    assert statuses["grown"] == ["C-00000000000000aa"]
    assert statuses["new"] == ["C-00000000000000bb"]
    assert statuses["continuing"] == []
    assert len(changes["ended"]) == 14
    assert changes["merged_from"] == {"C-00000000000000cc": ["C-0d"]}


def test_a_run_without_previous_has_no_section():
    run = make_run(None)
    assert since_previous(run) is None
    assert "Since the previous run" not in render_markdown(run)
    assert "Since the previous run" not in render_run_html(run)


def test_markdown_lists_changes_and_each_clusters_campaign():
    text = render_markdown(make_run(PREVIOUS))
    assert "## Since the previous run" in text
    assert "- grown: 1 (C-00000000000000aa)" in text
    assert "- ended (not seen in this run): 14 (" in text and "and 4 more" in text
    assert "C-00000000000000cc absorbed C-0d" in text
    assert "C-00000000000000aa · grown from 10" in text
    assert "matched through shared devices, IPs and targets" in text
    assert "also from C-0d" in text


def test_hostile_ids_and_paths_stay_inert_everywhere():
    run = make_run({**PREVIOUS, "path": HOSTILE_PATH}, campaign=HOSTILE_ID)
    markdown = render_markdown(run)
    assert "<script>" not in markdown and "\x1b" not in markdown
    assert "&lt;script&gt;" in markdown and "\\|" in markdown
    page = render_run_html(run)
    assert "<script>alert(1)" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    stream = io.StringIO()
    render_terminal(run, Console(file=stream, width=250, force_terminal=True))
    output = stream.getvalue()
    assert "\x1b[31mday1" not in output
    assert "day1<b>" in output and HOSTILE_ID in output
