"""Per-community evidence of coordination, and each member's part in it.

Every measure is a share that a person can read and check: what share of the members' events
came from devices other members also used, what share of their engagement landed in a burst with
other members on the same target, and so on. Nothing here is learnt; `scoring` combines them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from graphguard.community.blocks import block_evidence, dense_measured, unmeasured
from graphguard.graph.context import (
    US,
    device_usage,
    engagements,
    hour_key,
    is_engagement,
    single_use_device,
)
from graphguard.graph.projections import EntityUse
from graphguard.schema import RELATIONS
from graphguard.scores import name_of_max

#: an account is in lockstep with its community when at least this many distinct targets saw
#: its engagement inside a burst of other members' (one or two happen to real users by chance).
LOCKSTEP_MIN_TARGETS = 3
#: what the evidence stage holds per event of a community member (the events with their joined
#: context, the engagement table): measured on the 10M-event world, 6.06M member events and a
#: stage peak 1.37 GiB over its start
EVIDENCE_BYTES_PER_MEMBER_EVENT = 240


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


def events_by_owner(
    indexed: pl.DataFrame, owner: np.ndarray, groups: int
) -> Iterator[pl.DataFrame]:
    """The events of each group of accounts in turn (``owner``: the group 0..groups-1 of each
    account index, -1 for none), each in log order: the rows ``indexed.filter`` would keep for
    the group's accounts. Past one group the rows are put in group order once (a stable sort
    of the small group numbers, a radix sort in numpy) and each group gathered from its slice:
    the log is read once, not once a group (which grows as the square of the log)."""
    account = indexed.get_column("account").to_numpy()
    if groups == 1:
        yield indexed.filter(pl.Series(owner[account] >= 0))
        return
    which = owner[account]
    rows = np.flatnonzero(which >= 0)
    which = which[rows].astype(np.uint16 if groups <= 2**16 else np.int64)
    rows = rows.astype(np.uint32 if indexed.height < 2**32 else np.int64)
    del account
    rows = rows[np.argsort(which, kind="stable")]
    ends = np.cumsum(np.bincount(which, minlength=groups))
    del which
    start = 0
    for end in ends.tolist():
        yield indexed.select(pl.all().gather(pl.Series(rows[start:end])))
        start = end


@dataclass(frozen=True)
class EvidenceContext:
    """What the evidence of a community reads from beyond its members' events: each
    device's use across the log, each target's reach (distinct accounts that engaged it), and
    each community's internal structure in the account graph."""

    device_use: pl.DataFrame
    target_reach: pl.DataFrame
    internal: pl.DataFrame
    #: the whole log's first engagements (`engagements`), kept when one pass covers every
    #: community (its members' rows are then a filter of it); None in chunks, where each
    #: chunk builds its members' own
    engaged: pl.DataFrame | None = None


#: what building the log-wide context (`evidence_context`) holds per event of the log: the
#: engagement and device tables and their group-by's; measured at 100M events, about 7 GiB
#: over the stage's start in one pass
CONTEXT_BYTES_PER_EVENT = 80


def context_partitions(indexed: pl.DataFrame, budget_mib: int | None) -> int:
    """How many partitions (of target codes, and of device codes) `evidence_context` builds
    its tables in, so that each fits ``budget_mib`` (one without a budget)."""
    if budget_mib is None:
        return 1
    return max(1, math.ceil(indexed.height * CONTEXT_BYTES_PER_EVENT / (budget_mib * 2**20)))


def evidence_context(
    indexed: pl.DataFrame,
    edges: pl.DataFrame,
    membership: np.ndarray,
    engagement_types: tuple[str, ...],
    *,
    keep_engagements: bool = False,
    budget_mib: int | None = None,
    entity_use: EntityUse | None = None,
) -> EvidenceContext:
    """The log-wide tables of `EvidenceContext`, once for every community.

    ``entity_use``: the devices' use and the targets' reach as the projections counted them
    (`AccountGraph.entity_use`), taken as they are; what it lacks is counted from the log.
    With ``budget_mib`` (and without ``keep_engagements``) each table is built a partition
    of its key's codes at a time (`context_partitions`): a target's reach and a device's use
    are each computed from all of that target's or device's events, so the rows are those of
    one pass (their order is not: they are only joined on).
    """
    use = entity_use or EntityUse()
    target_reach, device_use = use.target_reach, use.device_use
    parts = 1 if keep_engagements else context_partitions(indexed, budget_mib)
    engaged = None
    if keep_engagements:
        engaged = _collect(engagements(indexed.lazy(), engagement_types))
    if parts == 1:
        if target_reach is None:
            if engaged is None:
                engaged = _collect(engagements(indexed.lazy(), engagement_types))
            target_reach = _collect(
                engaged.lazy().group_by("target").agg(pl.len().alias("_target_accounts"))
            )
        if device_use is None:
            device_use = _collect(device_usage(indexed.lazy()))
    else:
        reach_parts, device_parts = [], []
        lazy = indexed.lazy()
        for k in range(parts if target_reach is None or device_use is None else 0):
            if target_reach is None:
                targets = lazy.filter(pl.col("target").to_physical() % parts == k)
                reach_parts.append(
                    engagements(targets, engagement_types)
                    .group_by("target")
                    .agg(pl.len().alias("_target_accounts"))
                    .collect()
                )
            if device_use is None:
                devices = lazy.filter(pl.col("device").to_physical() % parts == k)
                device_parts.append(device_usage(devices).collect())
        target_reach = pl.concat(reach_parts) if target_reach is None else target_reach
        device_use = pl.concat(device_parts) if device_use is None else device_use
    return EvidenceContext(
        device_use=device_use,
        target_reach=target_reach,
        internal=_internal_structure(edges, membership),
        engaged=engaged if keep_engagements else None,
    )


def _member_events(indexed: pl.DataFrame, membership: np.ndarray) -> np.ndarray:
    """Events of each account index that is in a community (0 for the others)."""
    per_account = np.bincount(indexed.get_column("account").to_numpy(), minlength=membership.size)
    return np.where(membership >= 0, per_account, 0)


def _chunk_count(member_events: float, budget_mib: int, *, most: int) -> int:
    """How many chunks the members' events need to fit ``budget_mib`` at
    `EVIDENCE_BYTES_PER_MEMBER_EVENT` each: at least 1, at most ``most``."""
    chunks = math.ceil(member_events * EVIDENCE_BYTES_PER_MEMBER_EVENT / (budget_mib * 2**20))
    return max(1, min(chunks, most))


def community_chunks(
    indexed: pl.DataFrame, membership: np.ndarray, budget_mib: int
) -> list[np.ndarray]:
    """The communities split into chunks whose evidence fits ``budget_mib`` (about
    `EVIDENCE_BYTES_PER_MEMBER_EVENT` per event of a member), as one membership array per
    chunk (-1 for the accounts of other chunks). Consecutive community ids, balanced by their
    members' events; one chunk (``membership`` itself) when everything fits. Deterministic."""
    membership = np.asarray(membership, dtype=np.int64)
    n_clusters = int(membership.max()) + 1 if membership.size else 0
    if n_clusters == 0:
        return [membership]
    per_account = _member_events(indexed, membership)
    in_cluster = membership >= 0
    per_cluster = np.bincount(
        membership[in_cluster], weights=per_account[in_cluster], minlength=n_clusters
    )
    total = float(per_cluster.sum())
    chunks = _chunk_count(total, budget_mib, most=n_clusters)
    if chunks == 1:
        return [membership]
    # chunk of each community: its place in the cumulative event count
    chunk_of = np.minimum(
        (np.cumsum(per_cluster) - per_cluster) * chunks // max(total, 1.0), chunks - 1
    ).astype(np.int64)
    owner = np.where(in_cluster, chunk_of[np.maximum(membership, 0)], -1)
    return [np.where(owner == k, membership, -1) for k in range(chunks) if (owner == k).any()]


def member_account_ranges(
    indexed: pl.DataFrame, membership: np.ndarray, budget_mib: int
) -> list[tuple[int, int]]:
    """The clustered accounts split into consecutive ranges of account index ``[lo, hi)``
    whose members' events fit ``budget_mib`` as `community_chunks` counts them (as many
    chunks), balanced by events: what the subgraph stage's tables, sorted by account, are cut
    into. One range (every account) when everything fits. Deterministic."""
    membership = np.asarray(membership, dtype=np.int64)
    n = membership.size
    per_account = _member_events(indexed, membership)
    total = float(per_account.sum())
    chunks = _chunk_count(total, budget_mib, most=int((membership >= 0).sum()))
    if chunks == 1:
        return [(0, n)]
    # cut where the cumulative event count crosses each k/chunks of the total
    cuts = np.searchsorted(np.cumsum(per_account), total * np.arange(1, chunks) / chunks)
    bounds = np.unique(np.concatenate([[0], cuts + 1, [n]]).clip(0, n))
    return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]


def community_evidence_in_chunks(
    indexed: pl.DataFrame,
    membership: np.ndarray,
    edges: pl.DataFrame,
    *,
    budget_mib: int,
    progress: Callable[[str], None] | None = None,
    entity_use: EntityUse | None = None,
    **settings: Any,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`community_evidence`, a chunk of communities at a time (`community_chunks`), so that
    the stage holds about ``budget_mib`` whatever the log's size. Every measure is a
    community's own, so the tables equal those of one pass (`tests/community`). Each chunk's
    members' events are gathered from one chunk-ordered list of the members' rows
    (`events_by_owner`), not filtered from the whole log once a chunk. ``entity_use``: what
    the projections counted of the devices and targets (`evidence_context`)."""
    membership = np.asarray(membership, dtype=np.int64)
    chunks = community_chunks(indexed, membership, budget_mib)
    if len(chunks) == 1:
        return community_evidence(indexed, membership, edges, entity_use=entity_use, **settings)
    context = evidence_context(
        indexed,
        edges,
        membership,
        settings["engagement_types"],
        budget_mib=budget_mib,
        entity_use=entity_use,
    )
    # whether the blocks are measured is the log's question: asked once, not once a chunk
    measured = dense_measured(indexed, settings.pop("dense_evidence", "auto"))
    owner = np.full(membership.size, -1, dtype=np.int64)
    for k, chunk in enumerate(chunks):
        owner[chunk >= 0] = k
    cluster_parts, member_parts = [], []
    chunk_events = events_by_owner(indexed, owner, len(chunks))
    for k, (chunk, events) in enumerate(zip(chunks, chunk_events, strict=True)):
        if progress:
            progress(f"evidence: communities, chunk {k + 1} of {len(chunks)}")
        clusters, members = community_evidence(
            indexed,
            chunk,
            edges,
            context=context,
            member_events=events,
            dense_evidence="on" if measured else "off",
            **settings,
        )
        del events
        cluster_parts.append(clusters)
        member_parts.append(members)
    return (
        pl.concat(cluster_parts).sort("cluster"),
        pl.concat(member_parts).sort("account"),
    )


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
    post_types: tuple[str, ...] = ("post",),
    dense_evidence: str = "auto",
    context: EvidenceContext | None = None,
    member_events: pl.DataFrame | None = None,
    entity_use: EntityUse | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Evidence per community and participation per member.

    Args:
        indexed: events from `index_events` (account, t, event_type, device, ip, target).
        membership: community of each account index, -1 for none.
        edges: the combined account graph (`AccountGraph.edges`).
        sync_window_s: two members' engagement on one target within this counts as together.
        sync_min_share: a member's occasion with a target (`engagement_occasions`: its first
            engagement, or a return after a pause) is synchronized when at least this share of
            the other members who ever engaged that target (and at least two) had one within
            the window; relative, so that fans trickling in over hours do not read as a burst.
            A target is synchronized for the member when any of its occasions was (counted
            once, `_synced_targets`).
        creation_burst_window_s: window for the densest burst of member signups.
        post_types: event types that author their target (`community.blocks`).
        dense_evidence: ``scoring.dense_evidence``: whether the blocks are measured
            (`community.blocks.dense_measured`; their columns are null where not).
        context: the log-wide tables (`evidence_context`) when the caller has them already,
            as `community_evidence_in_chunks` does for each chunk of communities.
        member_events: the events of the communities' members (any rows of ``indexed`` that
            hold them all, in log order) when the caller has them; else taken from
            ``indexed``.
        entity_use: the projections' counts of the devices and targets, for the context
            (`evidence_context`) when it is built here.

    Returns:
        ``(clusters, members)``. ``clusters`` has one row per community with evidence columns;
        ``members`` one row per member account with ``p_shared_device``, ``p_shared_ip``,
        ``p_sync``, ``p_exclusive``, ``p_dense`` (the shares of that account's own activity).
        The dense-block columns (`community.blocks.BLOCK_COLUMNS`) come from `block_evidence`.
    """
    context = context or evidence_context(
        indexed, edges, membership, engagement_types, keep_engagements=True, entity_use=entity_use
    )
    member_map = pl.DataFrame(
        {"account": np.arange(membership.shape[0], dtype=np.uint32), "cluster": membership}
    ).filter(pl.col("cluster") >= 0)
    # No community (a clean log, one account, nothing shared) runs the same steps on empty
    # frames, so the empty tables carry every column and dtype of a full run.
    ev = with_cluster(indexed if member_events is None else member_events, membership)

    # --- shared infrastructure -------------------------------------------------------------
    # counted per (account, device) and per (account, IP, hour) rather than joined onto every
    # event: an event is on a shared device when its (community, device) has two members,
    # and its device's use is the device's, so the events' shares are sums of these counts
    member_infra, infra = _infrastructure(ev, context.device_use)

    # --- engagement: synchrony and exclusivity ---------------------------------------------
    # the members' first engagement of each target: the whole log's rows of members, or (in a
    # chunk) `engagements` of the members' own events, the same rows
    engaged = engagements(ev, engagement_types) if context.engaged is None else context.engaged
    engage = (
        with_cluster(engaged, membership)
        .join(context.target_reach, on="target")
        .with_columns(_cluster_key("target").alias("_ct"))
    )
    on_target = engage.group_by("_ct").agg(pl.len().alias("_members_on_target"))
    # a member's target is synchronized when any of its occasions with it was, its first or a
    # later one (a ring that keeps coming back to the same posts)
    synced = _synced_targets(ev, engagement_types, on_target, sync_window_s, sync_min_share)
    engage = (
        engage.join(on_target, on="_ct")
        .join(synced, on=["_ct", "account"], how="left", maintain_order="left")
        .with_columns(pl.col("_synced").fill_null(False))
    )
    engage = engage.with_columns(
        (
            (pl.col("_members_on_target") >= 3)
            & (pl.col("_members_on_target") / pl.col("_target_accounts") >= 0.5)
        ).alias("_exclusive"),
    )

    # --- per member ------------------------------------------------------------------------
    member_engage = engage.group_by("account").agg(
        pl.len().alias("n_engaged_targets"),
        pl.col("_synced").sum().alias("n_synced_targets"),
        pl.col("_synced").mean().alias("p_sync"),
        pl.col("_exclusive").mean().alias("p_exclusive"),
    )
    if dense_measured(indexed, dense_evidence):
        block_clusters, block_members = block_evidence(
            indexed, membership, engagement_types=engagement_types, post_types=post_types
        )
    else:
        block_clusters, block_members = unmeasured(membership)
    members = (
        member_map.join(member_infra, on="account", how="left")
        .join(member_engage, on="account", how="left")
        .join(block_members, on="account", how="left")
        .with_columns(
            pl.col("n_engaged_targets").fill_null(0),
            pl.col("n_synced_targets").fill_null(0),
            pl.col("p_sync").fill_null(0.0),
            pl.col("p_exclusive").fill_null(0.0),
            pl.col("p_dense").fill_null(0.0),
        )
        .sort("account")
    )

    # --- per community ---------------------------------------------------------------------
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
        .join(context.internal, on="cluster", how="left")
        .join(block_clusters, on="cluster", how="left")
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


#: an account's engagements of one target are one occasion until it leaves the target for more
#: than this many synchrony windows: a like and a comment a minute apart are one act, a ring
#: coming back to the same post wave after wave is one occasion a wave. Twice the window, so
#: no account has two occasions within +-window of a moment (each other member counts once).
OCCASION_GAP_WINDOWS = 2


def engagement_occasions(
    ev: pl.DataFrame, engagement_types: tuple[str, ...], window_s: float
) -> pl.DataFrame:
    """The members' engagement occasions of each target (``ev``: `with_cluster` events):
    columns ``_ct`` (`_cluster_key` of the target), ``account`` and ``t`` (the occasion's first
    engagement), sorted by (``_ct``, ``t``, ``account``). An account's first occasion of a
    target is its first engagement (`engagements`); a later one starts where more than
    `OCCASION_GAP_WINDOWS` windows (in whole seconds, as the windows count) passed since its
    previous engagement of the target."""
    rows = (
        ev.lazy()
        .filter(is_engagement(engagement_types))
        .select(_cluster_key("target").alias("_ct"), "account", "t")
        .sort("_ct", "account", "t")
        .collect()
    )
    ct = rows.get_column("_ct").to_numpy()
    account = rows.get_column("account").to_numpy()
    seconds = rows.get_column("t").to_numpy() // US
    start = np.ones(rows.height, dtype=bool)
    start[1:] = (
        (ct[1:] != ct[:-1])
        | (account[1:] != account[:-1])
        | (seconds[1:] - seconds[:-1] > OCCASION_GAP_WINDOWS * window_s)
    )
    return rows.filter(pl.Series(start)).sort("_ct", "t", "account")


def _synced_targets(
    ev: pl.DataFrame,
    engagement_types: tuple[str, ...],
    on_target: pl.DataFrame,
    window_s: float,
    min_share: float,
) -> pl.DataFrame:
    """The (``_ct``, ``account``) pairs with a synchronized occasion (`engagement_occasions`),
    ``_synced`` True: one at which at least ``min_share`` of the other members who ever engaged
    the target (``on_target``'s ``_members_on_target``), and at least two, had an occasion
    within +-``window_s``.

    However often the account came back in sync, the target counts once: a group chat that
    returns to its thread day after day is, by its timing alone, a ring's waves on one post,
    so repetition on one target is not made evidence; coming back in sync on several targets
    is (each counts)."""
    occasions = engagement_occasions(ev, engagement_types, window_s).join(
        on_target, on="_ct", maintain_order="left"
    )
    together = _window_counts(
        _run_ids(occasions.get_column("_ct").to_numpy()),
        (occasions.get_column("t").to_numpy() // US).astype(np.float64),
        window_s,
    )
    needed = np.maximum(
        2, np.ceil(min_share * (occasions.get_column("_members_on_target").to_numpy() - 1))
    )
    return (
        occasions.filter(pl.Series(together >= needed))
        .select("_ct", "account")
        .unique()
        .with_columns(pl.lit(True).alias("_synced"))
    )


def _infrastructure(
    ev: pl.DataFrame, device_use: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(per member, per community)`` infrastructure measures of the members' events ``ev``
    (`with_cluster`): events, the shares of them on a device another member used, on an IP
    another member used in the same hour, on a single-use device (`single_use_device` of
    ``device_use``, the device's use across the log), and per community its size, distinct
    devices, IPs and targets and its first and last event.

    An event's flags depend only on its (account, device) and (account, IP, hour), so the
    shares are counted from those groups (a share is a count of events over a count of
    events, as the mean of the events' flags is)."""
    lazy = ev.lazy()
    cluster = pl.col("cluster")
    # (account, code) and (community, code) as one 64-bit key each: integers group fastest
    on_device = _collect(
        lazy.filter(pl.col("device").is_not_null())
        .group_by("cluster", _account_key("device").alias("_ad"))
        .agg(pl.len().alias("_n"))
    )
    device_use = device_use.select(
        pl.col("device").to_physical().cast(pl.UInt64).alias("_code"),
        single_use_device().alias("_single"),
    )
    on_device = (
        on_device.with_columns((pl.col("_ad") % (1 << 32)).alias("_code"))
        .join(device_use, on="_code", how="left")
        .with_columns(
            (cluster.cast(pl.UInt64) * (1 << 32) + pl.col("_code")).alias("_cd"),
            (pl.col("_ad") // (1 << 32)).cast(pl.UInt32).alias("account"),
        )
        .with_columns((pl.len().over("_cd") >= 2).alias("_shared"))
    )
    on_ip = _collect(
        lazy.filter(pl.col("ip").is_not_null())
        .group_by("cluster", _account_key("ip").alias("_ai"), hour_key().alias("_hour"))
        .agg(pl.len().alias("_n"))
    ).with_columns(
        (cluster.cast(pl.UInt64) * (1 << 32) + pl.col("_ai") % (1 << 32)).alias("_ci"),
        (pl.col("_ai") // (1 << 32)).cast(pl.UInt32).alias("account"),
    )
    on_ip = on_ip.with_columns((pl.len().over("_ci", "_hour") >= 2).alias("_shared"))
    per_account = _collect(
        lazy.group_by("account").agg(
            pl.first("cluster"),
            pl.len().alias("n_events"),
            pl.col("t").min().alias("first_us"),
            pl.col("t").max().alias("last_us"),
        )
    )

    def events_where(frame: pl.DataFrame, flag: str, by: str, name: str) -> pl.DataFrame:
        return frame.group_by(by).agg(pl.col("_n").filter(pl.col(flag)).sum().alias(name))

    def share(name: str, alias: str) -> pl.Expr:
        return (pl.col(name).fill_null(0).cast(pl.Float64) / pl.col("n_events")).alias(alias)

    flags = (
        ("_shared", on_device, "_dev_events", "p_shared_device", "shared_device_event_share"),
        ("_shared", on_ip, "_ip_events", "p_shared_ip", "shared_ip_event_share"),
        (
            "_single",
            on_device,
            "_single_events",
            "p_single_use_device",
            "single_use_device_event_share",
        ),
    )
    member_infra = per_account.select("account", "n_events")
    for flag, frame, name, _, _ in flags:
        member_infra = member_infra.join(
            events_where(frame, flag, "account", name), on="account", how="left"
        )
    member_infra = member_infra.select(
        "account", "n_events", *[share(name, member) for _, _, name, member, _ in flags]
    )
    distinct = {
        "n_devices": on_device.select("cluster", "_cd"),
        "n_ips": on_ip.select("cluster", "_ci"),
        "n_targets": _collect(
            lazy.filter(pl.col("target").is_not_null())
            .select(_cluster_key("target").alias("_ct"))
            .unique()
            .select((pl.col("_ct") // (1 << 32)).cast(pl.Int64).alias("cluster"), "_ct")
        ),
    }
    infra = per_account.group_by("cluster").agg(
        pl.len().alias("size"),
        pl.col("n_events").sum().cast(pl.UInt32),
        pl.col("first_us").min(),
        pl.col("last_us").max(),
    )
    for name, keys in distinct.items():
        key = keys.columns[1]
        counted = keys.lazy().group_by("cluster").agg(pl.col(key).n_unique().alias(name))
        infra = infra.join(_collect(counted), on="cluster", how="left")
    for flag, frame, name, _, _ in flags:
        infra = infra.join(events_where(frame, flag, "cluster", name), on="cluster", how="left")
    infra = infra.select(
        "cluster",
        "size",
        "n_events",
        *[pl.col(name).fill_null(0).cast(pl.UInt32) for name in distinct],
        *[share(name, cluster_name) for _, _, name, _, cluster_name in flags],
        "first_us",
        "last_us",
    )
    return member_infra, infra


def _account_key(column: str) -> pl.Expr:
    """(account, ``column``'s code) as one UInt64 (null where the column is)."""
    return pl.col("account").cast(pl.UInt64) * (1 << 32) + pl.col(column).to_physical().cast(
        pl.UInt64
    )


def _collect(query: pl.LazyFrame) -> pl.DataFrame:
    """A group-by over events in Polars' streaming engine (several times cheaper than the
    in-memory one on millions of rows)."""
    return query.collect(engine="streaming")


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


def _internal_structure(edges: pl.DataFrame, membership: np.ndarray) -> pl.DataFrame:
    """Internal edge count, density and the relation that carries most internal weight.

    Sums in edge order (`numpy.bincount`), so the last bit of a share does not depend on how
    a parallel group-by split the rows."""
    membership = np.asarray(membership, dtype=np.int64)
    n = int(membership.max()) + 1 if membership.size else 0
    sizes = np.bincount(membership[membership >= 0], minlength=n)
    c_src = membership[edges.get_column("src").to_numpy()] if edges.height else np.zeros(0, int)
    c_dst = membership[edges.get_column("dst").to_numpy()] if edges.height else np.zeros(0, int)
    weight = edges.get_column("weight").to_numpy().astype(np.float64)
    inside = (c_src == c_dst) & (c_src >= 0)
    cin = c_src[inside]

    def total(at: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(at, weights=values, minlength=n)

    # boundary weight: each crossing edge counts for the community at either end
    src_out = (c_src != c_dst) & (c_src >= 0)
    dst_out = (c_src != c_dst) & (c_dst >= 0)
    w_out = total(c_src[src_out], weight[src_out]) + total(c_dst[dst_out], weight[dst_out])
    present = np.flatnonzero(sizes)
    names = list(RELATIONS)
    out = pl.DataFrame(
        {
            "cluster": present.astype(np.int64),
            "_size": sizes[present].astype(np.uint32),
            "internal_edges": np.bincount(cin, minlength=n)[present].astype(np.uint32),
            "_w_in": total(cin, weight[inside])[present],
            "_w_out": w_out[present],
            **{
                f"_{r}_w": total(cin, np.log1p(edges.get_column(f"{r}_weight").to_numpy()[inside]))[
                    present
                ]
                for r in names
            },
        }
    ).with_columns(
        (2 * pl.col("internal_edges") / (pl.col("_size") * (pl.col("_size") - 1))).alias(
            "internal_density"
        ),
        (pl.col("_w_in") / (pl.col("_w_in") + pl.col("_w_out")))
        .fill_nan(0.0)
        .alias("internal_weight_share"),
        name_of_max([pl.col(f"_{r}_w") for r in names], names).alias("dominant_relation"),
    )
    return out.select(
        "cluster",
        "internal_edges",
        "internal_density",
        "internal_weight_share",
        "dominant_relation",
    )
