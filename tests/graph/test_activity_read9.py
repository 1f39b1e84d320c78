"""The communities' activity counts by one sort of packed keys (`detect._packed_activity`)
equal the hash group-by they replace, and the group-by is what is left where the keys do not
fit 64 bits."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.graph.context import HOUR_US
from graphguard.pipeline import detect


def _events(rng: np.random.Generator, n: int, accounts: int, hours: int) -> pl.DataFrame:
    types = ["comment", "like", "login", "post", "view"]
    return pl.DataFrame(
        {
            "account": rng.integers(0, accounts, n).astype(np.uint32),
            "t": rng.integers(0, hours, n) * HOUR_US + rng.integers(0, HOUR_US, n),
            "event_type": pl.Series(rng.choice(types, n)).cast(pl.Enum(types)),
        }
    )


def _framed(events: pl.DataFrame, membership: np.ndarray) -> pl.DataFrame:
    return detect.with_cluster(events, membership).select(
        (
            pl.col("cluster").cast(pl.UInt64) * (1 << 32)
            + pl.col("event_type").to_physical().cast(pl.UInt64)
        ).alias("_ce"),
        (pl.col("t") // HOUR_US).alias("_hour"),
        "account",
    )


def _grouped(events: pl.DataFrame, membership: np.ndarray) -> pl.DataFrame:
    return (
        _framed(events, membership)
        .group_by("_ce", "_hour")
        .agg(pl.len().alias("n_events"), pl.col("account").n_unique().alias("n_accounts"))
    )


def test_packed_activity_equals_the_group_by():
    rng = np.random.default_rng(7)
    accounts = 500
    events = _events(rng, 20_000, accounts, 30)
    membership = rng.integers(-1, 40, accounts)  # some accounts in no community
    counts = detect._activity_counts(events, membership)
    assert detect._packed_activity(_framed(events, membership)) is not None  # the sort's path
    expected = _grouped(events, membership)
    keys = ["_ce", "_hour"]
    assert counts.schema == expected.schema
    assert counts.sort(keys).equals(expected.sort(keys))
    # distinct accounts are counted, not events: some group has more events than accounts
    assert (counts.get_column("n_events") > counts.get_column("n_accounts")).any()
    # and the timeline built from it is the same
    types = pl.Series(events.schema["event_type"].categories)
    assert detect._cluster_activity(counts, types).equals(detect._cluster_activity(expected, types))


def test_keys_past_64_bits_fall_back_to_the_group_by():
    rng = np.random.default_rng(3)
    n = 2_000
    # accounts near 2**32, communities near 2**20 and hours spread over 2**20 hours: 32 + 20
    # + 20 + 3 bits leave no room in 64, so the counts are the group-by's
    framed = pl.DataFrame(
        {
            "_ce": (rng.integers(2**20 - 50, 2**20, n).astype(np.uint64) << np.uint64(32))
            + rng.integers(0, 5, n).astype(np.uint64),
            "_hour": rng.integers(0, 2**20, n).astype(np.int64),
            "account": rng.integers(2**32 - 60, 2**32 - 1, n).astype(np.uint32),
        }
    )
    assert detect._packed_activity(framed) is None
    # with room to spare the packed counts equal the group-by
    small = framed.with_columns(pl.col("account") - (2**32 - 60), pl.col("_hour") % 100)
    keys = ["_ce", "_hour"]
    grouped = small.group_by(keys).agg(
        pl.len().alias("n_events"), pl.col("account").n_unique().alias("n_accounts")
    )
    packed = detect._packed_activity(small)
    assert packed is not None
    assert packed.sort(keys).equals(grouped.sort(keys))
