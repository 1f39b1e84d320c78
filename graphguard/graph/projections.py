"""Account-account projections through shared devices, IPs and targets, bounded on hubs.

All four projections use one mechanism, `windowed_pairs`: inside each shared entity (a device, an
IP, a target), occurrences sorted by time are paired with the next ``window_rows`` occurrences
only, optionally also within ``max_gap``. An entity with k occurrences therefore yields at most
``k * window_rows`` pairs instead of k^2/2, so a carrier-grade NAT IP used by 10,000 accounts
costs 10,000 * window_rows candidate pairs, not 50 million. Pairs that co-occur by chance on a hub
are unlikely to recur, which is why every relation then aggregates per account pair and keeps only
pairs with repeated support.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.config import GraphConfig, RelationConfig
from graphguard.graph.context import US, engagements, hour_key
from graphguard.schema import ANY_RELATION, RELATIONS

__all__ = ["ANY_RELATION", "RELATIONS", "all_relations", "windowed_pairs"]


def windowed_pairs(
    occurrences: pl.DataFrame,
    *,
    key: str,
    window_rows: int,
    max_gap_us: int | None = None,
    carry: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Pair each occurrence with the next ``window_rows`` occurrences of the same ``key``.

    Args:
        occurrences: columns ``key``, ``account`` (int), ``t`` (int64 microseconds) and any
            ``carry`` columns; one row per (key, account, occasion).
        key: the shared entity column (device, IP, target, ...).
        window_rows: how many following occurrences each one is paired with: the hub bound.
        max_gap_us: pairs further apart in time than this are dropped (None: no limit).
        carry: columns copied from both occurrences of a pair: ``c`` from the earlier one and
            ``c_next`` from the later one.

    Returns:
        One row per pair of different accounts, with ``src < dst``, ``entity`` (an integer id
        of the shared ``key`` value, cheaper to carry than the string), ``dt_us`` and the
        carried columns. At most ``len(occurrences) * window_rows`` rows.
    """
    occ, first, second, entity = _windowed(occurrences, key, window_rows, max_gap_us)
    t = occ.get_column("t").to_numpy()
    src, dst = _ends(occ, first, second)
    columns: dict[str, object] = {
        "src": src,
        "dst": dst,
        "dt_us": t[second] - t[first],
        "entity": entity[first],
    }
    for c in carry:
        column = occ.get_column(c)
        columns[c] = column.gather(first)
        columns[f"{c}_next"] = column.gather(second)
    return pl.DataFrame(columns)


def _windowed(
    occurrences: pl.DataFrame, key: str, window_rows: int, max_gap_us: int | None
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """``occurrences`` sorted as `windowed_pairs` pairs them, and its row pairs (`_pair_rows`)."""
    occ = occurrences.sort([key, "t", "account"])
    return (occ, *_pair_rows(occ, key, window_rows, max_gap_us))


def _ends(occ: pl.DataFrame, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The accounts of each row pair as (src, dst), src < dst."""
    acc = occ.get_column("account").to_numpy()
    a, b = acc[first], acc[second]
    return np.minimum(a, b), np.maximum(a, b)


def _pair_rows(
    occ: pl.DataFrame, key: str, window_rows: int, max_gap_us: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The row pairs of `windowed_pairs` in ``occ`` (sorted by key, t, account): the earlier
    row, the later row, and each row's entity number (0, 1, ... in key order)."""
    n = occ.height
    # entity number of each row: runs of one key value (codes, so no text is hashed)
    entity = occ.get_column(key).rle_id().to_numpy().astype(np.int64, copy=False)
    ends = np.cumsum(np.bincount(entity)) if n else np.zeros(0, dtype=np.int64)
    # Rows left in the same entity after each row: row i can pair at lag L only if
    # remaining[i] >= L, so the candidate set shrinks with every lag and the total work is the
    # number of pairs produced, not len(occ) * window_rows.
    remaining = ends[entity] - np.arange(n) - 1 if n else np.zeros(0, dtype=np.int64)
    acc = occ.get_column("account").to_numpy()
    t = occ.get_column("t").to_numpy()
    candidates = np.nonzero(remaining >= 1)[0]
    earlier: list[np.ndarray] = []
    later: list[np.ndarray] = []
    for lag in range(1, window_rows + 1):
        candidates = candidates[remaining[candidates] >= lag]
        if candidates.size == 0:
            break
        partner = candidates + lag
        keep = acc[candidates] != acc[partner]
        if max_gap_us is not None:
            close = (t[partner] - t[candidates]) <= max_gap_us
            keep &= close
            # times are sorted inside an entity: once too far at this lag, too far at every
            # larger lag, so those rows stop being candidates
            candidates = candidates[close]
            partner = candidates + lag
            keep = keep[close]
        earlier.append(candidates[keep])
        later.append(partner[keep])
    first = np.concatenate(earlier) if earlier else np.zeros(0, dtype=np.int64)
    second = np.concatenate(later) if later else np.zeros(0, dtype=np.int64)
    return first, second, entity


def _drop_crowded(occ: pl.DataFrame, key: str, max_accounts: int | None) -> pl.DataFrame:
    """Skip entities used by more than ``max_accounts`` distinct accounts (None: keep all)."""
    if max_accounts is None:
        return occ
    crowd = occ.group_by(key).agg(pl.col("account").n_unique().alias("_crowd"))
    keep = crowd.filter(pl.col("_crowd") <= max_accounts).select(key)
    return occ.join(keep, on=key, how="semi")


#: buckets of the support pre-count in `_finish` (a 2**24-entry count table: 128 MiB)
_SUPPORT_BUCKETS_LOG2 = 24


def _finish(
    src: np.ndarray,
    dst: np.ndarray,
    values: np.ndarray,
    occurrences: pl.DataFrame,
    cfg: RelationConfig,
    relation: str,
) -> pl.DataFrame:
    """Aggregate pair rows to one row per account pair and keep those with enough support.

    ``src``, ``dst``, ``values``: one row per (pair, shared entity) and its weight (summed per
    pair); ``occurrences`` one row per (account, entity), which gives each account's own entity
    count for ``min_overlap``.

    The pair (src, dst) is one 64-bit key. Most pairs are seen once and ``min_support`` drops
    them: a count of the keys' hash buckets finds them first (a bucket holding fewer rows than
    ``min_support`` holds no pair that has them), so only candidates are grouped exactly.
    """
    support = f"{relation}_support"
    key = (src.astype(np.uint64) << np.uint64(32)) | dst.astype(np.uint64)
    values = values.astype(np.float64, copy=False)
    if cfg.min_support > 1 and key.size:
        bucket = (key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - _SUPPORT_BUCKETS_LOG2)
        counts = np.bincount(bucket.astype(np.int64), minlength=1 << _SUPPORT_BUCKETS_LOG2)
        candidate = counts[bucket] >= cfg.min_support
        del bucket, counts
        key, values = key[candidate], values[candidate]
    agg = (
        pl.DataFrame({"_key": key, "_w": values})
        .group_by("_key")
        .agg(pl.len().cast(pl.UInt32).alias(support), pl.col("_w").sum().alias(f"{relation}_weight"))
        .filter(pl.col(support) >= cfg.min_support)
        .select(
            (pl.col("_key") // (1 << 32)).cast(pl.UInt32).alias("src"),
            (pl.col("_key") % (1 << 32)).cast(pl.UInt32).alias("dst"),
            support,
            # parallel sums may add in another order on another machine; rounding keeps the
            # last bits of float noise out of Leiden's input, so results do not depend on core
            # count
            pl.col(f"{relation}_weight").round(9),
        )
    )
    if cfg.min_overlap > 0:
        own = occurrences.group_by("account").agg(pl.len().alias("_own"))
        agg = (
            agg.join(own.rename({"account": "src", "_own": "_own_src"}), on="src")
            .join(own.rename({"account": "dst", "_own": "_own_dst"}), on="dst")
            .filter(pl.col(support) >= cfg.min_overlap * pl.min_horizontal("_own_src", "_own_dst"))
            .drop("_own_src", "_own_dst")
        )
    return agg.sort("src", "dst")


def device_pairs(events: pl.DataFrame, cfg: RelationConfig) -> pl.DataFrame:
    """Accounts that used the same device, at any time.

    Each shared device adds min(share of a's events on it, share of b's events on it): a family
    sharing a tablet for everything weighs as much as a farm, but a kiosk used for 5% of each
    visitor's events weighs little. Evidence elsewhere tells families from farms.
    """
    per_account = events.group_by("account").agg(pl.len().alias("_n_account"))
    occ = (
        events.filter(pl.col("device").is_not_null())
        .group_by("device", "account")
        .agg(pl.col("t").min(), pl.len().alias("_n"))
    )
    occ = (
        _drop_crowded(occ, "device", cfg.max_accounts)
        .join(per_account, on="account")
        .with_columns((pl.col("_n") / pl.col("_n_account")).alias("share"))
        .select("device", "account", "t", "share")
    )
    occ, first, second, _ = _windowed(occ, "device", cfg.window_rows, None)
    share = occ.get_column("share").to_numpy()
    src, dst = _ends(occ, first, second)
    weight = np.minimum(share[first], share[second])
    return _finish(src, dst, weight, occ, cfg, "device")


def ip_pairs(events: pl.DataFrame, cfg: RelationConfig) -> pl.DataFrame:
    """Accounts seen on the same IP within ``max_gap`` (default one hour), in several hours.

    Time-aware: sharing within the same hour says far more than within the same month. Each
    shared (IP, hour) adds 1 / log2(1 + accounts on that IP in that hour), so a busy NAT hour is
    weak evidence; ``min_support`` asks for several distinct shared hours.
    """
    occ = (
        events.filter(pl.col("ip").is_not_null())
        .with_columns(hour_key().alias("hour"))
        .group_by("ip", "account", "hour")
        .agg(pl.col("t").min())
    )
    occ = _drop_crowded(occ, "ip", cfg.max_accounts)
    crowd = occ.group_by("ip", "hour").agg(pl.len().alias("crowd"))
    occ = occ.join(crowd, on=["ip", "hour"])
    gap = None if cfg.max_gap_s is None else int(cfg.max_gap_s * US)
    occ, first, second, entity = _windowed(occ, "ip", cfg.window_rows, gap)
    # each shared (IP, hour) weighs by the accounts on it: the earlier occurrence's
    weight = occ.select(1.0 / (1.0 + pl.col("crowd")).log(2)).to_series().to_numpy()[first]
    hour = occ.get_column("hour").to_numpy()[first]
    src, dst = _ends(occ, first, second)
    # one row per pair and shared IP-hour (an occurrence may pair with the next hour's)
    shared = pl.DataFrame(
        {
            "_pair": (src.astype(np.uint64) << np.uint64(32)) | dst.astype(np.uint64),
            "_ip_hour": (entity[first].astype(np.uint64) << np.uint64(32))
            | (hour - hour.min(initial=0)).astype(np.uint64),
            "_w": weight,
        }
    ).unique(["_pair", "_ip_hour"], maintain_order=True)
    pair = shared.get_column("_pair").to_numpy()
    return _finish(
        (pair >> np.uint64(32)).astype(np.uint32),
        (pair & np.uint64(0xFFFFFFFF)).astype(np.uint32),
        shared.get_column("_w").to_numpy(),
        occ,
        cfg,
        "ip",
    )


def _engaged(events: pl.DataFrame, engagement_types: tuple[str, ...]) -> pl.DataFrame:
    """`engagements` with each target's ``popularity`` (its engaging accounts): what the sync
    and dense relations pair."""
    occ = engagements(events, engagement_types)
    popularity = occ.group_by("target").agg(pl.len().alias("popularity"))
    return occ.join(popularity, on="target")


def _target_pairs(
    occ: pl.DataFrame, cfg: RelationConfig, gap: int | None, relation: str
) -> pl.DataFrame:
    """Pairs through shared targets, each adding 1 / log2(2 + the target's popularity)."""
    occ, first, second, _ = _windowed(occ, "target", cfg.window_rows, gap)
    weight = occ.select(1.0 / (2.0 + pl.col("popularity")).log(2)).to_series().to_numpy()[first]
    src, dst = _ends(occ, first, second)
    return _finish(src, dst, weight, occ, cfg, relation)


def sync_pairs(
    events: pl.DataFrame,
    cfg: RelationConfig,
    engagement_types: tuple[str, ...],
    *,
    engaged: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Accounts that engaged the same targets within ``max_gap`` of each other, repeatedly.

    Each shared target adds 1 / log2(2 + its engaging accounts): a viral post liked by thousands
    within the hour ties strangers together only faintly, and such chance pairs rarely recur on
    a second target, which ``min_support`` requires. ``engaged``: `_engaged` of the events,
    when the caller has it already.
    """
    occ = _engaged(events, engagement_types) if engaged is None else engaged
    occ = _drop_crowded(occ, "target", cfg.max_accounts)
    gap = None if cfg.max_gap_s is None else int(cfg.max_gap_s * US)
    return _target_pairs(occ, cfg, gap, "sync")


def dense_pairs(
    events: pl.DataFrame,
    cfg: RelationConfig,
    engagement_types: tuple[str, ...],
    *,
    engaged: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Accounts that keep engaging the same rarely-engaged targets, whenever they do it.

    The FRAUDAR-style relation: no time window, but only targets engaged by at most
    ``cfg.max_accounts`` accounts take part (popular targets say nothing about who is
    coordinated), each weighted 1 / log2(2 + its engaging accounts).
    """
    occ = _engaged(events, engagement_types) if engaged is None else engaged
    occ = _drop_crowded(occ, "target", cfg.max_accounts)
    return _target_pairs(occ, cfg, None, "dense")


def all_relations(events: pl.DataFrame, cfg: GraphConfig) -> dict[str, pl.DataFrame]:
    """Every enabled relation's pair table, keyed by relation name."""
    out: dict[str, pl.DataFrame] = {}
    if cfg.device.enabled:
        out["device"] = device_pairs(events, cfg.device)
    if cfg.ip.enabled:
        out["ip"] = ip_pairs(events, cfg.ip)
    engaged = None
    if cfg.sync.enabled or cfg.dense.enabled:
        engaged = _engaged(events, cfg.engagement_types)
    if cfg.sync.enabled:
        out["sync"] = sync_pairs(events, cfg.sync, cfg.engagement_types, engaged=engaged)
    if cfg.dense.enabled:
        out["dense"] = dense_pairs(events, cfg.dense, cfg.engagement_types, engaged=engaged)
    return out
