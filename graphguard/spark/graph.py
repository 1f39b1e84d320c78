"""The account index, account-entity edges and the four projections, as DataFrame code.

Each function is the twin of one in `graphguard.graph` and gives the same rows:

* `index_events`: account index = rank of the sorted account id (`graph.build.index_events`),
  computed without a single-partition sort (a range-partitioned sort plus per-partition
  offsets), so it scales with the number of accounts.
* `windowed_pairs`: inside each entity, occurrences ordered by (t, account) are paired with the
  next ``window_rows`` ones (``lead`` over ``partitionBy(entity).orderBy(t, account)``), within
  ``max_gap`` where the relation has one (`graph.projections.windowed_pairs`).
* the four relations with their ``max_accounts`` hub caps, ``min_support``, ``min_overlap`` and
  the same weights, rounded to 9 decimals (`graph.projections`), and the combined weight of
  `graph.build.build_account_graph` (computed with numpy's ``log1p``, as Polars does, in the
  same order, so it is the same number to the last bit).

Shuffles: each relation's occurrences are shuffled once by entity; the entity's size (the hub
cap, where occurrences are one per account), its rank and the leads are all windows over that
one ``partitionBy(entity).orderBy(t, account)``, so no size table is joined back.

Skew: an entity's window is one task, so an entity with very many occurrences (a carrier IP) is
split into buckets of ``spark.salt_above`` (at least ``window_rows``) consecutive occurrences
(by rank in (t, account) order); each bucket also takes the ``window_rows`` occurrences after
it, so every pair of the unsplit window is made exactly once; only these hubs' rows are shuffled
again, by (entity, bucket). (The rank itself is still one sort per entity: O(k log k), without
the window's W-fold rows.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from graphguard import schema
from graphguard.config import GraphConfig, RelationConfig
from graphguard.graph.context import HOUR_US, US
from graphguard.graph.projections import dense_capped
from graphguard.schema import RELATIONS

if TYPE_CHECKING:
    pass


def index_events(events: DataFrame) -> tuple[DataFrame, DataFrame, int]:
    """Replace account ids by their index: returns ``(indexed, account_ids, n_accounts)``.

    ``indexed``: account int, t long, event_type, device, ip, target (the local engine's
    columns); ``account_ids``: account int, account_id string.
    """
    ids = events.select(schema.ACCOUNT).distinct()
    n_parts = max(1, ids.rdd.getNumPartitions())
    ranged = ids.repartitionByRange(n_parts, schema.ACCOUNT).withColumn(
        "_part", F.spark_partition_id()
    )
    within = Window.partitionBy("_part").orderBy(schema.ACCOUNT)
    ranked = ranged.withColumn("_rank", F.row_number().over(within) - 1).persist()
    sizes = sorted(
        (r["_part"], r["n"]) for r in ranked.groupBy("_part").agg(F.count("*").alias("n")).collect()
    )
    spark = events.sparkSession
    offsets, total = [], 0
    for part, n in sizes:
        offsets.append((part, total))
        total += n
    offset_frame = spark.createDataFrame(offsets or [(0, 0)], "_part int, _offset long")
    account_ids = (
        ranked.join(F.broadcast(offset_frame), "_part")
        .select((F.col("_offset") + F.col("_rank")).cast("int").alias("account"), schema.ACCOUNT)
        .persist()
    )
    account_ids.count()
    ranked.unpersist()
    indexed = events.join(account_ids, schema.ACCOUNT).select(
        "account",
        "t",
        F.col(schema.EVENT_TYPE).alias("event_type"),
        F.col(schema.DEVICE).alias("device"),
        F.col(schema.IP).alias("ip"),
        F.col(schema.TARGET).alias("target"),
    )
    return indexed, account_ids, total


def _engagements(indexed: DataFrame, engagement_types: tuple[str, ...]) -> DataFrame:
    """First engagement of each account with each target (`graph.context.engagements`)."""
    return (
        indexed.filter(
            F.col("event_type").isin(list(engagement_types)) & F.col("target").isNotNull()
        )
        .groupBy("target", "account")
        .agg(F.min("t").alias("t"))
    )


def _drop_crowded(occ: DataFrame, key: str, max_accounts: int | None) -> DataFrame:
    if max_accounts is None:
        return occ
    crowd = occ.groupBy(key).agg(F.countDistinct("account").alias("_crowd"))
    keep = crowd.filter(F.col("_crowd") <= max_accounts).select(key)
    return occ.join(keep, key, "left_semi")


def _entity_order(key: str) -> WindowSpec:
    """The order occurrences are paired in (`windowed_pairs`); every window of the
    projections is over this partitioning, so the occurrences are shuffled once."""
    return Window.partitionBy(key).orderBy("t", "account")


def _entity_count(key: str) -> Column:
    """Occurrences of the row's entity (a window over `_entity_order`, so no extra sort)."""
    return F.count(F.lit(1)).over(
        _entity_order(key).rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )


def _cap_accounts(occ: DataFrame, key: str, count: str, max_accounts: int | None) -> DataFrame:
    """``count``: the entity's accounts, where occurrences are one per (key, account); without
    the entities of more than ``max_accounts`` (`_drop_crowded` without its shuffles)."""
    occ = occ.withColumn(count, _entity_count(key))
    return occ if max_accounts is None else occ.filter(F.col(count) <= max_accounts)


def windowed_pairs(
    occ: DataFrame,
    *,
    key: str,
    window_rows: int,
    max_gap_us: int | None = None,
    carry: tuple[str, ...] = (),
    salt_above: int = 100_000,
    pair_budget: int | None = None,
) -> DataFrame:
    """Pairs of each occurrence with the next ``window_rows`` of the same ``key`` (in (t,
    account) order), of different accounts, within ``max_gap_us``: columns src, dst (src <
    dst), entity (the key value), dt_us, and ``c``/``c_next`` for each carried column.
    ``pair_budget``: an entity of k occurrences pairs each with its next max(1, budget // k)
    only (`graph.projections._Pairing`).

    One shuffle (by ``key``): the entity's size, its rank and the leads are window functions
    over the same ``partitionBy(key).orderBy(t, account)``; entities of at most
    ``salt_above`` occurrences are paired there, the larger ones in their salted buckets.
    """
    # a bucket holds at least window_rows occurrences, so every partner is in it or the next
    salt_above = max(salt_above, window_rows)
    fields = ["account", "t", *carry]
    order = _entity_order(key)
    sized = occ.select(key, *fields, _entity_count(key).alias("_k"))
    plain = _lead_pairs(
        sized.filter(F.col("_k") <= salt_above),
        key,
        order,
        fields,
        window_rows,
        pair_budget=pair_budget,
    )
    # hubs: buckets of salt_above consecutive occurrences (by rank); each bucket also holds
    # the window_rows after it (as partners only), so a hub's window is many tasks and no pair
    # is lost or doubled
    ranked = sized.filter(F.col("_k") > salt_above).withColumn(
        "_pos", F.row_number().over(order) - 1
    )
    bucket = F.floor(F.col("_pos") / salt_above)
    home = ranked.withColumn("_bucket", bucket).withColumn("_own", F.lit(True))
    spill = (
        ranked.filter((F.col("_pos") % salt_above < window_rows) & (F.col("_pos") >= salt_above))
        .withColumn("_bucket", bucket - 1)
        .withColumn("_own", F.lit(False))
    )
    hubs = _lead_pairs(
        home.unionByName(spill),
        key,
        Window.partitionBy(key, "_bucket").orderBy("_pos"),
        fields,
        window_rows,
        own="_own",
        pair_budget=pair_budget,
    )
    pairs = plain.unionByName(hubs)
    pairs = pairs.filter(F.col("account") != F.col("_p.account"))
    dt = F.col("_p.t") - F.col("t")
    if max_gap_us is not None:
        pairs = pairs.filter(dt <= max_gap_us)
    return pairs.select(
        F.least("account", "_p.account").alias("src"),
        F.greatest("account", "_p.account").alias("dst"),
        F.col(key).alias("entity"),
        dt.alias("dt_us"),
        *[F.col(c).alias(c) for c in carry],
        *[F.col(f"_p.{c}").alias(f"{c}_next") for c in carry],
    )


def _lead_pairs(
    rows: DataFrame,
    key: str,
    window: WindowSpec,
    fields: list[str],
    window_rows: int,
    own: str | None = None,
    pair_budget: int | None = None,
) -> DataFrame:
    """Each (own) row with each of its next ``window_rows`` rows in ``window`` as ``_p``;
    with ``pair_budget``, only its next max(1, budget // k) (k: the entity's ``_k``)."""
    leads = [
        F.struct(*[F.lead(c, lag).over(window).alias(c) for c in fields]).alias(f"_l{lag}")
        for lag in range(1, window_rows + 1)
    ]
    wide = rows.select(key, "_k", *fields, *leads, *([own] if own else []))
    if own:
        wide = wide.filter(F.col(own))
    partners = F.array(*[F.col(f"_l{lag}") for lag in range(1, window_rows + 1)])
    pairs = wide.select(key, "_k", *fields, F.posexplode(partners).alias("_lag", "_p")).filter(
        F.col("_p.account").isNotNull()
    )
    if pair_budget is not None:
        most = F.greatest(F.lit(1), F.floor(F.lit(pair_budget) / F.col("_k")))
        pairs = pairs.filter(F.col("_lag") + 1 <= most)
    return pairs.drop("_lag")


def _finish(
    pairs: DataFrame, occ: DataFrame, weight: Column, cfg: RelationConfig, relation: str
) -> DataFrame:
    support = f"{relation}_support"
    agg = (
        pairs.groupBy("src", "dst")
        .agg(F.count("*").cast("int").alias(support), weight.alias(f"{relation}_weight"))
        .filter(F.col(support) >= cfg.min_support)
        .withColumn(f"{relation}_weight", F.round(f"{relation}_weight", 9))
    )
    if cfg.min_overlap > 0:
        own = occ.groupBy("account").agg(F.count("*").alias("_own"))
        agg = (
            agg.join(own.select(F.col("account").alias("src"), F.col("_own").alias("_os")), "src")
            .join(own.select(F.col("account").alias("dst"), F.col("_own").alias("_od")), "dst")
            .filter(F.col(support) >= cfg.min_overlap * F.least("_os", "_od"))
            .drop("_os", "_od")
        )
    return agg


def _log2(column: Column) -> Column:
    return F.log(2.0, column)


def device_pairs(indexed: DataFrame, cfg: RelationConfig, salt_above: int) -> DataFrame:
    per_account = indexed.groupBy("account").agg(F.count("*").alias("_n_account"))
    occ = (
        indexed.filter(F.col("device").isNotNull())
        .groupBy("device", "account")
        .agg(F.min("t").alias("t"), F.count("*").alias("_n"))
        .join(per_account, "account")
        .withColumn("share", F.col("_n") / F.col("_n_account"))
    )
    # one occurrence per (device, account): the window's count is the device's accounts
    occ = _cap_accounts(occ, "device", "_crowd", cfg.max_accounts).select(
        "device", "account", "t", "share"
    )
    pairs = windowed_pairs(
        occ, key="device", window_rows=cfg.window_rows, carry=("share",), salt_above=salt_above
    )
    weight = F.sum(F.least("share", "share_next"))
    return _finish(pairs, occ, weight, cfg, "device")


def ip_pairs(indexed: DataFrame, cfg: RelationConfig, salt_above: int) -> DataFrame:
    occ = (
        indexed.filter(F.col("ip").isNotNull())
        .withColumn("hour", F.floor(F.col("t") / HOUR_US).cast("long"))
        .groupBy("ip", "account", "hour")
        .agg(F.min("t").alias("t"))
    )
    # partitioned by IP once: the crowd of each (ip, hour) and the pairs' windows are windows
    # inside it
    occ = _drop_crowded(occ, "ip", cfg.max_accounts).repartition("ip")
    occ = occ.withColumn("crowd", F.count(F.lit(1)).over(Window.partitionBy("ip", "hour")))
    gap = None if cfg.max_gap_s is None else int(cfg.max_gap_s * US)
    pairs = windowed_pairs(
        occ,
        key="ip",
        window_rows=cfg.window_rows,
        max_gap_us=gap,
        carry=("hour", "crowd"),
        salt_above=salt_above,
    )
    # one shuffle for both: (src, dst) partitions suit the distinct and the pair's sum
    pairs = pairs.repartition("src", "dst").dropDuplicates(["src", "dst", "entity", "hour"])
    weight = F.sum(1.0 / _log2(1.0 + F.col("crowd")))
    return _finish(pairs, occ, weight, cfg, "ip")


def _target_pairs(
    indexed: DataFrame,
    cfg: RelationConfig,
    engagement_types: tuple[str, ...],
    relation: str,
    gap_s: float | None,
    salt_above: int,
) -> DataFrame:
    # one engagement per (target, account): the popularity is the target's occurrences
    occ = _cap_accounts(
        _engagements(indexed, engagement_types), "target", "popularity", cfg.max_accounts
    )
    gap = None if gap_s is None else int(gap_s * US)
    pairs = windowed_pairs(
        occ,
        key="target",
        window_rows=cfg.window_rows,
        max_gap_us=gap,
        carry=("popularity",),
        salt_above=salt_above,
        pair_budget=cfg.pair_budget,
    )
    weight = F.sum(1.0 / _log2(2.0 + F.col("popularity")))
    return _finish(pairs, occ, weight, cfg, relation)


def all_relations(indexed: DataFrame, cfg: GraphConfig, salt_above: int) -> dict[str, DataFrame]:
    """Every enabled relation's pair table (`graph.projections.all_relations`)."""
    out: dict[str, DataFrame] = {}
    if cfg.device.enabled:
        out["device"] = device_pairs(indexed, cfg.device, salt_above)
    if cfg.ip.enabled:
        out["ip"] = ip_pairs(indexed, cfg.ip, salt_above)
    if cfg.sync.enabled:
        out["sync"] = _target_pairs(
            indexed, cfg.sync, cfg.engagement_types, "sync", cfg.sync.max_gap_s, salt_above
        )
    if cfg.dense.enabled:
        dense = cfg.dense
        hardware = F.col("device").isNotNull() | F.col("ip").isNotNull()
        if not dense_capped(cfg, lambda: bool(indexed.filter(hardware).limit(1).count())):
            dense = replace(dense, max_accounts=None, min_support=cfg.dense_uncapped_support)
        out["dense"] = _target_pairs(
            indexed, dense, cfg.engagement_types, "dense", None, salt_above
        )
    return out


def _combined_weight(cfg: GraphConfig):
    """The combined weight, sum(relation weight * log1p(evidence)) in RELATIONS order, with
    numpy's log1p (the function Polars' log1p computes), so both engines agree to the bit."""
    factors = [getattr(cfg, r).weight for r in RELATIONS]

    @pandas_udf("double")
    def combined(*columns: pd.Series) -> pd.Series:
        total = None
        for factor, column in zip(factors, columns, strict=True):
            term = factor * np.log1p(column.to_numpy(dtype=np.float64))
            total = term if total is None else total + term
        return pd.Series(total)

    return combined


def account_graph(indexed: DataFrame, cfg: GraphConfig, salt_above: int = 100_000) -> DataFrame:
    """The combined account graph (`graph.build.build_account_graph`'s ``edges``): src, dst,
    ``{relation}_weight``/``_support`` for every relation (0 where it does not link the pair),
    weight; only pairs whose weight is above ``graph.min_edge_weight``."""
    tables = all_relations(indexed, cfg, salt_above)
    edges: DataFrame | None = None
    for name in RELATIONS:
        if name not in tables:
            continue
        edges = tables[name] if edges is None else edges.join(tables[name], ["src", "dst"], "full")
    if edges is None:
        spark = indexed.sparkSession
        edges = spark.createDataFrame([], "src int, dst int")
    columns = []
    for name in RELATIONS:
        # support then weight: the local graph's column order
        for stat, dtype in (("support", "int"), ("weight", "double")):
            col = f"{name}_{stat}"
            if col in edges.columns:
                columns.append(F.coalesce(F.col(col), F.lit(0)).cast(dtype).alias(col))
            else:
                columns.append(F.lit(0).cast(dtype).alias(col))
    edges = edges.select(F.col("src").cast("int"), F.col("dst").cast("int"), *columns)
    weight = _combined_weight(cfg)(*[F.col(f"{r}_weight") for r in RELATIONS])
    return edges.withColumn("weight", weight).filter(
        F.col("weight") > max(cfg.min_edge_weight, 0.0)
    )
