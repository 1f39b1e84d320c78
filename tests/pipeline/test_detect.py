"""Detection outcomes on hand-built logs and on small simulated worlds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.config import CommunityConfig, DetectConfig
from graphguard.pipeline.detect import detect
from tests.worlds import bot_ring, frame, ordinary_users, viral_burst


@pytest.fixture(scope="module")
def mixed_world() -> pl.DataFrame:
    """Ordinary users, 300 mobile users behind one CGNAT IP, a viral item liked by 500 users in
    an hour, and one planted bot ring."""
    rng = np.random.default_rng(42)
    rows = ordinary_users(rng, 500)
    rows += ordinary_users(rng, 300, prefix="mobile", nat_ip="100.64.0.1")
    rows += viral_burst(rng, 500)
    rows += bot_ring(rng, size=12, devices=2, waves=8)
    return frame(rows)


@pytest.fixture(scope="module")
def mixed_result(mixed_world):
    return detect(mixed_world, DetectConfig())


def _flagged(result) -> set[str]:
    return set(result.accounts.filter(pl.col("flagged"))[schema.ACCOUNT].to_list())


def test_planted_ring_is_one_flagged_cluster(mixed_result):
    accounts = mixed_result.accounts
    ring = accounts.filter(pl.col(schema.ACCOUNT).str.starts_with("ring"))
    assert ring.height == 12
    assert ring["flagged"].all()
    assert ring["cluster_id"].n_unique() == 1
    top = mixed_result.clusters.row(0, named=True)
    assert top["cluster_id"] == ring["cluster_id"][0]
    assert top["suspicion"] > 0.9
    assert top["size"] == 12
    assert "devices" in top["evidence"]


def test_nat_ip_and_viral_item_are_not_rings(mixed_result):
    flagged = _flagged(mixed_result)
    assert not any(a.startswith("mobile") for a in flagged)
    assert not any(a.startswith("user") for a in flagged)
    assert flagged == {f"ring{i}" for i in range(12)}


def test_contract_columns(mixed_result):
    accounts = mixed_result.accounts
    assert accounts.schema[schema.ACCOUNT] == pl.String
    assert accounts.schema["cluster_id"] == pl.Int64
    for col in (*schema.SCORE_COLUMNS, "risk"):
        assert accounts.schema[col] == pl.Float64
    total = accounts.select(pl.sum_horizontal(list(schema.SCORE_COLUMNS))).to_series()
    assert np.allclose(total.to_numpy(), 1.0)
    assert accounts["risk"].is_between(0.0, 1.0).all()
    assert set(accounts["predicted_label"].unique()) <= set(schema.LABELS)
    clusters = mixed_result.clusters
    assert clusters["suspicion"].is_sorted(descending=True)
    assert set(clusters["cluster_id"]) == set(accounts["cluster_id"].drop_nulls())


def test_same_input_same_clusters_and_scores(mixed_world, mixed_result):
    again = detect(mixed_world.sample(fraction=1.0, shuffle=True, seed=3), DetectConfig())
    assert again.accounts.equals(mixed_result.accounts)
    assert again.clusters.equals(mixed_result.clusters)


def test_parameters_are_stored_with_the_result(mixed_world):
    cfg = DetectConfig(community=CommunityConfig(resolution=0.7, seed=5))
    result = detect(mixed_world, cfg)
    assert result.community["resolution"] == 0.7
    assert result.community["seed"] == 5
    assert result.community["objective"] == "modularity"


def test_unlinked_accounts_get_no_cluster():
    rng = np.random.default_rng(0)
    events = frame(ordinary_users(rng, 30, n_items=100_000))
    result = detect(events, DetectConfig())
    assert result.accounts.height == 30
    assert not result.accounts["flagged"].any()


def test_results_do_not_depend_on_thread_count(tmp_path, mixed_world):
    """Parallel aggregation must not leak into the clusters: one thread gives the same run."""
    import os
    import subprocess
    import sys

    events = tmp_path / "events.parquet"
    mixed_world.write_parquet(events)
    runs = {}
    for threads in ("1", "2"):
        out = tmp_path / f"run{threads}"
        env = {**os.environ, "POLARS_MAX_THREADS": threads}
        subprocess.run(
            [sys.executable, "-m", "graphguard", "detect", str(events), "--out", str(out), "-q"],
            check=True,
            env=env,
            capture_output=True,
        )
        runs[threads] = pl.read_parquet(out / "accounts.parquet")
    assert runs["1"].equals(runs["2"])


def test_run_json_times_the_start_up_and_the_write(tmp_path, mixed_world):
    """run.json's stages run from what the caller timed before (the CLI's start-up) to the
    tables' write; with stage_peaks each stage has its own peak, at most the process's."""
    import json

    from graphguard.pipeline.detect import run_detection
    from graphguard.pipeline.stages import StageTimer

    events = tmp_path / "events.parquet"
    mixed_world.write_parquet(events)
    timer = StageTimer(stage_peaks=True)
    timer.record("start-up", 3.0)
    result = run_detection(events, tmp_path / "run", timer=timer)
    stages = json.loads((tmp_path / "run" / "run.json").read_text())["stages"]
    names = list(stages)
    assert names[0] == "start-up" and names[1] == "read" and names[-1] == "write"
    assert stages["start-up"]["seconds"] == 3.0
    assert stages["write"]["seconds"] > 0
    peaks = [s["peak_rss_mib"] for s in stages.values()]
    assert peaks == sorted(peaks)  # the process's peak so far never falls
    for stage in stages.values():
        assert 0 < stage["stage_peak_rss_mib"] <= stage["peak_rss_mib"]
    # the result's own timer also has the write as it ended (run.json written)
    assert result.timer.stages["write"]["seconds"] >= stages["write"]["seconds"]
