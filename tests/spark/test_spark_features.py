"""The Spark account features equal the local engine's."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.features.account import FEATURE_NAMES
from graphguard.spark.evidence import to_polars
from graphguard.spark.features import spark_features


def test_features_equal_the_local_engine(scored_world):
    _, pipeline, frames, clusters, members, _ = scored_world
    local = pipeline.features
    got = to_polars(spark_features(frames, clusters, members)).sort("account")
    assert got.columns == local.columns
    assert got.height == local.height
    assert got.schema == {**local.schema, "account": pl.Int32}
    a = got.select(FEATURE_NAMES).to_numpy().astype(np.float64)
    b = local.select(FEATURE_NAMES).to_numpy().astype(np.float64)
    diff = np.abs(a - b)
    worst = {FEATURE_NAMES[j]: float(diff[:, j].max()) for j in range(len(FEATURE_NAMES))}
    bad = {name: d for name, d in worst.items() if d > 1e-9}
    assert not bad, bad
    # every feature varies in this world, so equality is not a column of zeros
    flat = [name for name in FEATURE_NAMES if np.ptp(b[:, FEATURE_NAMES.index(name)]) == 0]
    assert len(flat) <= 3, flat
