"""``community.dense_blocks`` on Spark: the same carved communities as the local engine."""

from __future__ import annotations

import polars as pl
import pytest

from graphguard.config import DetectConfig, SparkConfig
from graphguard.pipeline.detect import run_detection
from tests.worlds import ratings_block_log

pytestmark = pytest.mark.slow


def test_carved_communities_are_the_local_ones(spark, tmp_path):
    events = tmp_path / "ratings.parquet"
    ratings_block_log().write_parquet(events)
    config = DetectConfig(spark=SparkConfig(shuffle_partitions=4, driver_memory="1g"))
    local = run_detection(events, tmp_path / "local", config)
    on_spark = run_detection(events, tmp_path / "spark", config, engine="spark")
    assert local.meta["community"]["dense_block_communities"] == 1
    for key in ("dense_blocks", "dense_block_communities", "max_cluster_size"):
        assert local.meta["community"][key] == on_spark.meta["community"][key]
    a = local.accounts.sort("account_id").select("account_id", "cluster_id", "flagged")
    b = on_spark.accounts.sort("account_id").select("account_id", "cluster_id", "flagged")
    assert a.equals(b)
    assert a.filter(pl.col("flagged")).height == 40
