"""Dense-block evidence: how much more a community's members engage the same targets than
their own activity and the targets' popularity predict.

The account x target block of a community's members is measured against the configuration
(Chung-Lu) null of the whole engagement graph, as `graphguard.dense.significance` does for any
grouping: account a engages target t with probability d_a d_t / E, so the members engaging t
are about Poisson(lambda_t), lambda_t = d_t D / E (D: the members' summed degree). The
statistic is the members' log-weighted co-engagement, sum over targets of w_t k_t (k_t - 1) / 2
(k_t members engaged t, w_t = 1 / log(5 + d_t) as in FRAUDAR), without the community's single
strongest target; its null mean and variance have closed forms over three sums of the whole log
(`dense.significance.block_significance`). Fans of one popular creator, a viral post's crowd, a
trending burst: their targets are popular (d_t large), and so is what the null expects of them.

A target that an account authored (an event of a ``post_types`` type on it) counts as its
author: fans who like thirty posts of one creator have one target in common, the creator, which
the strongest-target rule then leaves out. A block needs several targets.

Per community (`BLOCK_COLUMNS`): the statistic, its null mean and variance, and for the words
the block (targets that at least two members and at least `BLOCK_TARGET_LIFT` times what the
null expects of the members engaged), its member engagements and what the null expects of them.
Per member: ``p_dense``, the share of its engaged targets that are in its community's block
(camouflage elsewhere dilutes the share, not the block).

The p-value, q-value and score are computed from this per-community table only
(`dense_scores`, called by `community.scoring.score_clusters`), so both engines share them; the
Spark engine computes the table itself (`spark.evidence`).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import gammainc

from graphguard.dense.significance import bh_qvalues, gamma_tail
from graphguard.graph.context import engagements, has_hardware
from graphguard.rundir import DENSE_BLOCK_COLUMNS, DENSE_COUNT_COLUMNS, DENSE_SCORE_COLUMNS

#: FRAUDAR's target weight 1 / log(OFFSET + degree) (`dense.bipartite.log_weights`)
OFFSET = 5.0
#: a target is in a community's block when at least two members engaged it and the Poisson
#: tail of that many under the null is at most this, Bonferroni over the community's targets
BLOCK_ALPHA = 0.01
#: the dense score's logistic rises by this per doubling of the block's lift (one half at
#: ``scoring.dense_lift``)
STEEPNESS = 6.0

#: columns the evidence stage adds to the clusters table (both engines; the run contract's)
BLOCK_COLUMNS = DENSE_BLOCK_COLUMNS
ROUNDED = ("dense_observed", "dense_expected", "dense_variance", "dense_block_expected")

_FLOAT = pl.Float64
_COUNT = pl.Int64
#: the integer columns of `BLOCK_COLUMNS`
COUNT_COLUMNS = DENSE_COUNT_COLUMNS


def poisson_tail(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """P(K >= k) for K ~ Poisson(lam): the regularized lower gamma function P(k, lam); 1 for
    k <= 0."""
    k = np.asarray(k, dtype=np.float64)
    lam = np.maximum(np.asarray(lam, dtype=np.float64), 1e-300)
    return np.where(k <= 0, 1.0, gammainc(np.maximum(k, 1e-300), lam))


def log_weight(degree: np.ndarray) -> np.ndarray:
    """FRAUDAR's target weight 1 / log(OFFSET + degree), with numpy's log (the Spark engine
    calls this same function, so both engines weigh to the bit)."""
    return 1.0 / np.log(OFFSET + np.asarray(degree, dtype=np.float64))


def block_members(k: np.ndarray, lam: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """Whether each (community, target) is in the community's block: at least two members,
    and a Poisson tail at most BLOCK_ALPHA / the community's touched targets."""
    k = np.asarray(k, dtype=np.float64)
    return (k >= 2) & (poisson_tail(k, lam) <= BLOCK_ALPHA / np.asarray(touched, np.float64))


def engagement_units(
    indexed: pl.DataFrame, engagement_types: tuple[str, ...], post_types: tuple[str, ...]
) -> pl.DataFrame:
    """The account x unit engagement edges, one per (account, unit): a unit is the author's
    account (``_author``, as a negative number -1 - account) for a target someone posted, the
    target's code otherwise. Columns account (UInt32), unit (Int64)."""
    engaged = engagements(indexed, engagement_types).select(
        "account", pl.col("target").to_physical().cast(pl.Int64).alias("_t")
    )
    authors = (
        indexed.filter(
            pl.col("event_type").is_in(list(post_types)) & pl.col("target").is_not_null()
        )
        .group_by(pl.col("target").to_physical().cast(pl.Int64).alias("_t"))
        .agg(pl.col("account").min().alias("_author"))
    )
    return (
        engaged.join(authors, on="_t", how="left")
        .select(
            "account",
            pl.when(pl.col("_author").is_not_null())
            .then(-1 - pl.col("_author").cast(pl.Int64))
            .otherwise(pl.col("_t"))
            .alias("unit"),
        )
        .unique()
    )


def block_evidence(
    indexed: pl.DataFrame,
    membership: np.ndarray,
    *,
    engagement_types: tuple[str, ...],
    post_types: tuple[str, ...],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(clusters, members)``: `BLOCK_COLUMNS` per community (column ``cluster``) and
    ``p_dense`` per member (column ``account``). Communities without engagement get zeros."""
    edges = engagement_units(indexed, engagement_types, post_types)
    n_edges = float(edges.height)
    d_unit = edges.group_by("unit").agg(pl.len().cast(_FLOAT).alias("dt"))
    d_unit = d_unit.with_columns(pl.Series("w", log_weight(d_unit.get_column("dt").to_numpy())))
    d_acc = edges.group_by("account").agg(pl.len().cast(_FLOAT).alias("da"))
    sums = d_unit.select(
        (pl.col("w") * pl.col("dt") ** 2).sum().alias("c2"),
        (pl.col("w") ** 2 * pl.col("dt") ** 3).sum().alias("v3"),
        (pl.col("w") ** 2 * pl.col("dt") ** 2).sum().alias("v2"),
    ).row(0)
    cluster = pl.Series("cluster", np.asarray(membership, dtype=np.int64))
    member_edges = (
        edges.with_columns(cluster.gather(edges.get_column("account")))
        .filter(pl.col("cluster") >= 0)
        .join(d_acc, on="account")
    )
    per_cluster = member_edges.group_by("account", "cluster").agg(pl.col("da").first())
    per_cluster = per_cluster.group_by("cluster").agg(
        pl.col("da").sum().alias("D"), (pl.col("da") ** 2).sum().alias("Q")
    )
    clusters, members = _block_tables(member_edges, d_unit, per_cluster, n_edges, sums)
    # every community has a row: those whose members engaged nothing have zeros
    every, _ = unmeasured(membership)
    clusters = (
        every.select("cluster")
        .join(clusters, on="cluster", how="left")
        .with_columns(pl.col(BLOCK_COLUMNS).fill_null(0))
    )
    return clusters, members


def _block_tables(
    member_edges: pl.DataFrame,
    d_unit: pl.DataFrame,
    per_cluster: pl.DataFrame,
    n_edges: float,
    sums: tuple[float, float, float],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    c2, v3, v2 = sums
    e = max(n_edges, 1.0)
    per_unit = (
        member_edges.group_by("cluster", "unit")
        .agg(pl.len().cast(_FLOAT).alias("k"))
        .join(d_unit, on="unit")
        .join(per_cluster, on="cluster")
        .with_columns(
            (pl.col("dt") * pl.col("D") / e).alias("lam"),
            # the block's null leaves the community out: the target's popularity among the
            # others, spread by the members' activity over the others' engagements
            ((pl.col("dt") - pl.col("k")) * pl.col("D") / (e - pl.col("D")).clip(1.0, None)).alias(
                "lam_out"
            ),
            (pl.col("dt") ** 2 * pl.col("Q") / e**2).alias("s"),
        )
        .with_columns(
            (pl.col("w") * pl.col("k") * (pl.col("k") - 1) / 2).alias("obs_t"),
            (pl.col("w") * (pl.col("lam") ** 2 - pl.col("s")) / 2).alias("mean_t"),
            (pl.col("w") ** 2 * (pl.col("lam") ** 3 + pl.col("lam") ** 2 / 2)).alias("var_t"),
            pl.len().over("cluster").alias("_touched"),
        )
        .with_columns((pl.col("obs_t") - pl.col("mean_t")).alias("excess_t"))
    )
    # a target is in the block when at least two members engaged it and that many is
    # improbable under the null: Poisson tail P(K >= k) at most BLOCK_ALPHA over the targets the
    # community touched (Bonferroni)
    in_block = block_members(
        per_unit.get_column("k").to_numpy(),
        per_unit.get_column("lam_out").to_numpy(),
        per_unit.get_column("_touched").to_numpy(),
    )
    per_unit = per_unit.with_columns(pl.Series("in_block", in_block))
    # the strongest target of each community, by excess (ties: the smaller unit)
    top = (
        per_unit.sort(["cluster", "excess_t", "unit"], descending=[False, True, False])
        .group_by("cluster", maintain_order=True)
        .first()
        .select(
            "cluster",
            pl.col("unit").alias("_top_unit"),
            pl.col("obs_t").alias("_drop_obs"),
            pl.col("mean_t").alias("_drop_mean"),
            pl.col("var_t").alias("_drop_var"),
        )
    )
    # the strongest target is left out of the block too (fans of one creator share one)
    per_unit = per_unit.join(
        top.select("cluster", pl.col("_top_unit").alias("unit"), pl.lit(True).alias("_top")),
        on=["cluster", "unit"],
        how="left",
    ).with_columns(pl.col("in_block") & pl.col("_top").is_null())
    totals = per_unit.group_by("cluster").agg(
        pl.col("obs_t").sum().alias("_obs"),
        pl.col("dt").filter(pl.col("in_block")).sum().alias("dense_block_reach"),
        pl.col("in_block").sum().cast(pl.Int64).alias("dense_block_targets"),
        pl.col("k").filter(pl.col("in_block")).sum().alias("dense_block_edges"),
        # what the null allows the block: its expectation, and at least one member a target
        pl.max_horizontal("lam_out", pl.lit(1.0))
        .filter(pl.col("in_block"))
        .sum()
        .alias("dense_block_expected"),
    )
    clusters = (
        per_cluster.join(totals, on="cluster", how="left")
        .join(top.drop("_top_unit"), on="cluster", how="left")
        .with_columns(pl.col(pl.Float64).fill_null(0.0))
        .select(
            "cluster",
            (pl.col("_obs") - pl.col("_drop_obs")).clip(0.0, None).alias("dense_observed"),
            ((pl.col("D") ** 2 - pl.col("Q")) * c2 / (2 * e**2) - pl.col("_drop_mean"))
            .clip(1e-12, None)
            .alias("dense_expected"),
            (
                pl.col("D") ** 3 * v3 / e**3
                + pl.col("D") ** 2 * v2 / (2 * e**2)
                - pl.col("_drop_var")
            )
            .clip(1e-12, None)
            .alias("dense_variance"),
            pl.col("dense_block_targets").fill_null(0),
            pl.col("dense_block_edges").fill_null(0.0).cast(pl.Int64),
            pl.col("dense_block_expected").fill_null(0.0),
            pl.col("dense_block_reach").fill_null(0.0).cast(pl.Int64),
        )
        # sums of many terms: rounded, so the engines' orders of addition do not show
        .with_columns(pl.col(ROUNDED).round(6))
        .sort("cluster")
    )
    members = (
        member_edges.join(per_unit.select("cluster", "unit", "in_block"), on=["cluster", "unit"])
        .group_by("account")
        .agg(pl.col("in_block").mean().alias("p_dense"))
    )
    return clusters, members


def dense_measured(indexed: pl.DataFrame, setting: str) -> bool:
    """Whether the evidence stage measures the dense blocks (``scoring.dense_evidence``): "on",
    or "auto" on a log where no event has a device or an IP."""
    return setting == "on" or (setting == "auto" and not has_hardware(indexed))


def dense_applies(clusters: pl.DataFrame, setting: str) -> bool:
    """Whether the dense score enters suspicion: the blocks were measured (`dense_measured`:
    their columns are there and not null) and ``scoring.dense_evidence`` is not "off"."""
    if setting == "off" or "dense_observed" not in clusters.columns or clusters.height == 0:
        return False
    return clusters.get_column("dense_observed").null_count() < clusters.height


def unmeasured(membership: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The tables of `block_evidence` where the blocks are not measured: null columns."""
    clusters = np.unique(np.asarray(membership, dtype=np.int64))
    table = pl.DataFrame({"cluster": clusters[clusters >= 0]}).with_columns(
        pl.lit(None, dtype=_COUNT if c in COUNT_COLUMNS else _FLOAT).alias(c) for c in BLOCK_COLUMNS
    )
    return table, pl.DataFrame(schema={"account": pl.UInt32, "p_dense": _FLOAT})


def dense_scores(
    clusters: pl.DataFrame, fdr: float, midpoint: float, applies: bool = True
) -> pl.DataFrame:
    """`DENSE_SCORE_COLUMNS` and ``dense_score`` from the `BLOCK_COLUMNS` of a clusters table:
    the ratio of co-engagement over the null's expectation, z, the upper tail of a gamma with
    the null's mean and variance (`dense.significance.gamma_tail`), Benjamini-Hochberg q over
    the communities, the block's lift (its member engagements over what the null allows
    them, `BLOCK_COLUMNS`), and the score: a logistic in log2(lift), one half at ``midpoint``,
    times the significance weight 1 / (1 + (q / fdr)^2); 0 where it does not ``applies``
    (`dense_applies`). A table without the columns (a caller's own evidence) scores 0."""
    if not set(BLOCK_COLUMNS) <= set(clusters.columns) or not applies:
        return clusters.with_columns(
            *[pl.lit(None, dtype=_FLOAT).alias(c) for c in DENSE_SCORE_COLUMNS],
            pl.lit(0.0).alias("dense_score"),
        )
    observed = clusters.get_column("dense_observed").to_numpy().astype(np.float64)
    mean = clusters.get_column("dense_expected").to_numpy().astype(np.float64)
    var = clusters.get_column("dense_variance").to_numpy().astype(np.float64)
    p = np.clip(gamma_tail(observed, mean, var), 0.0, 1.0) if observed.size else observed
    q = bh_qvalues(p)
    ratio = observed / np.maximum(mean, 1e-12)
    block = clusters.get_column("dense_block_edges").to_numpy().astype(np.float64)
    block_null = clusters.get_column("dense_block_expected").to_numpy().astype(np.float64)
    lift = block / np.maximum(block_null, 1e-12)
    effect = np.where(
        lift > 0,
        1.0 / (1.0 + np.exp(-STEEPNESS * (np.log2(np.maximum(lift, 1e-12)) - np.log2(midpoint)))),
        0.0,
    )
    return clusters.with_columns(
        pl.Series("dense_ratio", ratio),
        pl.Series("dense_lift", lift),
        pl.Series("dense_z", (observed - mean) / np.sqrt(np.maximum(var, 1e-12))),
        pl.Series("dense_p", p),
        pl.Series("dense_q", q),
        pl.Series("dense_score", effect / (1.0 + (q / fdr) ** 2)),
    )
