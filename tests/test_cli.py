"""Tests for the graphguard command line: exit codes, messages, and what a run directory holds.

Most tests drive `graphguard.cli.app` in-process with Typer's CliRunner; two run the installed
entry points in a real subprocess, where stderr is a pipe rather than a terminal.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from graphguard import __version__, schema
from tests.clicheck import assert_clean_error, assert_no_run_left, invoke

REPO = Path(__file__).resolve().parents[1]
RING = {f"ring{i}" for i in range(10)}
CONTRACT_ACCOUNT_DTYPES = {
    "account_id": pl.String,
    "cluster_id": pl.Int64,
    "score_benign": pl.Float64,
    "score_bot_ring": pl.Float64,
    "score_fake_engagement": pl.Float64,
    "risk": pl.Float64,
    "predicted_label": pl.String,
}
CONTRACT_CLUSTER_DTYPES = {
    "cluster_id": pl.Int64,
    "size": pl.Int64,
    "suspicion": pl.Float64,
    "predicted_label": pl.String,
}


@pytest.fixture(scope="module")
def run_dir(ring_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One detection run on the planted-ring log, shared by the read-only tests below."""
    out_dir = tmp_path_factory.mktemp("runs") / "ring"
    result = invoke("detect", ring_log, "--out", out_dir)
    assert result.exit_code == 0, result.output
    return out_dir


# --- help and version ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [[], ["simulate"], ["detect"], ["report"], ["evaluate"], ["config"]]
)
def test_help_shows_a_copyable_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert re.search(r"Example:\s+graphguard \w+", result.stdout), result.stdout


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"graphguard {__version__}"


def _entry_points() -> list[list[str]]:
    script = Path(sys.executable).with_name("graphguard")
    points = [[sys.executable, "-m", "graphguard"]]
    if script.exists():
        points.append([str(script)])
    return points


@pytest.mark.parametrize("argv", _entry_points(), ids=lambda argv: Path(argv[-1]).name)
def test_entry_points_run_in_a_subprocess(argv):
    done = subprocess.run([*argv, "--help"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Example:" in done.stdout
    assert "detect" in done.stdout


def test_error_line_is_one_line_on_a_pipe(tmp_path):
    # A real process writes stderr to a pipe: the error must still be one greppable line holding
    # the whole path, however long, rather than wrapped at some terminal width.
    missing = tmp_path / ("a-long-directory-name-" * 4) / "events.parquet"
    out_dir = tmp_path / "runs" / "r"
    done = subprocess.run(
        [sys.executable, "-m", "graphguard", "detect", str(missing), "--out", str(out_dir), "-q"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"Error: {missing}: file not found"]
    assert_no_run_left(out_dir)


# --- detect -------------------------------------------------------------------------------


def test_detect_writes_a_complete_run(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"accounts.parquet", "clusters.parquet", "run.json", "report.md"} <= names
    assert not [p.name for p in run_dir.parent.iterdir() if "partial" in p.name]
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["graphguard_version"] == __version__
    assert "bot\\_ring" in (run_dir / "report.md").read_text()  # Markdown-escaped


def test_detect_accounts_follow_the_contract(run_dir, ring_events):
    accounts = pl.read_parquet(run_dir / "accounts.parquet")
    for name, dtype in CONTRACT_ACCOUNT_DTYPES.items():
        assert accounts.schema[name] == dtype, name
    # One row for every account in the events, and no other.
    assert accounts.height == accounts["account_id"].n_unique()
    assert set(accounts["account_id"]) == set(ring_events["account_id"])
    scores = accounts.select(schema.SCORE_COLUMNS)
    assert scores.null_count().sum_horizontal()[0] == 0
    assert (scores.sum_horizontal() - 1.0).abs().max() < 1e-9
    assert accounts["risk"].null_count() == 0
    assert accounts["risk"].min() >= 0.0
    assert accounts["risk"].max() <= 1.0
    assert set(accounts["predicted_label"]) <= set(schema.LABELS)


def test_detect_clusters_follow_the_contract(run_dir):
    accounts = pl.read_parquet(run_dir / "accounts.parquet")
    clusters = pl.read_parquet(run_dir / "clusters.parquet")
    assert clusters.height > 0
    for name, dtype in CONTRACT_CLUSTER_DTYPES.items():
        assert clusters.schema[name] == dtype, name
    suspicion = clusters["suspicion"].to_list()
    assert suspicion == sorted(suspicion, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in suspicion)
    assert set(clusters["predicted_label"]) <= set(schema.LABELS)
    # Sizes count the accounts placed in each cluster; placed accounts point at reported ones.
    members = accounts.drop_nulls("cluster_id").group_by("cluster_id").len()
    joined = clusters.join(members, on="cluster_id", how="left")
    assert joined["size"].to_list() == joined["len"].to_list()
    assert set(members["cluster_id"]) <= set(clusters["cluster_id"])


def test_detect_finds_the_planted_ring(run_dir):
    accounts = pl.read_parquet(run_dir / "accounts.parquet")
    top = pl.read_parquet(run_dir / "clusters.parquet").row(0, named=True)
    top_members = set(accounts.filter(pl.col("cluster_id") == top["cluster_id"])["account_id"])
    assert top_members == RING
    assert top["predicted_label"] == "bot_ring"
    ring_risk = accounts.filter(pl.col("account_id").is_in(list(RING)))["risk"]
    others_risk = accounts.filter(~pl.col("account_id").is_in(list(RING)))["risk"]
    assert ring_risk.min() > others_risk.max()
    assert set(accounts.filter("flagged")["account_id"]) == RING


def test_detect_records_the_ingest(run_dir, ring_log, ring_events):
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["input"]["events"] == str(ring_log)
    assert meta["ingest"]["rows_read"] == ring_events.height
    assert meta["ingest"]["accounts"] == ring_events["account_id"].n_unique()
    assert meta["summary"]["accounts"] == ring_events["account_id"].n_unique()


def test_detect_prints_the_report_on_stdout_and_progress_on_stderr(ring_log, tmp_path):
    result = invoke("detect", ring_log, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "bot_ring" in result.stdout
    assert "graphguard:" not in result.stdout
    assert "graphguard: read" in result.stderr


def test_detect_with_labels(ring_log, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,label\nring0,bot_ring\nuser0,benign\nghost,benign\n")
    out_dir = tmp_path / "run"
    result = invoke("detect", ring_log, "--out", out_dir, "--labels", labels, "-q")
    assert result.exit_code == 0, result.output
    meta = json.loads((out_dir / "run.json").read_text())
    assert meta["labels"]["accounts_not_in_events"] == 1
    accounts = pl.read_parquet(out_dir / "accounts.parquet")
    known = dict(accounts.drop_nulls("known_label").select("account_id", "known_label").rows())
    assert known == {"ring0": "bot_ring", "user0": "benign"}


# --- bad input: exit 1, one line, nothing left behind ---------------------------------------


def _missing_file(tmp_path: Path, ring_log: Path):
    path = tmp_path / "missing.parquet"
    return [path], [str(path), "not found"]


def _missing_column(tmp_path: Path, ring_log: Path):
    path = tmp_path / "events.parquet"
    pl.read_parquet(ring_log).rename({"account_id": "user"}).write_parquet(path)
    return [path], [str(path), "column 'account_id'"]


def _unparseable_times(tmp_path: Path, ring_log: Path):
    path = tmp_path / "events.csv"
    path.write_text("event_time,account_id,event_type\nnot a time,a,like\nlater,b,like\n")
    return [path], [str(path), "column 'event_time'", "'not a time'"]


def _unknown_label(tmp_path: Path, ring_log: Path):
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,label\nring0,bot_ring\nuser1,spam\n")
    return [ring_log, "--labels", labels], [str(labels), "column 'label'", "'spam'"]


@pytest.mark.parametrize(
    "case",
    [_missing_file, _missing_column, _unparseable_times, _unknown_label],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "progress"])
def test_bad_input_fails_cleanly(tmp_path, ring_log, case, quiet):
    args, fragments = case(tmp_path, ring_log)
    out_dir = tmp_path / "runs" / "r"
    result = invoke("detect", *args, "--out", out_dir, *(["-q"] if quiet else []))
    if quiet:
        assert_clean_error(result, *fragments)
    else:
        # Progress lines may come first; the error is still exactly one line, and the last.
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert [line for line in lines if line.startswith("Error: ")] == [lines[-1]]
        assert all(fragment in lines[-1] for fragment in fragments)
    assert_no_run_left(out_dir)


def test_failure_while_writing_leaves_no_partial_run(ring_log, tmp_path, monkeypatch):
    import graphguard.report.markdown as render

    def broken(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(render, "render_markdown", broken)
    out_dir = tmp_path / "runs" / "r"
    result = invoke("detect", ring_log, "--out", out_dir, "-q")
    assert_clean_error(result, "renderer exploded", "GRAPHGUARD_DEBUG")
    assert_no_run_left(out_dir)


def test_existing_run_is_kept_without_overwrite(ring_log, tmp_path):
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("previous run")
    result = invoke("detect", ring_log, "--out", out_dir, "-q")
    assert_clean_error(result, str(out_dir), "--overwrite")
    assert [p.name for p in out_dir.iterdir()] == ["notes.txt"]
    assert (out_dir / "notes.txt").read_text() == "previous run"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_existing_run_is_replaced_with_overwrite(ring_log, tmp_path):
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("previous run")
    result = invoke("detect", ring_log, "--out", out_dir, "-q", "--overwrite")
    assert result.exit_code == 0, result.output
    names = {p.name for p in out_dir.iterdir()}
    assert "notes.txt" not in names
    assert {"accounts.parquet", "clusters.parquet", "run.json", "report.md"} <= names
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# --- usage errors: exit 2 -----------------------------------------------------------------


def test_unknown_option(ring_log, tmp_path):
    out_dir = tmp_path / "run"
    result = invoke("detect", ring_log, "--out", out_dir, "--no-such-flag")
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert not out_dir.exists()


@pytest.mark.parametrize("command", ["config", "detect"])
@pytest.mark.parametrize(
    ("override", "fragment"),
    [("community.resolution", "key=value"), ("graph.no_such_key=1", "no_such_key")],
    ids=["no-equals", "unknown-key"],
)
def test_bad_set_override_is_a_usage_error(ring_log, tmp_path, command, override, fragment):
    out_dir = tmp_path / "run"
    args = ["detect", ring_log, "--out", out_dir] if command == "detect" else ["config"]
    result = invoke(*args, "--set", override)
    assert_clean_error(result, fragment, code=2)
    assert result.stdout == ""
    assert not out_dir.exists()


def test_report_json_and_markdown_together_is_a_usage_error(run_dir):
    result = invoke("report", run_dir, "--json", "--markdown")
    assert_clean_error(result, "--json", code=2)
    assert result.stdout == ""


# --- config and overrides -----------------------------------------------------------------


def test_config_prints_yaml_with_overrides():
    default = invoke("config")
    assert default.exit_code == 0, default.output
    assert yaml.safe_load(default.stdout)["community"]["resolution"] != 0.5
    result = invoke("config", "--set", "community.resolution=0.5")
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.stdout)
    assert cfg["community"]["resolution"] == 0.5
    assert set(cfg) >= {"data", "graph", "community", "scoring"}


def test_config_prints_every_section_in_full():
    cfg = yaml.safe_load(invoke("config").stdout)
    assert set(cfg) == {
        "data", "graph", "community", "scoring", "local", "features", "model", "train",
        "simulate", "paths", "dense", "cases", "engine", "spark",
    }  # fmt: skip
    from graphguard.models.params import param_names

    assert tuple(cfg["model"]) == param_names("model")
    assert tuple(cfg["train"]) == param_names("train")
    assert cfg["simulate"]["n_accounts"] == 20000
    assert cfg["cases"]["db"] == "graphguard-cases.db"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("community.resolution=abc", "community.resolution"),
        ("model.hidden=wide", "model.hidden"),
        ("simulate.n_accounts=many", "simulate.n_accounts"),
        ("graph.sync.max_gap_s=soon", "graph.sync.max_gap_s"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_usage_error_naming_the_key(override, key):
    result = invoke("config", "--set", override)
    assert_clean_error(result, key, code=2)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("scoring.fusion=both", "scoring.fusion"),
        ("features.relations=[device,phone]", "phone"),
        ("features.exclude=[no_such_feature*]", "no_such_feature*"),
    ],
)
def test_config_runs_each_section_s_own_checks(override, fragment):
    result = invoke("config", "--set", override)
    assert_clean_error(result, fragment, code=2)  # a bad setting is a usage error
    assert result.stdout == ""


def test_named_alternatives_extend_the_defaults():
    talkingdata = yaml.safe_load(
        invoke("config", "--set", "data=talkingdata", "--set", "graph=talkingdata").stdout
    )
    default = yaml.safe_load(invoke("config").stdout)
    assert talkingdata["data"]["columns"]["device_id"] == ["device", "os"]
    assert talkingdata["data"]["epoch_unit"] == default["data"]["epoch_unit"]
    assert talkingdata["graph"]["engagement_types"] == ["click"]
    assert talkingdata["graph"]["sync"] == default["graph"]["sync"]
    merged = yaml.safe_load(invoke("config", "--set", "features=merged").stdout)
    assert merged["features"] == {**default["features"], "relations": ["any"]}


def test_config_does_not_load_torch():
    code = (
        "import sys; from graphguard.cli import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['config']); assert r.exit_code == 0, r.output; "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_flags_and_overrides_agree(ring_log, tmp_path):
    via_flag = invoke("detect", ring_log, "--out", tmp_path / "flag", "-q", "--resolution", "0.5")
    via_set = invoke(
        "detect", ring_log, "--out", tmp_path / "set", "-q", "--set", "community.resolution=0.5"
    )
    assert via_flag.exit_code == 0, via_flag.output
    assert via_set.exit_code == 0, via_set.output
    metas = [json.loads((tmp_path / d / "run.json").read_text()) for d in ("flag", "set")]
    for meta in metas:
        assert meta["config"]["community"]["resolution"] == 0.5
        assert meta["community"]["resolution"] == 0.5
    assert metas[0]["config"] == metas[1]["config"]
    # Same settings, same seed: the same partition.
    by_flag, by_set = (
        pl.read_parquet(tmp_path / d / "accounts.parquet").sort("account_id")
        for d in ("flag", "set")
    )
    assert by_flag.equals(by_set)


def test_detect_json_summary(ring_log, tmp_path):
    result = invoke("detect", ring_log, "--out", tmp_path / "run", "-q", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["summary"]["accounts_flagged"] == len(RING)
    assert summary["ingest"]["rows_used"] > 0


# --- report -------------------------------------------------------------------------------


def test_report_terminal(run_dir):
    result = invoke("report", run_dir, "--top", "2")
    assert result.exit_code == 0, result.output
    assert "bot_ring" in result.stdout
    assert "top 2 of" in result.stdout


def test_report_json(run_dir):
    result = invoke("report", run_dir, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    clusters = pl.read_parquet(run_dir / "clusters.parquet")
    assert doc["n_clusters"] == clusters.height
    assert [c["cluster_id"] for c in doc["clusters"]] == clusters["cluster_id"].to_list()
    assert doc["clusters"][0]["predicted_label"] == "bot_ring"
    top_one = json.loads(invoke("report", run_dir, "--json", "--top", "1").stdout)
    assert len(top_one["clusters"]) == 1


def test_report_markdown(run_dir):
    result = invoke("report", run_dir, "--markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# ")
    assert "bot\\_ring" in result.stdout  # Markdown-escaped
    assert "## Clusters" in result.stdout
    assert "|---" in result.stdout


def test_report_on_a_missing_run(tmp_path):
    missing = tmp_path / "no-run"
    assert_clean_error(invoke("report", missing), str(missing))


# --- simulate -----------------------------------------------------------------------------


def test_simulate_writes_a_world_and_refuses_to_clobber_it(tmp_path):
    pytest.importorskip("graphguard.simulate")
    out_dir = tmp_path / "world"
    args = ["simulate", out_dir, "--accounts", "300", "--days", "3", "--seed", "3"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    files = {p.name for p in out_dir.iterdir()}
    assert {"events.parquet", "labels.parquet", "truth.parquet"} <= files
    events = pl.read_parquet(out_dir / "events.parquet")
    assert str(events.height) in result.stdout.replace(",", "")
    before = (out_dir / "events.parquet").read_bytes()

    again = invoke(*args[:-1], "4")
    assert_clean_error(again, "already exists", "--overwrite")
    assert (out_dir / "events.parquet").read_bytes() == before
