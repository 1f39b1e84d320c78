"""Per-community evidence of coordination, and each member's part in it.

Every measure is a share that a person can read and check: what share of the members' events
came from devices other members also used, what share of their engagement landed in a burst with
other members on the same target, and so on. Nothing here is learnt; `scoring` combines them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.graph.context import US, device_usage, engagements, hour_key, single_use_device
from graphguard.schema import RELATIONS
from graphguard.scores import name_of_max

#: an account is in lockstep with its community when at least this many distinct targets saw
#: its engagement inside a burst of other members' (one or two happen to real users by chance).
LOCKSTEP_MIN_TARGETS = 3


def _window_counts(group: np.ndarray, t_s: np.ndarray, window_s: float) -> np.ndarray:
    """For rows sorted by (group, t_s): how many other rows of the same group lie within
    +-window_s seconds. Vectorised with one composite key and two binary searches."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    t0 = t_s.min()
    span = float(t_s.max() - t0) + 2 * window_s + 1
    composite = group.astype(np.float64) * span + (t_s - t0)
    # Float64 keeps integers exact to 2^53: enough for ~10^6 groups over ~10^3 days of seconds.
    lo = np.searchsorted(composite, composite - window_s, side="left")
    hi = np.searchsorted(composite, composite + window_s, side="right")
    return (hi - lo - 1).astype(np.int64)


def _cluster_key(column: str) -> pl.Expr:
    """(cluster, ``column``'s code) as one UInt64 (null where the column is): the cluster (a
    non-negative Int64 below 2**32) in the high half, the UInt32 code in the low half."""
    return pl.col("cluster").cast(pl.UInt64) * (1 << 32) + pl.col(column).to_physical().cast(
        pl.UInt64
    )


def _run_ids(key: np.ndarray) -> np.ndarray:
    """For sorted ``key``: the number of each row's run of equal values (0, 1, ...)."""
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.empty(key.size, dtype=np.int64)
    starts[0] = 0
    np.not_equal(key[1:], key[:-1], out=starts[1:], casting="unsafe")
    return np.cumsum(starts)


def _densest_window(group: np.ndarray, t_s: np.ndarray, window_s: float) -> np.ndarray:
    """For rows sorted by (group, t_s): rows within [t, t + window_s] of the same group."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    t0 = t_s.min()
    span = float(t_s.max() - t0) + 2 * window_s + 1
    composite = group.astype(np.float64) * span + (t_s - t0)
    hi = np.searchsorted(composite, composite + window_s, side="right")
    return (hi - np.arange(group.size)).astype(np.int64)


def with_cluster(frame: pl.DataFrame, membership: np.ndarray) -> pl.DataFrame:
    """The rows of ``frame`` whose account is in a community, with its ``cluster`` (Int64):
    the membership array indexed by account, not a join."""
    cluster = pl.Series("cluster", np.asarray(membership, dtype=np.int64)).gather(
        frame.get_column("account")
    )
    return frame.with_columns(cluster).filter(pl.col("cluster") >= 0)


def community_evidence(
    indexed: pl.DataFrame,
    membership: np.ndarray,
    edges: pl.DataFrame,
    *,
    engagement_types: tuple[str, ...],
    signup_types: tuple[str, ...],
    sync_window_s: float,
    sync_min_share: float,
    creation_burst_window_s: float,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Evidence per community and participation per member.

    Args:
        indexed: events from `index_events` (account, t, event_type, device, ip, target).
        membership: community of each account index, -1 for none.
        edges: the combined account graph (`AccountGraph.edges`).
        sync_window_s: two members' engagement on one target within this counts as together.
        sync_min_share: an engagement is synchronized when at least this share of the other
            members who ever engaged that target (and at least two) did so within the window;
            relative, so that fans trickling in over hours do not read as a burst.
        creation_burst_window_s: window for the densest burst of member signups.

    Returns:
        ``(clusters, members)``. ``clusters`` has one row per community with evidence columns;
        ``members`` one row per member account with ``p_shared_device``, ``p_shared_ip``,
        ``p_sync``, ``p_exclusive`` (the shares of that account's own activity).
    """
    member_map = pl.DataFrame(
        {"account": np.arange(membership.shape[0], dtype=np.uint32), "cluster": membership}
    ).filter(pl.col("cluster") >= 0)
    # No community (a clean log, one account, nothing shared) runs the same steps on empty
    # frames, so the empty tables carry every column and dtype of a full run.
    ev = with_cluster(indexed, membership)

    # --- shared infrastructure -------------------------------------------------------------
    # (community, device) and (community, IP) as one 64-bit key each (`_cluster_key`): one
    # integer column groups and joins several times faster than a pair of columns
    ev = ev.with_columns(
        _cluster_key("device").alias("_cd"),
        _cluster_key("ip").alias("_ci"),
        hour_key().alias("_hour"),
    )
    dev = (
        ev.filter(pl.col("_cd").is_not_null())
        .group_by("_cd")
        .agg(pl.col("account").n_unique().alias("_dev_members"))
    )
    ev = ev.join(dev, on="_cd", how="left").join(device_usage(indexed), on="device", how="left")
    ip_hour = (
        ev.filter(pl.col("_ci").is_not_null())
        .group_by("_ci", "_hour")
        .agg(pl.col("account").n_unique().alias("_ip_members"))
    )
    ev = (
        ev.join(ip_hour, on=["_ci", "_hour"], how="left")
        .with_columns(
            (pl.col("_dev_members").fill_null(0) >= 2).alias("_on_shared_device"),
            (pl.col("_ip_members").fill_null(0) >= 2).alias("_on_shared_ip"),
            single_use_device().alias("_single_use_device"),
        )
        .drop("_cd", "_ci", "_dev_members", "_ip_members")
    )

    # --- engagement: synchrony and exclusivity ---------------------------------------------
    engage_all = engagements(indexed, engagement_types)
    target_reach = engage_all.group_by("target").agg(pl.len().alias("_target_accounts"))
    engage = (
        with_cluster(engage_all, membership)
        .join(target_reach, on="target")
        .with_columns(_cluster_key("target").alias("_ct"))
    )
    on_target = engage.group_by("_ct").agg(pl.len().alias("_members_on_target"))
    # sorted by (community, target, t): each (community, target) is one run of the key
    engage = engage.join(on_target, on="_ct").sort("_ct", "t")
    together = _window_counts(
        _run_ids(engage.get_column("_ct").to_numpy()),
        (engage.get_column("t").to_numpy() // US).astype(np.float64),
        sync_window_s,
    )
    needed = np.maximum(
        2, np.ceil(sync_min_share * (engage.get_column("_members_on_target").to_numpy() - 1))
    )
    engage = engage.with_columns(
        pl.Series("_synced", together >= needed),
        (
            (pl.col("_members_on_target") >= 3)
            & (pl.col("_members_on_target") / pl.col("_target_accounts") >= 0.5)
        ).alias("_exclusive"),
    )

    # --- per member ------------------------------------------------------------------------
    member_infra = ev.group_by("account").agg(
        pl.len().alias("n_events"),
        pl.col("_on_shared_device").mean().alias("p_shared_device"),
        pl.col("_on_shared_ip").mean().alias("p_shared_ip"),
        pl.col("_single_use_device").mean().alias("p_single_use_device"),
    )
    member_engage = engage.group_by("account").agg(
        pl.len().alias("n_engaged_targets"),
        pl.col("_synced").sum().alias("n_synced_targets"),
        pl.col("_synced").mean().alias("p_sync"),
        pl.col("_exclusive").mean().alias("p_exclusive"),
    )
    members = (
        member_map.join(member_infra, on="account", how="left")
        .join(member_engage, on="account", how="left")
        .with_columns(
            pl.col("n_engaged_targets").fill_null(0),
            pl.col("n_synced_targets").fill_null(0),
            pl.col("p_sync").fill_null(0.0),
            pl.col("p_exclusive").fill_null(0.0),
        )
        .sort("account")
    )

    # --- per community ---------------------------------------------------------------------
    infra = (
        ev.group_by("cluster")
        .agg(
            pl.col("account").n_unique().alias("size"),
            pl.len().alias("n_events"),
            pl.col("device").n_unique().alias("n_devices"),  # counts null as a value; fixed below
            pl.col("device").null_count().alias("_null_devices"),
            pl.col("ip").drop_nulls().n_unique().alias("n_ips"),
            pl.col("target").drop_nulls().n_unique().alias("n_targets"),
            pl.col("_on_shared_device").mean().alias("shared_device_event_share"),
            pl.col("_on_shared_ip").mean().alias("shared_ip_event_share"),
            pl.col("_single_use_device").mean().alias("single_use_device_event_share"),
            pl.col("t").min().alias("first_us"),
            pl.col("t").max().alias("last_us"),
        )
        .with_columns(
            (pl.col("n_devices") - (pl.col("_null_devices") > 0).cast(pl.UInt32)).alias("n_devices")
        )
        .drop("_null_devices")
    )
    lockstep = members.group_by("cluster").agg(
        (pl.col("n_synced_targets") >= LOCKSTEP_MIN_TARGETS).mean().alias("lockstep_member_share")
    )
    behaviour = engage.group_by("cluster").agg(
        pl.len().alias("n_engagements"),
        pl.col("_synced").mean().alias("sync_engagement_share"),
        pl.col("_exclusive").mean().alias("target_exclusivity"),
        pl.col("target").filter(pl.col("_synced")).n_unique().alias("n_synced_targets"),
    )
    clusters = (
        infra.join(behaviour, on="cluster", how="left")
        .join(lockstep, on="cluster", how="left")
        .join(_creation_bursts(ev, signup_types, creation_burst_window_s), on="cluster", how="left")
        .join(_internal_structure(edges, member_map), on="cluster", how="left")
        .with_columns(
            pl.col("n_engagements").fill_null(0),
            pl.col("sync_engagement_share").fill_null(0.0),
            pl.col("target_exclusivity").fill_null(0.0),
            pl.col("n_synced_targets").fill_null(0),
            pl.col("lockstep_member_share").fill_null(0.0),
            pl.col("n_signups").fill_null(0),
            pl.col("signup_burst_size").fill_null(0),
            (pl.col("size") / pl.max_horizontal(pl.col("n_devices"), pl.lit(1))).alias(
                "accounts_per_device"
            ),
        )
        .with_columns(
            (pl.col("signup_burst_size") / pl.col("size")).alias("creation_burst_share"),
        )
        .sort("cluster")
    )
    return clusters, members


def _creation_bursts(
    ev: pl.DataFrame, signup_types: tuple[str, ...], window_s: float
) -> pl.DataFrame:
    """Largest number of members who signed up within ``window_s`` of each other.

    Only explicit signup events count: accounts that merely appear when the log starts are not a
    creation burst, they are the log's horizon.
    """
    signups = (
        ev.filter(pl.col("event_type").is_in(list(signup_types)))
        .group_by("cluster", "account")
        .agg(pl.col("t").min())
        .sort("cluster", "t")
    )
    if signups.height == 0:
        return pl.DataFrame(
            schema={"cluster": pl.Int64, "n_signups": pl.UInt32, "signup_burst_size": pl.Int64}
        )
    counts = _densest_window(
        signups.get_column("cluster").to_numpy(),
        (signups.get_column("t").to_numpy() // US).astype(np.float64),
        window_s,
    )
    return (
        signups.with_columns(pl.Series("_burst", counts))
        .group_by("cluster")
        .agg(pl.len().alias("n_signups"), pl.col("_burst").max().alias("signup_burst_size"))
    )


def _internal_structure(edges: pl.DataFrame, member_map: pl.DataFrame) -> pl.DataFrame:
    """Internal edge count, density and the relation that carries most internal weight."""
    left = member_map.rename({"account": "src", "cluster": "_c_src"})
    right = member_map.rename({"account": "dst", "cluster": "_c_dst"})
    tagged = edges.join(left, on="src", how="left").join(right, on="dst", how="left")
    internal = tagged.filter(pl.col("_c_src") == pl.col("_c_dst"))
    sizes = member_map.group_by("cluster").agg(pl.len().alias("_size"))
    relation_sums = [pl.col(f"{r}_weight").log1p().sum().alias(f"_{r}_w") for r in RELATIONS]
    stats = internal.group_by(pl.col("_c_src").alias("cluster")).agg(
        pl.len().alias("internal_edges"), pl.col("weight").sum().alias("_w_in"), *relation_sums
    )
    boundary = (
        pl.concat(
            [
                tagged.filter(pl.col("_c_src") != pl.col("_c_dst").fill_null(-1)).select(
                    pl.col("_c_src").alias("cluster"), "weight"
                ),
                tagged.filter(pl.col("_c_dst") != pl.col("_c_src").fill_null(-1)).select(
                    pl.col("_c_dst").alias("cluster"), "weight"
                ),
            ]
        )
        .filter(pl.col("cluster").is_not_null())
        .group_by("cluster")
        .agg(pl.col("weight").sum().alias("_w_out"))
    )
    names = list(RELATIONS)
    out = (
        sizes.join(stats, on="cluster", how="left")
        .join(boundary, on="cluster", how="left")
        .with_columns(
            pl.col("internal_edges").fill_null(0),
            pl.col("_w_in").fill_null(0.0),
            pl.col("_w_out").fill_null(0.0),
        )
        .with_columns(
            (2 * pl.col("internal_edges") / (pl.col("_size") * (pl.col("_size") - 1))).alias(
                "internal_density"
            ),
            (pl.col("_w_in") / (pl.col("_w_in") + pl.col("_w_out")))
            .fill_nan(0.0)
            .alias("internal_weight_share"),
            name_of_max([pl.col(f"_{r}_w").fill_null(0.0) for r in names], names).alias(
                "dominant_relation"
            ),
        )
    )
    return out.select(
        "cluster",
        "internal_edges",
        "internal_density",
        "internal_weight_share",
        "dominant_relation",
    )
