"""Tests for graphguard.report on a hand-written run directory, including hostile strings.

Account ids and evidence text come from the platform's users, so the run carries ids crafted to
look like rich markup, HTML, Markdown table syntax and terminal escape sequences; every renderer
must show them literally.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from graphguard.report import (
    Run,
    load_run,
    md_escape,
    render_json,
    render_markdown,
)
from graphguard.report.html.run import render_run_html
from graphguard.terminal import render_terminal

MARKUP_ID = "[bold red]x[/]"
HTML_ID = "<img src=x onerror=alert(1)>"
PIPE_ID = "a|b`c`*d*_e_"
ESCAPE_ID = "evil\x1b[31mred\nnext"

META = {
    "graphguard_version": "0.1.0",
    "created_at": "2025-01-01T00:00:00Z",
    "input": {"events": "/data/events.parquet", "labels": None},
    "ingest": {
        "rows_read": 1000,
        "duplicates_dropped": 10,
        "rows_rejected": {"bad_time": 3, "null_account": 2},
        "rows_used": 985,
        "accounts": 9,
    },
    "config": {},
    "community": {"method": "leiden", "objective": "modularity", "resolution": 1.0, "seed": 7},
    "timings_s": {"ingest": 0.5, "graph": 1.25},
    "summary": {
        "accounts": 9,
        "clusters_reported": 3,
        "accounts_flagged": 5,
        "risk_threshold": 0.6,
    },
}


def make_accounts() -> pl.DataFrame:
    rows = [
        ("ok1", 10, 0.91, "bot_ring"),
        (MARKUP_ID, 10, 0.95, "bot_ring"),
        (HTML_ID, 10, 0.80, "bot_ring"),
        ("ok2", 10, 0.10, "benign"),
        (PIPE_ID, 20, 0.70, "fake_engagement"),
        (ESCAPE_ID, 20, 0.65, "fake_engagement"),
        ("ok3", 30, 0.20, "benign"),
        ("ok4", 30, 0.30, "benign"),
        ("lone", None, 0.05, "benign"),
    ]
    accounts = pl.DataFrame(
        rows,
        schema={
            "account_id": pl.String,
            "cluster_id": pl.Int64,
            "risk": pl.Float64,
            "predicted_label": pl.String,
        },
        orient="row",
    )
    return accounts.with_columns(
        score_benign=1 - pl.col("risk"),
        score_bot_ring=pl.col("risk") / 2,
        score_fake_engagement=pl.col("risk") / 2,
        flagged=pl.col("risk") >= 0.6,
    )


def make_clusters() -> pl.DataFrame:
    # Written out of suspicion order on purpose: renderers must rank by suspicion.
    return pl.DataFrame(
        {
            "cluster_id": [20, 10, 30],
            "size": [2, 4, 2],
            "suspicion": [0.70, 0.97, 0.10],
            "predicted_label": ["fake_engagement", "bot_ring", "benign"],
            "n_devices": [2, 1, 2],
            "sync_engagement_share": [0.88, float("nan"), None],
            "dominant_relation": ["target", "device", None],
            "evidence": [
                f"pod around {HTML_ID}",
                f"4 accounts on 1 device {MARKUP_ID} | {PIPE_ID}",
                None,
            ],
        }
    )


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "run"
    directory.mkdir()
    make_accounts().write_parquet(directory / "accounts.parquet")
    make_clusters().write_parquet(directory / "clusters.parquet")
    (directory / "run.json").write_text(json.dumps(META))
    return directory


@pytest.fixture()
def run(run_dir: Path) -> Run:
    return load_run(run_dir)


def terminal_output(run: Run, **kwargs: int) -> str:
    stream = io.StringIO()
    console = Console(file=stream, width=250, color_system=None, force_terminal=False)
    render_terminal(run, console, **kwargs)
    return stream.getvalue()


# ---------------------------------------------------------------------------------- load_run


def test_load_run_reads_all_three_files(run: Run, run_dir: Path) -> None:
    assert run.path == run_dir
    assert run.accounts.height == 9
    assert run.clusters.height == 3
    assert run.meta["community"]["seed"] == 7


def test_load_run_names_a_missing_file(run_dir: Path) -> None:
    (run_dir / "clusters.parquet").unlink()
    with pytest.raises(FileNotFoundError, match=r"clusters\.parquet"):
        load_run(run_dir)


def test_load_run_names_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_run(tmp_path / "nowhere")


def test_load_run_names_a_missing_column(run_dir: Path) -> None:
    make_accounts().drop("risk").write_parquet(run_dir / "accounts.parquet")
    with pytest.raises(ValueError, match=r"^accounts\.parquet: missing column 'risk'$"):
        load_run(run_dir)


def test_load_run_names_a_column_of_the_wrong_type(run_dir: Path) -> None:
    make_clusters().with_columns(pl.col("suspicion").cast(pl.String)).write_parquet(
        run_dir / "clusters.parquet"
    )
    with pytest.raises(ValueError, match=r"clusters\.parquet: column 'suspicion' must be numeric"):
        load_run(run_dir)


def test_load_run_rejects_bad_json(run_dir: Path) -> None:
    (run_dir / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"run\.json: not valid JSON"):
        load_run(run_dir)
    (run_dir / "run.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"run\.json: expected a JSON object"):
        load_run(run_dir)


# ---------------------------------------------------------------------------------- terminal


def test_terminal_header_and_ranked_table(run: Run) -> None:
    output = terminal_output(run)
    assert "events 1,000 read, 985 used" in output
    assert "accounts 9" in output
    assert "clusters 3" in output
    assert "flagged 5 (risk ≥ 0.6)" in output
    table_rows = [line for line in output.splitlines() if "bot_ring" in line or "target" in line]
    # Cluster 10 (suspicion 0.97) outranks cluster 20 (0.70) despite the file order.
    assert "0.970" in table_rows[0]
    assert "0.700" in table_rows[1]


def test_terminal_shows_hostile_strings_literally(run: Run) -> None:
    output = terminal_output(run)
    assert MARKUP_ID in output
    assert HTML_ID in output
    assert "\x1b" not in output


def test_terminal_does_not_interpret_markup_when_colour_is_on(run: Run) -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=250, force_terminal=True, color_system="truecolor")
    render_terminal(run, console)
    output = stream.getvalue()
    # Markup in the evidence must neither vanish (parsed) nor colour what follows.
    assert MARKUP_ID in output
    assert "\x1b[1;31mx" not in output


def test_terminal_strips_escape_sequences_from_ids() -> None:
    hostile = Run(
        path=Path("run"),
        accounts=make_accounts(),
        clusters=make_clusters().with_columns(evidence=pl.lit(ESCAPE_ID)),
        meta=META,
    )
    output = terminal_output(hostile)
    assert "\x1b" not in output
    assert "evil\ufffd[31mred next" in output


def test_terminal_top_limits_rows_and_empty_run_says_so(run: Run) -> None:
    output = terminal_output(run, top=1)
    assert "top 1 of 3 clusters" in output
    empty = Run(path=run.path, accounts=run.accounts, clusters=run.clusters.head(0), meta={})
    assert "No clusters reported." in terminal_output(empty)


def test_terminal_survives_missing_optional_columns_and_meta(run: Run) -> None:
    bare = Run(
        path=run.path,
        accounts=run.accounts.drop("flagged"),
        clusters=run.clusters.select("cluster_id", "size", "suspicion", "predicted_label"),
        meta={},
    )
    output = terminal_output(bare)
    assert "events - read, - used" in output
    assert "flagged -" in output


# ---------------------------------------------------------------------------------- Markdown


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_sections_and_counts(run: Run) -> None:
    report = render_markdown(run)
    for heading in ("# graphguard report", "## Run parameters", "## Ingest", "## Summary"):
        assert heading in report
    assert "| community method | leiden |" in report
    assert "| community seed | 7 |" in report
    assert "| community resolution | 1.0 |" in report
    assert "| risk threshold | 0.6 |" in report
    assert "| rows read | 1,000 |" in report
    assert "| bad\\_time | 3 |" in report
    assert "| rows rejected | 5 |" in report
    assert "- accounts flagged: 5 (55.6%) at risk ≥ 0.6" in report
    assert "Top 3 of 3 clusters by suspicion." in report
    assert "### 1. Cluster 10 · bot\\_ring · 4 accounts · suspicion 0.970" in report
    assert "n\\_devices 1" in report


def test_markdown_lists_highest_risk_members_first(run: Run) -> None:
    report = render_markdown(run)
    section = report.split("### 1. Cluster 10")[1].split("### 2.")[0]
    member_lines = [line for line in section.splitlines() if line.startswith("| ") and "0." in line]
    risks = [float(line.split(" | ")[1]) for line in member_lines]
    assert risks == [0.95, 0.91, 0.80, 0.10]


def test_markdown_escapes_hostile_strings(run: Run) -> None:
    report = render_markdown(run)
    assert "<img" not in report
    assert "&lt;img src=x onerror=alert(1)&gt;" in report
    assert "[bold red]" not in report
    assert "\\[bold red\\]x\\[/\\]" in report
    assert "\x1b" not in report
    # No hostile string can add or remove a column: every table keeps its header's pipe count.
    tables: list[list[str]] = []
    previous_is_row = False
    for line in report.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous_is_row:
            tables.append([])
        if is_row:
            tables[-1].append(line)
        previous_is_row = is_row
    assert tables
    for table in tables:
        assert len({_unescaped_pipes(row) for row in table}) == 1, table


def test_md_escape_is_inert() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("<script>") == "&lt;script&gt;"
    assert md_escape("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert md_escape("line\nbreak") == "line break"
    assert md_escape(None) == "-"


def test_markdown_top_and_detail_limits(run: Run) -> None:
    report = render_markdown(run, top=1)
    assert "Top 1 of 3 clusters by suspicion." in report
    assert "### 2." not in report
    assert "## Cluster details" not in render_markdown(run, detail=0)


# -------------------------------------------------------------------------------------- JSON


def test_json_is_strict_and_ranked(run: Run) -> None:
    document = render_json(run)
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text)["n_clusters"] == 3
    assert [row["cluster_id"] for row in document["clusters"]] == [10, 20, 30]
    # NaN evidence becomes null instead of invalid JSON.
    assert document["clusters"][0]["sync_engagement_share"] is None
    assert document["summary"] == {
        "accounts": 9,
        "clusters_reported": 3,
        "accounts_flagged": 5,
        "risk_threshold": 0.6,
    }
    assert document["meta"]["community"]["method"] == "leiden"
    assert [row["cluster_id"] for row in render_json(run, top=2)["clusters"]] == [10, 20]


# ---------------------------------------------------------------------------- operating point


def test_every_report_says_how_the_threshold_was_chosen(run_dir: Path) -> None:
    meta = dict(META)
    meta["operating_point"] = {
        "threshold": 0.0057,
        "method": "validation",
        "target_fpr": 0.005,
        "target_precision": None,
        "expected_fpr": 0.00417,
        "fpr_interval": [0.00074, 0.02322],
        "expected_precision": 0.97,
        "precision_interval": [0.9, 0.99],
        "expected_recall": 1.0,
        "n_negatives": 240,
        "n_positives": 38,
    }
    (run_dir / "run.json").write_text(json.dumps(meta))
    with_point = load_run(run_dir)
    expected = "for a target false-positive rate of 0.50%, on the model's labelled validation"
    assert expected in render_markdown(with_point)
    # (markdown escapes the interval's brackets; the terminal shows them as they are)
    assert "false-positive rate 0.42% [0.07%, 2.32%]" in terminal_output(with_point)
    assert "240 validation negatives" in terminal_output(with_point)
    assert "Operating point" in render_run_html(with_point)


def test_reports_say_when_the_null_point_gates_on_the_communities_q(run_dir: Path) -> None:
    meta = dict(META)
    meta["operating_point"] = {
        "threshold": 0.109,
        "method": "null",
        "target_fpr": 0.005,
        "expected_fpr": 0.0012,
        "q_gate": 0.01,
    }
    (run_dir / "run.json").write_text(json.dumps(meta))
    gated = load_run(run_dir)
    words = "flagging only communities whose evidence q-value is at most 1.00%"
    assert words in render_markdown(gated)
    assert words in terminal_output(gated)
    del meta["operating_point"]["q_gate"]
    (run_dir / "run.json").write_text(json.dumps(meta))
    assert "q-value" not in terminal_output(load_run(run_dir))


def test_reports_without_an_operating_point_say_nothing_of_it(run: Run) -> None:
    assert "operating point" not in render_markdown(run)
    assert "operating point" not in terminal_output(run)
    assert "Operating point" not in render_run_html(run)
