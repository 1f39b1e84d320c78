"""Logs with nothing to find, and the pipeline's warnings and resource limits.

"Nothing suspicious here" is a normal, finished run: exit 0, every account benign at risk 0,
empty tables with their declared columns, a run directory that passes `check_run`, and every
reader answering "no clusters". Warnings go to stderr as `graphguard: warning: ...` (with -q
too) and into run.json; a stage out of memory fails naming the stage.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from graphguard import rundir, schema
from graphguard.errors import OutOfMemoryError
from graphguard.pipeline.detect import detect, write_result
from graphguard.pipeline.stages import StageTimer
from graphguard.simulate import SimulationConfig, simulate, write_world
from tests.clicheck import assert_no_run_left, invoke
from tests.worlds import T0, frame

ROOT = Path(__file__).resolve().parents[2]


def _t(minutes: float):
    return T0 + timedelta(minutes=minutes)


def _clean_rows() -> list[tuple]:
    """20 users, each on their own device and IP, each liking their own posts."""
    return [
        (_t(i * 7 + j), f"u{i:02d}", "like", f"d{i}", f"10.0.0.{i}", f"post{i * 10 + j}")
        for i in range(20)
        for j in range(5)
    ]


def _write(tmp_path: Path, events: pl.DataFrame, name: str = "events.parquet") -> Path:
    path = tmp_path / name
    events.write_parquet(path)
    return path


def _warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("graphguard: warning: ")]


def _assert_nothing_found(out: Path, events: pl.DataFrame, *, model: bool = False) -> dict:
    """A finished run with no cluster: every account, benign at risk 0 (without a model),
    empty tables with their declared columns, `check_run` clean."""
    assert rundir.check_run(out) == []
    accounts = pl.read_parquet(out / rundir.ACCOUNTS_FILE)
    assert accounts.height == events.get_column(schema.ACCOUNT).n_unique()
    assert accounts.get_column(rundir.CLUSTER_ID).null_count() == accounts.height
    if not model:
        assert (accounts.get_column(rundir.RISK) == 0).all()
        assert (accounts.get_column(rundir.PREDICTED_LABEL) == schema.BENIGN).all()
        assert not accounts.get_column(rundir.FLAGGED).any()
    clusters = pl.read_parquet(out / rundir.CLUSTERS_FILE)
    assert clusters.height == 0
    for column in rundir.CLUSTER_COLUMNS:
        assert clusters.schema[column.name] == column.dtype
    for name in (rundir.ACCOUNT_EDGES_FILE, rundir.ENTITY_EDGES_FILE, rundir.ACTIVITY_FILE):
        table = pl.read_parquet(out / name)
        assert table.height == 0
        for column in rundir.TABLES[name]:
            assert table.schema[column.name] == column.dtype
    meta = json.loads((out / rundir.META_FILE).read_text())
    assert meta["summary"]["clusters_reported"] == 0
    return meta


def _detect_ok(tmp_path: Path, events: pl.DataFrame, *args: object):
    out = tmp_path / "run"
    result = invoke("detect", _write(tmp_path, events), "--out", out, "-q", *args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "No clusters reported." in result.stdout
    return out, result


# --------------------------------------------------------------------------------------------
# Logs with nothing to find


def test_clean_log_is_a_finished_run_with_no_clusters(tmp_path):
    events = frame(_clean_rows())
    out, result = _detect_ok(tmp_path, events)
    meta = _assert_nothing_found(out, events)
    assert meta["warnings"] == [] and _warnings(result) == []


def test_one_account_with_one_event(tmp_path):
    events = frame([(T0, "solo", "like", "d1", "1.1.1.1", "p1")])
    out, _ = _detect_ok(tmp_path, events)
    _assert_nothing_found(out, events)


def test_two_accounts_sharing_nothing(tmp_path):
    events = frame(
        [(T0, "a", "like", "d1", "1.1.1.1", "p1"), (_t(500), "b", "comment", "d2", "2.2.2.2", "p2")]
    )
    out, _ = _detect_ok(tmp_path, events)
    _assert_nothing_found(out, events)


def test_all_null_device_ip_and_target(tmp_path):
    events = frame([(_t(i), f"u{i % 5}", "like", None, None, None) for i in range(30)])
    out, result = _detect_ok(tmp_path, events)
    meta = _assert_nothing_found(out, events)
    (warning,) = _warnings(result)
    assert "no engagement event" in warning and "target_id is empty" in warning
    assert meta["warnings"] == [warning.removeprefix("graphguard: warning: ")]


def test_zero_engagement_events_warns(tmp_path):
    events = frame(
        [(_t(i), f"u{i % 8}", "view", f"d{i % 8}", f"9.9.{i % 8}.1", f"p{i}") for i in range(40)]
    )
    out, result = _detect_ok(tmp_path, events)
    meta = _assert_nothing_found(out, events)
    (warning,) = _warnings(result)
    assert "no event type in the log is an engagement type" in warning
    assert "like, comment, share, follow" in warning and "the log has: view" in warning
    assert "synchronized and dense relations" in warning and "graph.engagement_types" in warning
    assert len(meta["warnings"]) == 1


def test_zero_signups_and_logins_only(tmp_path):
    events = frame([(_t(i), f"u{i % 6}", "login", f"d{i % 6}", None, None) for i in range(36)])
    out, result = _detect_ok(tmp_path, events)
    _assert_nothing_found(out, events)
    assert len(_warnings(result)) == 1  # no engagement at all: said once


def test_big_hub_with_no_other_structure(tmp_path):
    n = 200_000
    events = pl.DataFrame(
        {
            schema.TIME: pl.datetime_range(
                T0, T0 + timedelta(seconds=n - 1), "1s", time_zone="UTC", eager=True
            ),
            schema.ACCOUNT: [f"acct{i:06d}" for i in range(n)],
            schema.EVENT_TYPE: ["login"] * n,
            schema.DEVICE: [None] * n,
            schema.IP: ["8.8.8.8"] * n,
            schema.TARGET: [None] * n,
        },
        schema=schema.EVENT_SCHEMA,
    )
    out, _ = _detect_ok(tmp_path, events)
    _assert_nothing_found(out, events)


def test_duplicates_only_log_leaves_one_event(tmp_path):
    events = frame([(T0, "dup", "like", "d1", "1.1.1.1", "p1")] * 50)
    out, _ = _detect_ok(tmp_path, events)
    meta = _assert_nothing_found(out, events)
    assert meta["ingest"]["rows_used"] == 1


def test_library_detect_on_zero_events(tmp_path):
    result = detect(pl.DataFrame(schema=schema.EVENT_SCHEMA))
    assert result.accounts.height == 0 and result.clusters.height == 0
    assert result.warnings == []
    write_result(result, tmp_path / "run")
    assert rundir.check_run(tmp_path / "run") == []


def test_readers_answer_no_clusters(tmp_path):
    events = frame(_clean_rows())
    out, _ = _detect_ok(tmp_path, events)
    report = invoke("report", out)
    assert report.exit_code == 0 and "No clusters reported." in report.stdout
    as_json = invoke("report", out, "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["summary"]["clusters_reported"] == 0
    markdown = invoke("report", out, "--markdown")
    assert markdown.exit_code == 0 and "No clusters" in markdown.stdout
    html = invoke("report", out, "--html")
    assert html.exit_code == 0, html.output
    assert "No clusters reported." in (out / "report.html").read_text()
    explained = invoke("explain", out, "u03")
    assert explained.exit_code == 0 and "Cluster: none" in explained.stdout
    truth = tmp_path / "truth.parquet"
    pl.DataFrame(
        {schema.ACCOUNT: ["u01", "u02"], schema.LABEL: ["benign", "bot_ring"]}
    ).write_parquet(truth)
    evaluated = invoke("evaluate", out, "--truth", truth)
    assert evaluated.exit_code == 0, evaluated.output
    assert "caught 0/0" in evaluated.stdout
    # export has nothing to write, and says so: a clean log is not an error
    exported = invoke("export", out, "--top", "5", "--out", tmp_path / "exports")
    assert exported.exit_code == 0, exported.output
    assert exported.stdout == "" and "no clusters; nothing exported" in exported.stderr
    assert not (tmp_path / "exports").exists() or not any((tmp_path / "exports").iterdir())
    for result in (report, as_json, markdown, html, explained, evaluated, exported):
        assert "Traceback" not in result.output
    assert rundir.check_run(out) == []


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_model")
    write_world(simulate(SimulationConfig(n_accounts=600, seed=5, label_fraction=0.4)), root)
    model = root / "model.pt"
    result = invoke(
        "train",
        root / "events.parquet",
        "--labels",
        root / "labels.parquet",
        "--out",
        model,
        "--set",
        "train.epochs=3",
        "--set",
        "train.device=cpu",
        "-q",
    )
    assert result.exit_code == 0, result.output
    return model


def test_detect_with_model_on_a_clean_log(tmp_path, tiny_model):
    events = frame(_clean_rows())
    out, _ = _detect_ok(tmp_path, events, "--model", tiny_model, "--device", "cpu")
    meta = _assert_nothing_found(out, events, model=True)
    assert meta["model"] is not None


# --------------------------------------------------------------------------------------------
# Warnings


def test_labels_not_in_events_warn_even_with_quiet(tmp_path):
    events = frame(_clean_rows())
    labels = tmp_path / "labels.csv"
    pl.DataFrame(
        {schema.ACCOUNT: ["u01", "ghost1", "ghost2"], schema.LABEL: ["benign"] * 3}
    ).write_csv(labels)
    out, result = _detect_ok(tmp_path, events, "--labels", labels)
    (warning,) = _warnings(result)
    assert "2 of 3 labelled accounts do not appear in the events" in warning
    meta = json.loads((out / rundir.META_FILE).read_text())
    assert meta["labels"]["accounts_not_in_events"] == 2
    assert meta["warnings"] == [warning.removeprefix("graphguard: warning: ")]
    assert rundir.check_run(out) == []


def test_ordinary_log_has_no_warnings(tmp_path):
    world = simulate(SimulationConfig(n_accounts=300, seed=2))
    result = detect(world.events)
    assert result.warnings == [] and result.clusters.height > 0


# --------------------------------------------------------------------------------------------
# Resource limits


def test_stage_names_itself_when_out_of_memory():
    timer = StageTimer()
    match = "out of memory in stage 'projections'"
    with pytest.raises(OutOfMemoryError, match=match) as info, timer.stage("projections"):
        raise MemoryError
    assert isinstance(info.value, MemoryError) and info.value.stage == "projections"


_CAPPED = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import psutil
    import graphguard.pipeline.stages as stages
    from graphguard.cli import app

    real_leiden = stages.leiden

    def hungry_leiden(*args, **kwargs):
        np.ones(2**31, dtype=np.float64)  # 16 GiB: past the cap, a real MemoryError
        return real_leiden(*args, **kwargs)

    stages.leiden = hungry_leiden
    cap = psutil.Process().memory_info().vms + 3 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    app(sys.argv[1:], prog_name="graphguard")
    """
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(resource, "RLIMIT_AS"),
    reason="needs setrlimit(RLIMIT_AS)",
)
def test_memory_cap_fails_naming_the_stage(tmp_path):
    """Under a real address-space cap, a NumPy allocation that fails inside a stage is one
    Error line naming it, and no run is left. (An allocation that fails inside Polars' Rust code
    aborts the process instead: Rust's allocator does not unwind, so that path cannot be
    caught.)"""
    events = _write(tmp_path, frame(_clean_rows()))
    out = tmp_path / "run"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "POLARS_MAX_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED, "detect", str(events), "--out", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: out of memory in stage 'communities'"), lines
    assert_no_run_left(out)
