"""Per-account features for the supervised model, as Polars expressions over the pipeline's tables.

Every input is something `graphguard.pipeline.detect.detect` already holds: the indexed events, the
account graph's edge table, the Leiden membership, the scored community evidence and each
member's participation. `account_features` joins them into one Float32 row per account index.

Features are meant to transfer between logs (train on one world, score another): counts go
through log1p, behaviour is expressed as shares of the account's own activity, and the action
mix uses a fixed vocabulary so the columns never depend on which event types a log happens to
contain. `FEATURES` maps each column name to a one-line description, in column order; a model
checkpoint stores these names and refuses features built differently.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import numpy as np
import polars as pl

from graphguard.graph.context import (
    DAY_US,
    HOUR_US,
    US,
    is_engagement,
    with_device_context,
    with_ip_hour_context,
)
from graphguard.schema import RELATIONS

#: Event types with their own share column; everything else goes to ``share_other``.
EVENT_VOCABULARY: tuple[str, ...] = (
    "signup",
    "login",
    "view",
    "post",
    "like",
    "comment",
    "share",
    "follow",
)
#: Consecutive events closer than this (seconds) are scripted-fast; humans rarely keep it up.
SHORT_GAP_S = 10.0
#: UTC hours counted as night for ``night_share`` (the log carries no time zones).
NIGHT_HOURS = (0, 5)

#: Community evidence columns carried over to every member (0 for accounts in no community).
CLUSTER_COLUMNS: tuple[str, ...] = (
    "suspicion",
    "behaviour_score",
    "infrastructure_score",
    "bot_likeness",
    "sync_engagement_share",
    "shared_device_event_share",
    "shared_ip_event_share",
    "single_use_device_event_share",
    "target_exclusivity",
    "lockstep_member_share",
    "creation_burst_share",
    "internal_density",
)

#: Every feature column, in order, with what it measures.
FEATURES: dict[str, str] = {
    # activity volume and rate
    "log_events": "log1p of the account's events",
    "log_active_days": "log1p of distinct UTC days with at least one event",
    "log_events_per_active_day": "log1p of events per active day",
    "active_span_days": "days between the account's first and last event",
    # regularity of inter-event times
    "gap_cv": "coefficient of variation of gaps between consecutive events (0 with < 3 events)",
    "short_gap_share": f"share of gaps between consecutive events under {SHORT_GAP_S:g} s",
    "log_median_gap_s": "log1p of the median gap between consecutive events, in seconds",
    # hour-of-day profile
    "hour_entropy": "entropy of the UTC hour-of-day histogram, normalised to [0, 1]",
    "night_share": f"share of events at UTC hours {NIGHT_HOURS[0]}-{NIGHT_HOURS[1]}",
    # action mix
    **{f"share_{t}": f"share of events of type {t}" for t in EVENT_VOCABULARY},
    "share_other": "share of events of a type outside the fixed vocabulary",
    "engagement_share": "share of events that are engagement (graph.engagement_types)",
    "log_engaged_targets": "log1p of distinct targets the account engaged",
    "log_mean_target_reach": "mean over engaged targets of log1p(accounts engaging that target)",
    # devices and IPs
    "log_devices": "log1p of distinct devices",
    "log_ips": "log1p of distinct IPs",
    "devices_per_event": "distinct devices / events (device churn)",
    "ips_per_event": "distinct IPs / events (IP churn)",
    "no_device_share": "share of events without a device id",
    "shared_device_event_share": "share of events on a device another account also used",
    "log_max_device_accounts": "log1p of the most accounts seen on any one of its devices",
    "single_use_device_event_share": "share of events on devices only it used, within one hour",
    "shared_ip_hour_event_share": "share of events from an IP another account used that hour",
    "log_mean_ip_hour_accounts": "mean over events of log1p(accounts on that IP in that hour)",
    # account age
    "first_seen_days": "days from the log's first event to the account's first event",
    "has_signup": "1 if the account has a signup event in the log",
    # own part in its community's coordination (from community_evidence; 0 outside one)
    "sync_burst_share": "share of its engaged targets hit in a synchronized burst with members",
    "log_sync_burst_targets": "log1p of targets it engaged in a synchronized burst with members",
    "community_shared_device_share": "share of its events on devices other members also used",
    "community_shared_ip_share": "share of its events on an IP another member used that hour",
    "community_exclusive_target_share": "share of its engaged targets mostly engaged by members",
    # degrees in each projection
    **{
        name: text
        for r in RELATIONS
        for name, text in (
            (f"log_degree_{r}", f"log1p of accounts linked to it by the {r} relation"),
            (f"log_weighted_degree_{r}", f"log1p of the summed {r} edge weight"),
        )
    },
    "log_degree": "log1p of accounts linked to it by any relation",
    "log_weighted_degree": "log1p of the summed combined edge weight",
    # its community
    "in_cluster": "1 if the account belongs to a reported community",
    "log_cluster_size": "log1p of its community's size (0 outside one)",
    "log_cluster_accounts_per_device": "log1p of its community's accounts per device",
    **{f"cluster_{c}": f"its community's {c} (0 outside one)" for c in CLUSTER_COLUMNS},
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


# --------------------------------------------------------------------------------------------
# Event context: per-event columns the account aggregations read


def with_event_context(events: pl.LazyFrame) -> pl.LazyFrame:
    """Add gap_s (seconds since the account's previous event), hour (UTC) and day."""
    return events.sort("account", "t").with_columns(
        (pl.col("t").diff().over("account") / US).alias("gap_s"),
        ((pl.col("t") // HOUR_US) % 24).alias("hour"),
        (pl.col("t") // DAY_US).alias("day"),
    )


# --------------------------------------------------------------------------------------------
# Aggregations over one account's events (use inside group_by("account").agg)


def _safe_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(0.0)


def activity_exprs() -> list[pl.Expr]:
    """Volume and rate: log_events, log_active_days, log_events_per_active_day, span."""
    days = pl.col("day").n_unique()
    return [
        pl.len().log1p().alias("log_events"),
        days.log1p().alias("log_active_days"),
        (pl.len() / days).log1p().alias("log_events_per_active_day"),
        ((pl.col("t").max() - pl.col("t").min()) / DAY_US).alias("active_span_days"),
    ]


def regularity_exprs(short_gap_s: float = SHORT_GAP_S) -> list[pl.Expr]:
    """Inter-event regularity: gap_cv, short_gap_share, log_median_gap_s."""
    gap = pl.col("gap_s").drop_nulls()
    return [
        _safe_ratio(gap.std(), gap.mean()).fill_null(0.0).alias("gap_cv"),
        (gap < short_gap_s).mean().fill_null(0.0).alias("short_gap_share"),
        gap.median().log1p().fill_null(0.0).alias("log_median_gap_s"),
    ]


def night_share(hours: tuple[int, int] = NIGHT_HOURS) -> pl.Expr:
    """Share of the account's events at UTC hours hours[0]..hours[1] inclusive."""
    return pl.col("hour").is_between(*hours).mean().alias("night_share")


def hour_entropy(hour_counts: str = "n_hour") -> pl.Expr:
    """Entropy of an hour-of-day histogram in base 24, i.e. normalised to [0, 1].

    Use over rows (account, hour, ``hour_counts``) grouped by account.
    """
    return pl.col(hour_counts).entropy(base=24, normalize=True).alias("hour_entropy")


def action_mix_exprs(
    engagement_types: tuple[str, ...], vocabulary: tuple[str, ...] = EVENT_VOCABULARY
) -> list[pl.Expr]:
    """Share of each event type in ``vocabulary``, the rest as share_other, engagement_share."""
    kind = pl.col("event_type")
    return [
        *[(kind == t).mean().alias(f"share_{t}") for t in vocabulary],
        (~kind.is_in(list(vocabulary))).mean().alias("share_other"),
        kind.is_in(list(engagement_types)).mean().alias("engagement_share"),
    ]


def infrastructure_exprs() -> list[pl.Expr]:
    """Devices and IPs: counts, churn, and how much of the activity shares them.

    Needs the columns added by `with_device_context` and `with_ip_hour_context`.
    """
    n_devices = pl.col("device").drop_nulls().n_unique()
    n_ips = pl.col("ip").drop_nulls().n_unique()
    return [
        n_devices.log1p().alias("log_devices"),
        n_ips.log1p().alias("log_ips"),
        (n_devices / pl.len()).alias("devices_per_event"),
        (n_ips / pl.len()).alias("ips_per_event"),
        pl.col("device").is_null().mean().alias("no_device_share"),
        (pl.col("_dev_accounts").fill_null(0) >= 2).mean().alias("shared_device_event_share"),
        pl.col("_dev_accounts").max().fill_null(0).log1p().alias("log_max_device_accounts"),
        pl.col("_single_use_device").mean().alias("single_use_device_event_share"),
        (pl.col("_ip_hour_accounts").fill_null(0) >= 2).mean().alias("shared_ip_hour_event_share"),
        pl.col("_ip_hour_accounts").fill_null(1).log1p().mean().alias("log_mean_ip_hour_accounts"),
    ]


def age_exprs(log_start_us: int, signup_types: tuple[str, ...]) -> list[pl.Expr]:
    """first_seen_days after the log's start, and whether a signup event is in the log."""
    return [
        ((pl.col("t").min() - log_start_us) / DAY_US).alias("first_seen_days"),
        pl.col("event_type").is_in(list(signup_types)).any().cast(pl.Float32).alias("has_signup"),
    ]


# --------------------------------------------------------------------------------------------
# Tables


def event_features(
    indexed: pl.DataFrame,
    *,
    engagement_types: tuple[str, ...],
    signup_types: tuple[str, ...],
) -> pl.DataFrame:
    """Features computed from the account's own events, one row per account that has events."""
    if indexed.height == 0:
        return pl.DataFrame(schema={"account": pl.UInt32})
    log_start_us = int(indexed.get_column("t").min())  # type: ignore[arg-type]
    events = (
        indexed.lazy().pipe(with_event_context).pipe(with_device_context).pipe(with_ip_hour_context)
    )
    per_account = events.group_by("account").agg(
        *activity_exprs(),
        *regularity_exprs(),
        night_share(),
        *action_mix_exprs(engagement_types),
        *infrastructure_exprs(),
        *age_exprs(log_start_us, signup_types),
    )
    hours = (
        events.group_by("account", "hour")
        .agg(pl.len().alias("n_hour"))
        .group_by("account")
        .agg(hour_entropy())
    )
    engaged = (
        indexed.lazy().filter(is_engagement(engagement_types)).select("account", "target").unique()
    )
    reach = engaged.group_by("target").agg(pl.len().alias("_reach"))
    targets = (
        engaged.join(reach, on="target")
        .group_by("account")
        .agg(
            pl.len().log1p().alias("log_engaged_targets"),
            pl.col("_reach").log1p().mean().alias("log_mean_target_reach"),
        )
    )
    return (
        per_account.join(hours, on="account", how="left")
        .join(targets, on="account", how="left")
        .collect()
    )


def participation_features(members: pl.DataFrame) -> pl.DataFrame:
    """Each community member's own share in the coordination (`community_evidence` members)."""
    wanted = {
        "p_sync": "sync_burst_share",
        "n_synced_targets": "log_sync_burst_targets",
        "p_shared_device": "community_shared_device_share",
        "p_shared_ip": "community_shared_ip_share",
        "p_exclusive": "community_exclusive_target_share",
    }
    exprs = [
        (
            pl.col(src).cast(pl.Float64).log1p()
            if src.startswith("n_")
            else pl.col(src).cast(pl.Float64)
        ).alias(dst)
        if src in members.columns
        else pl.lit(0.0).alias(dst)
        for src, dst in wanted.items()
    ]
    return members.select(pl.col("account").cast(pl.UInt32), *exprs)


def degree_features(edges: pl.DataFrame) -> pl.DataFrame:
    """Degree and weighted degree per relation and combined, from the undirected edge table."""
    relation_cols = [f"{r}_{s}" for r in RELATIONS for s in ("weight", "support")]
    present = [c for c in relation_cols if c in edges.columns]
    both_ways = pl.concat(
        [edges.select(pl.col(end).alias("account"), "weight", *present) for end in ("src", "dst")]
    )
    exprs = []
    for r in RELATIONS:
        support, weight = f"{r}_support", f"{r}_weight"
        exprs.append(
            ((pl.col(support) > 0).sum() if support in present else pl.lit(0))
            .cast(pl.Float64)
            .log1p()
            .alias(f"log_degree_{r}")
        )
        exprs.append(
            (pl.col(weight).sum() if weight in present else pl.lit(0.0))
            .cast(pl.Float64)
            .log1p()
            .alias(f"log_weighted_degree_{r}")
        )
    return both_ways.group_by("account").agg(
        *exprs,
        pl.len().cast(pl.Float64).log1p().alias("log_degree"),
        pl.col("weight").sum().log1p().alias("log_weighted_degree"),
    )


def cluster_features(membership: np.ndarray, clusters: pl.DataFrame) -> pl.DataFrame:
    """Each account's community statistics; rows only for accounts in a reported community."""
    member_map = pl.DataFrame(
        {
            "account": np.arange(membership.shape[0], dtype=np.uint32),
            "cluster": np.asarray(membership, dtype=np.int64),
        }
    ).filter(pl.col("cluster") >= 0)
    columns = [
        pl.col(c).cast(pl.Float64).alias(f"cluster_{c}")
        if c in clusters.columns
        else pl.lit(0.0).alias(f"cluster_{c}")
        for c in CLUSTER_COLUMNS
    ]
    n_devices = pl.col("n_devices") if "n_devices" in clusters.columns else pl.col("size")
    stats = clusters.select(
        pl.col("cluster").cast(pl.Int64),
        pl.lit(1.0).alias("in_cluster"),
        pl.col("size").cast(pl.Float64).log1p().alias("log_cluster_size"),
        (pl.col("size") / pl.max_horizontal(n_devices, pl.lit(1)))
        .cast(pl.Float64)
        .log1p()
        .alias("log_cluster_accounts_per_device"),
        *columns,
    )
    return member_map.join(stats, on="cluster", how="inner").drop("cluster")


def account_features(
    indexed: pl.DataFrame,
    n_accounts: int,
    edges: pl.DataFrame,
    membership: np.ndarray,
    clusters: pl.DataFrame,
    members: pl.DataFrame,
    *,
    engagement_types: tuple[str, ...],
    signup_types: tuple[str, ...],
) -> pl.DataFrame:
    """One row per account index with every column of `FEATURES` as Float32.

    Args:
        indexed: events from `index_events` (account, t in int64 us, event_type, device, ip,
            target).
        n_accounts: number of account indices; accounts without events or edges get zeros.
        edges: `AccountGraph.edges` (src, dst, {relation}_weight/_support, weight).
        membership: community of each account index (-1: none), as `leiden` returns it.
        clusters: community evidence after `score_clusters` (column ``cluster``).
        members: per-member participation from `community_evidence`.
        engagement_types: event types that are engagement (``graph.engagement_types``).
        signup_types: event types that mark an account's creation (``scoring.signup_types``).

    Returns:
        ``account`` (UInt32, 0..n_accounts-1, sorted) followed by `FEATURE_NAMES` (Float32,
        finite: undefined statistics, such as gaps of a one-event account, are 0).
    """
    base = pl.DataFrame({"account": pl.arange(0, n_accounts, dtype=pl.UInt32, eager=True)})
    parts = [
        event_features(indexed, engagement_types=engagement_types, signup_types=signup_types),
        participation_features(members),
        degree_features(edges),
        cluster_features(membership, clusters),
    ]
    table = base
    for part in parts:
        part = part.with_columns(pl.col("account").cast(pl.UInt32))
        table = table.join(part, on="account", how="left")
    missing = [pl.lit(0.0).alias(name) for name in FEATURE_NAMES if name not in table.columns]
    finite = [
        pl.when(pl.col(name).cast(pl.Float64).is_finite())
        .then(pl.col(name))
        .otherwise(0.0)
        .fill_null(0.0)
        .cast(pl.Float32)
        .alias(name)
        for name in FEATURE_NAMES
    ]
    return table.with_columns(missing).select("account", *finite).sort("account")


def select_features(exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """`FEATURE_NAMES` minus those matching any of ``exclude`` (names or fnmatch patterns)."""
    for pattern in exclude:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in FEATURE_NAMES):
            raise ValueError(f"features.exclude: {pattern!r} matches no feature")
    kept = tuple(
        name
        for name in FEATURE_NAMES
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)
    )
    if not kept:
        raise ValueError("features.exclude leaves no feature")
    return kept


def describe_features() -> str:
    """The feature list as ``name: description`` lines, for reports and model cards."""
    width = max(len(name) for name in FEATURES)
    return "\n".join(f"{name:<{width}}  {text}" for name, text in FEATURES.items())
