"""The Spark engine against the local one: the same run directory, table by table.

One small simulated world (seed not used by the quality figures) runs through
`run_detection` with ``engine="local"`` and ``engine="spark"`` (the tests' local[2] session);
the clusters must be the same accounts with the same canonical ids, and every table the same
(floats within 1e-9).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import rundir
from graphguard.config import DetectConfig, SparkConfig
from graphguard.pipeline.detect import run_detection
from graphguard.simulate import SimulationConfig, simulate

pytestmark = pytest.mark.slow

#: sort keys of each run table (row order is not part of the contract)
KEYS = {
    rundir.ACCOUNTS_FILE: ["account_id"],
    rundir.CLUSTERS_FILE: ["cluster_id"],
    rundir.ACCOUNT_EDGES_FILE: ["src_id", "dst_id"],
    rundir.ENTITY_EDGES_FILE: ["account_id", "kind", "entity"],
    rundir.ACTIVITY_FILE: ["cluster_id", "hour", "event_type"],
}


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    world = simulate(SimulationConfig(n_accounts=1500, seed=61))
    root = tmp_path_factory.mktemp("engines")
    events = root / "events.parquet"
    world.events.write_parquet(events)
    config = DetectConfig(spark=SparkConfig(shuffle_partitions=4, driver_memory="1g"))
    local = run_detection(events, root / "local", config)
    on_spark = run_detection(events, root / "spark", config, engine="spark")
    return root / "local", root / "spark", local, on_spark


def test_same_clusters_same_ids(runs):
    local, on_spark = runs[2], runs[3]
    a = local.accounts.sort("account_id").select("account_id", "cluster_id")
    b = on_spark.accounts.sort("account_id").select("account_id", "cluster_id")
    assert a["cluster_id"].null_count() < a.height  # there are clusters to compare
    assert a.equals(b)


def test_run_tables_are_equal(runs):
    local_dir, spark_dir = runs[0], runs[1]
    for name, keys in KEYS.items():
        a = pl.read_parquet(local_dir / name).sort(keys)
        b = pl.read_parquet(spark_dir / name).sort(keys)
        assert a.columns == b.columns, name
        assert a.schema == b.schema, name
        assert a.height == b.height, name
        for column in a.columns:
            x, y = a.get_column(column), b.get_column(column)
            if x.dtype.is_float():
                assert np.allclose(x.to_numpy(), y.to_numpy(), rtol=0, atol=1e-9, equal_nan=True), (
                    name,
                    column,
                )
            else:
                assert x.equals(y), (name, column)


def test_run_json_records_the_same_run(runs):
    local, on_spark = runs[2].meta, runs[3].meta
    assert local["ingest"] == on_spark["ingest"]
    assert local["summary"] == on_spark["summary"]
    assert on_spark["community"]["engine"] == "spark"
    # max_cluster_size: auto, resolved by both engines from the log (it has devices: 50)
    assert local["community"]["max_cluster_size"] == 50
    for key in (
        "components_partitioned",
        "largest_component",
        "refined_communities",
        "max_cluster_size",
        "max_cluster_size_rule",
    ):
        assert local["community"][key] == on_spark["community"][key]
    assert on_spark["community"]["modularity"] == pytest.approx(
        local["community"]["modularity"], abs=1e-9
    )
    # run.json records the engine that ran (the engine argument overrides the config's)
    assert (local["config"]["engine"], on_spark["config"]["engine"]) == ("local", "spark")
    assert {k: v for k, v in local["config"].items() if k != "engine"} == {
        k: v for k, v in on_spark["config"].items() if k != "engine"
    }


def test_same_edges_with_hubs_salted(spark, tmp_path):
    """Salting hub entities into small buckets (7, so window_rows occurrences) changes no
    pair."""
    from graphguard.graph.build import build_account_graph, index_events
    from graphguard.io import load_events
    from graphguard.spark.graph import account_graph
    from graphguard.spark.graph import index_events as spark_index
    from graphguard.spark.read import read_events

    events_path = tmp_path / "events.parquet"
    simulate(SimulationConfig(n_accounts=1500, seed=61)).events.write_parquet(events_path)
    config = DetectConfig()
    events, _, _ = load_events(events_path, config.data)
    indexed, ids = index_events(events)
    local = build_account_graph(indexed, len(ids), config.graph).edges
    spark_events, _, _ = read_events(spark, events_path, config.data)
    spark_indexed, _, n = spark_index(spark_events)
    assert n == len(ids)
    salted = pl.from_arrow(account_graph(spark_indexed, config.graph, salt_above=7).toArrow())
    salted = salted.sort("src", "dst").cast({c: local.schema[c] for c in local.columns})
    salted = salted.select(local.columns)
    assert salted.select("src", "dst").equals(local.select("src", "dst"))
    for column in local.columns:  # weights summed in another order: equal within 1e-9
        if local.schema[column].is_float():
            assert np.allclose(salted[column].to_numpy(), local[column].to_numpy(), atol=1e-9)
        else:
            assert salted[column].equals(local[column]), column


def test_run_json_records_the_same_operating_point(runs):
    # no target: the fixed threshold, with the null model's expected FPR, as the local run has
    local, on_spark = runs[2].meta, runs[3].meta
    a, b = local["operating_point"], on_spark["operating_point"]
    assert a["method"] == b["method"] == "fixed"
    assert b["threshold"] == a["threshold"]
    assert b["expected_fpr"] == pytest.approx(a["expected_fpr"], abs=1e-12)


def test_a_target_fpr_flags_at_the_same_threshold_on_both_engines(runs, tmp_path):
    """``scoring.target_fpr`` without a model: the null model's threshold, chosen among the
    accounts' own risks. A target between the default threshold's expected FPR and a larger
    one must move the threshold (or the test would not compare anything)."""
    from graphguard.config import ScoringConfig

    local_dir = runs[0]
    fixed = runs[2].meta["operating_point"]
    target = max(4 * fixed["expected_fpr"], 0.01)
    events = local_dir.parent / "events.parquet"
    config = DetectConfig(
        spark=SparkConfig(shuffle_partitions=4, driver_memory="1g"),
        scoring=ScoringConfig(target_fpr=target),
    )
    local = run_detection(events, tmp_path / "local", config)
    on_spark = run_detection(events, tmp_path / "spark", config, engine="spark")
    a, b = local.meta["operating_point"], on_spark.meta["operating_point"]
    assert a["method"] == b["method"] == "null"
    assert a["threshold"] != fixed["threshold"]
    assert b["threshold"] == pytest.approx(a["threshold"], abs=1e-9)
    assert b["expected_fpr"] == pytest.approx(a["expected_fpr"], abs=1e-9)
    flagged = [
        pl.read_parquet(d / rundir.ACCOUNTS_FILE).sort("account_id").select("account_id", "flagged")
        for d in (tmp_path / "local", tmp_path / "spark")
    ]
    assert flagged[0].equals(flagged[1])
    assert flagged[0]["flagged"].sum() != runs[2].accounts["flagged"].sum()
    clusters = [
        pl.read_parquet(d / rundir.CLUSTERS_FILE)
        .sort("cluster_id")
        .select("cluster_id", "n_flagged")
        for d in (tmp_path / "local", tmp_path / "spark")
    ]
    assert clusters[0].equals(clusters[1])


def test_a_target_precision_without_a_model_is_refused_before_any_work(tmp_path, ring_log):
    # a precision needs labels (a model's validation split); nothing is read or written
    from graphguard.config import ConfigError, ScoringConfig
    from graphguard.spark.engine import run_detection_spark

    config = DetectConfig(scoring=ScoringConfig(target_precision=0.9))
    with pytest.raises(ConfigError, match="scoring.target_precision.*needs labels"):
        run_detection_spark(ring_log, tmp_path / "out", config)
    assert not (tmp_path / "out").exists()


def test_same_edges_on_a_ratings_log_with_the_pair_budget(spark, tmp_path):
    """Without devices or IPs the dense projection has no engager cap and a pair budget per
    target (`graph.dense_cap: auto`): the Spark twin pairs the same accounts, salted too."""
    from graphguard.graph.build import build_account_graph, index_events
    from graphguard.io import load_events
    from graphguard.spark.graph import account_graph
    from graphguard.spark.graph import index_events as spark_index
    from graphguard.spark.read import read_events
    from tests.community.test_dense_blocks import _ratings_log

    events_path = tmp_path / "events.parquet"
    _ratings_log().write_parquet(events_path)
    config = DetectConfig()
    events, _, _ = load_events(events_path, config.data)
    indexed, ids = index_events(events)
    local = build_account_graph(indexed, len(ids), config.graph).edges
    assert local.get_column("dense_support").max() >= 3
    spark_events, _, _ = read_events(spark, events_path, config.data)
    spark_indexed, _, _ = spark_index(spark_events)
    for salt in (100_000, 7):
        got = pl.from_arrow(account_graph(spark_indexed, config.graph, salt_above=salt).toArrow())
        got = got.sort("src", "dst").cast({c: local.schema[c] for c in local.columns})
        got = got.select(local.columns)
        assert got.select("src", "dst").equals(local.select("src", "dst")), salt
        for column in local.columns:
            if local.schema[column].is_float():
                assert np.allclose(got[column].to_numpy(), local[column].to_numpy(), atol=1e-9)
            else:
                assert got[column].equals(local[column]), column


def test_the_q_gate_flags_the_same_accounts_on_both_engines(runs, tmp_path):
    """``scoring.q_gate`` with a target: the threshold of the ungated null point, then only
    communities whose evidence_q is at most scoring.fdr (`pipeline.operating.flag_accounts`,
    Spark `spark_flag_accounts`): the same flags on both engines, recorded in run.json."""
    from graphguard.config import ScoringConfig

    events = runs[0].parent / "events.parquet"
    target = max(4 * runs[2].meta["operating_point"]["expected_fpr"], 0.01)
    config = DetectConfig(
        spark=SparkConfig(shuffle_partitions=4, driver_memory="1g"),
        scoring=ScoringConfig(target_fpr=target, q_gate=True),
    )
    local = run_detection(events, tmp_path / "local", config)
    on_spark = run_detection(events, tmp_path / "spark", config, engine="spark")
    a, b = local.meta["operating_point"], on_spark.meta["operating_point"]
    assert a["q_gate"] == b["q_gate"] == ScoringConfig().fdr
    assert b["threshold"] == pytest.approx(a["threshold"], abs=1e-9)
    assert b["expected_fpr"] == pytest.approx(a["expected_fpr"], abs=1e-9)
    assert local.meta["summary"] == on_spark.meta["summary"]
    flagged = [
        pl.read_parquet(d / rundir.ACCOUNTS_FILE)
        .sort("account_id")
        .select("account_id", "cluster_id", "flagged")
        for d in (tmp_path / "local", tmp_path / "spark")
    ]
    assert flagged[0].equals(flagged[1])
    assert flagged[0]["flagged"].sum() > 0
    # every flagged account is in a community the gate passed
    q = local.clusters.select("cluster_id", "evidence_q")
    gated = flagged[0].filter(pl.col("flagged")).join(q, on="cluster_id", how="left")
    assert (gated["evidence_q"] <= a["q_gate"]).all()
