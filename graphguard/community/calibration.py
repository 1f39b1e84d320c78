"""Evidence measured against the log itself: how unusual each community is for this platform.

Each evidence family's statistic (behaviour: the larger of the synchronized engagement share and
the lockstep member share; infrastructure: shared hardware times exclusivity, burst or synchrony;
bot: shared or single-use devices) is compared with what the log's own communities of the same
size and activity show. Communities are put in strata by log2 of their size and log2 of their
events per member; in each stratum the null is a robust location and scale (median, and the MAD
scaled to a standard deviation) of the family's statistic on the arcsine-square-root scale
(where a share's binomial spread does not depend on the share, and the log's skewed shares,
most near 0, become near-symmetric), so the few coordinated communities of a stratum do not
move it. Each Leiden community before the ``community.max_cluster_size`` split (the
`PARENT` column, `community.leiden.pre_split_communities`) is one vote: its pieces in a
stratum share a weight of one in the median and the MAD, and count as one community. A ring
of 300 cut into twelve pieces of 25 would otherwise fill the (size 16-31, its activity)
stratum, make its median, and read as ordinary (seeds 101, 103, 110: q 0.5-0.75 for the
pieces of proxy rings and paid boosts). A stratum with fewer than `MIN_STRATUM` such
communities borrows the size stratum, then the whole log. The null is that of the communities
it does not single out (`NULL_ROUNDS`): a first estimate, without every community whose q is
at most ``fdr`` against it or against the whole log's null, then again without those its
stratum's own null singles out, until that set is stable (where distinct campaigns outnumber
the organic communities of their stratum, as on the 10M-event world, no median of that
stratum alone is organic). A stratum whose median is above its
size stratum's takes the size stratum's median and MAD (where distinct campaigns of one size
and activity outnumber the organic communities of that activity, as on the 10M-event world,
the fine median is theirs). The scale is floored by half the
binomial spread over the community's members (`BINOMIAL_FLOOR`: a share among 3 members is
weaker evidence than among 300) and at `MIN_SCALE`. A community's family z-score gives a
one-sided normal p-value, Benjamini-Hochberg over the communities its q-value
(`graphguard.dense.significance.bh_qvalues`).

The family score a community carries is then its logistic effect size (`scoring`) times a
significance weight ``1 / (1 + (q / fdr)^2)``: one half at q = fdr (``scoring.fdr``), close to 1
well below it, close to 0 above it. Fans of one popular creator or a viral crowd sync a little
on their few targets; a stratum of such communities sets a high median, and a community has to
stand out against it.

Everything here reads only the per-community table, so both engines (the Spark engine collects
that table and calls the same `score_clusters`) give the same figures. `null_fpr` and
`threshold_for_fpr` turn the q-values into an operating point without labels.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import ndtr

from graphguard.dense.significance import bh_qvalues
from graphguard.rundir import CALIBRATED_FAMILIES

#: the evidence families calibrated against the log, in the order the columns come
FAMILIES: tuple[str, ...] = CALIBRATED_FAMILIES
#: fewest communities a stratum needs to be its own null
MIN_STRATUM = 20
#: smallest null scale, on the arcsine-square-root scale of a share (below it, differences
#: are rounding, not evidence)
MIN_SCALE = 0.05
#: the null scale of a community of n members is at least this over sqrt(n): half a binomial
#: spread (members of one community are not independent draws, but n = 3 is not n = 300)
BINOMIAL_FLOOR = 0.25
#: the column of the community table naming each community's Leiden community before the
#: ``community.max_cluster_size`` split (`community.leiden`); without it each is its own
PARENT = "pre_split_community"
#: an account takes part fully in its community's coordination when its risk is at least this
#: close (relatively) to the community's suspicion; `null_fpr` counts any other flagged account
#: a false positive
FULL_PART_TOLERANCE = 0.01
#: most rounds of re-estimating the null without the communities it singles out (`calibrate`)
NULL_ROUNDS = 10
#: MAD -> standard deviation of a normal
_MAD_SD = 1.4826


def _asin_sqrt(share: np.ndarray) -> np.ndarray:
    return np.arcsin(np.sqrt(np.clip(share, 0.0, 1.0)))


def family_statistics() -> dict[str, pl.Expr]:
    """The statistic of each family on the community evidence table (shares in [0, 1])."""
    return {
        "behaviour": pl.max_horizontal("sync_engagement_share", "lockstep_member_share"),
        "infrastructure": pl.max_horizontal("shared_device_event_share", "shared_ip_event_share")
        * pl.max_horizontal("target_exclusivity", "creation_burst_share", "sync_engagement_share"),
        "bot": pl.max_horizontal("shared_device_event_share", "single_use_device_event_share"),
    }


def _weighted_median(group: np.ndarray, value: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted median of ``value`` per ``group`` (0..g-1): the mean of the smallest value whose
    cumulative weight reaches half the group's weight and the smallest that passes it (with
    unit weights exactly the median: the middle value, or the mean of the middle two)."""
    n_groups = int(group.max()) + 1 if group.size else 0
    order = np.lexsort((value, group))
    g, v, w = group[order], value[order], weight[order]
    cum = np.cumsum(w)
    total = np.bincount(g, w, n_groups)
    before = np.concatenate([[0.0], np.cumsum(total)])[g]  # weight of the earlier groups
    within = cum - before
    half = total[g] / 2.0
    # first index of each group whose running weight reaches (lo) or passes (hi) the half
    lo = np.full(n_groups, -1, dtype=np.int64)
    hi = np.full(n_groups, -1, dtype=np.int64)
    idx = np.arange(g.size)
    reach = within >= half - 1e-12 * total[g]
    passes = within > half + 1e-12 * total[g]
    lo_idx, hi_idx = idx[reach], idx[passes]
    lo[g[lo_idx][::-1]] = lo_idx[::-1]
    hi[g[hi_idx][::-1]] = hi_idx[::-1]
    hi = np.where(hi < 0, lo, hi)
    return (v[lo] + v[hi]) / 2.0


def _robust_null(frame: pl.DataFrame, stat: str, keys: list[str]) -> pl.DataFrame:
    """Per stratum (``keys``; none: the whole log): n, median and MAD-scale of ``stat``, each
    Leiden community before the ``max_cluster_size`` split (``_parent``) one vote: its pieces
    in the stratum share a weight of one, so ``_n`` is the number of such communities and a
    ring cut into ten pieces does not make a stratum's median its own."""
    if frame.height == 0:
        empty = {"_n": [0.0], "_med": [0.0], "_mad": [0.0]}
        return (
            pl.DataFrame(empty)
            if not keys
            else frame.select(keys).with_columns(
                pl.lit(0.0).alias("_n"), pl.lit(0.0).alias("_med"), pl.lit(0.0).alias("_mad")
            )
        )
    by = keys or [pl.lit(0).alias("_all")]
    table = frame.select(*by, "_parent", pl.col(stat).alias("_x")).with_columns(
        pl.struct(keys or ["_all"]).rank("dense").cast(pl.Int64).sub(1).alias("_g")
    )
    table = table.with_columns((1.0 / pl.len().over("_g", "_parent")).alias("_w"))
    g = table.get_column("_g").to_numpy()
    x = table.get_column("_x").to_numpy().astype(np.float64)
    w = table.get_column("_w").to_numpy()
    med = _weighted_median(g, x, w)
    mad = _weighted_median(g, np.abs(x - med[g]), w)
    n = np.bincount(g, w, med.shape[0])
    strata = table.select(*(keys or ["_all"]), "_g").unique("_g").sort("_g")
    out = strata.with_columns(
        pl.Series("_n", np.rint(n)), pl.Series("_med", med), pl.Series("_mad", mad)
    ).drop("_g")
    return out.drop("_all") if not keys else out


def _null_z(
    frame: pl.DataFrame, name: str, keep: np.ndarray, x: np.ndarray, size: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each community's null centre (a share) and z-score for family ``name``, the strata's
    median and MAD estimated over the communities of ``keep`` only, and its z-score against
    the whole log's null (the same estimate over every stratum)."""
    column = f"_t{name}"
    kept = frame.filter(pl.Series(keep))
    fine = _robust_null(kept, column, ["_size_bin", "_act_bin"]).rename(
        {"_n": "_n1", "_med": "_med1", "_mad": "_mad1"}
    )
    coarse = _robust_null(kept, column, ["_size_bin"]).rename(
        {"_n": "_n2", "_med": "_med2", "_mad": "_mad2"}
    )
    whole = _robust_null(kept, column, []).row(0, named=True)
    nulls = (
        frame.select("_size_bin", "_act_bin")
        .join(fine, on=["_size_bin", "_act_bin"], how="left", maintain_order="left")
        .join(coarse, on="_size_bin", how="left", maintain_order="left")
        .fill_null(0.0)
    )
    n1 = nulls.get_column("_n1").to_numpy()
    n2 = nulls.get_column("_n2").to_numpy()
    use_fine = n1 >= MIN_STRATUM
    use_coarse = ~use_fine & (n2 >= MIN_STRATUM)
    med = np.where(
        use_fine,
        nulls.get_column("_med1").to_numpy(),
        np.where(use_coarse, nulls.get_column("_med2").to_numpy(), whole["_med"]),
    ).astype(np.float64)
    mad = np.where(
        use_fine,
        nulls.get_column("_mad1").to_numpy(),
        np.where(use_coarse, nulls.get_column("_mad2").to_numpy(), whole["_mad"]),
    ).astype(np.float64)
    # a stratum louder than its size stratum (distinct campaigns of one size and activity
    # outnumbering the organic communities there) is judged by the size stratum, median and
    # MAD, whichever is quieter
    med2 = nulls.get_column("_med2").to_numpy()
    quieter = (n2 >= MIN_STRATUM) & (med2 < med)
    med = np.where(quieter, med2, med)
    mad = np.where(quieter, nulls.get_column("_mad2").to_numpy(), mad)
    centre = np.sin(np.clip(np.nan_to_num(med), 0.0, np.pi / 2)) ** 2
    # on the arcsine-square-root scale a share's binomial spread is 1 / (2 sqrt(n))
    # whatever the share, and the log's skewed shares (most near 0) become near-symmetric
    scale = np.maximum.reduce(
        [
            _MAD_SD * np.nan_to_num(mad),
            BINOMIAL_FLOOR / np.sqrt(np.maximum(size, 1.0)),
            np.full_like(x, MIN_SCALE),
        ]
    )
    z = (_asin_sqrt(x) - _asin_sqrt(centre)) / scale
    floor = np.maximum(BINOMIAL_FLOOR / np.sqrt(np.maximum(size, 1.0)), MIN_SCALE)
    z_whole = (_asin_sqrt(x) - whole["_med"]) / np.maximum(_MAD_SD * whole["_mad"], floor)
    return centre, z, z_whole


def calibrate(clusters: pl.DataFrame, fdr: float) -> pl.DataFrame:
    """Add, per family, ``<family>_stat`` (the statistic), ``<family>_null`` (the stratum's
    median statistic), ``<family>_z``, ``<family>_p``, ``<family>_q`` and ``<family>_weight``
    (the significance weight), and ``evidence_q`` (the smaller of the behaviour and
    infrastructure q-values).

    Deterministic: medians of a table, no draws. An empty table gains the columns."""
    stats = family_statistics()
    frame = clusters.with_columns(
        (pl.col("size").cast(pl.Float64).log(2)).floor().cast(pl.Int64).alias("_size_bin"),
        (pl.col("n_events").cast(pl.Float64) / pl.col("size").cast(pl.Float64))
        .log(2)
        .floor()
        .cast(pl.Int64)
        .alias("_act_bin"),
        *[expr.fill_null(0.0).fill_nan(0.0).alias(f"_{name}") for name, expr in stats.items()],
        (
            pl.col(PARENT) if PARENT in clusters.columns else pl.int_range(pl.len(), dtype=pl.Int64)
        ).alias("_parent"),
    )
    frame = frame.with_columns(
        [pl.col(f"_{name}").clip(0.0, 1.0).sqrt().arcsin().alias(f"_t{name}") for name in stats]
    )
    size = frame.get_column("size").to_numpy().astype(np.float64)
    out = []
    for name in FAMILIES:
        x = frame.get_column(f"_{name}").to_numpy().astype(np.float64)
        # the null of the communities the null does not single out. Where campaigns are a
        # large share of a stratum (the 10M-event world: 7% of the accounts, 80% of the
        # (16-31 members, 16-31 events each) stratum, a third of its size stratum) its median
        # and MAD are theirs, and no estimator of that stratum alone recovers the organic one.
        # So the first round leaves out every community whose q is at most fdr against its
        # stratum's null or against the whole log's (where campaigns are a smaller share);
        # each later round estimates the strata without the communities the previous round's
        # null singled out in their own stratum, so an organic community that only stood out
        # against the quieter whole log comes back, until the set is stable (`NULL_ROUNDS`).
        keep = np.ones(frame.height, dtype=bool)
        for round_ in range(NULL_ROUNDS):
            centre, z, z_whole = _null_z(frame, name, keep, x, size)
            p = np.clip(1.0 - ndtr(z), 0.0, 1.0)
            q = bh_qvalues(p)
            outlier = q <= fdr
            if round_ == 0:
                outlier |= bh_qvalues(np.clip(1.0 - ndtr(z_whole), 0.0, 1.0)) <= fdr
            if np.array_equal(~outlier, keep):
                break
            keep = ~outlier
        weight = 1.0 / (1.0 + (q / fdr) ** 2)
        out += [
            pl.Series(f"{name}_stat", x),
            pl.Series(f"{name}_null", centre),
            pl.Series(f"{name}_z", z),
            pl.Series(f"{name}_p", p),
            pl.Series(f"{name}_q", q),
            pl.Series(f"{name}_weight", weight),
        ]
    calibrated = clusters.with_columns(out)
    return calibrated.with_columns(
        pl.min_horizontal("behaviour_q", "infrastructure_q").alias("evidence_q")
    )


def null_fpr(
    accounts: pl.DataFrame,
    clusters: pl.DataFrame,
    thresholds,
    *,
    q_gate: float | None = None,
    fdr: float | None = None,
) -> np.ndarray:
    """Expected population false-positive rate of each risk threshold, without labels.

    An account at or above a threshold is counted a false positive with probability equal to
    its community's ``evidence_q`` (the BH q-value, read as the chance the community is
    ordinary); the negatives are the accounts less the expected true positives. ``accounts``
    needs ``cluster_id`` and ``risk``; ``clusters`` needs ``cluster`` and ``evidence_q``.
    Accounts in no community count as negatives (their risk is 0 unless a model gave them one;
    then their q is 1).

    ``fdr`` (``scoring.fdr``; the operating point passes it): only an account the null singles
    out counts by its q: its community's ``evidence_q`` at most ``fdr``, and the account a full
    participant (its risk within `FULL_PART_TOLERANCE` of its community's ``suspicion``, which
    ``clusters`` then needs; `score_accounts` scales suspicion by participation). Every other
    flagged account counts a whole false positive. Read as a chance, the q undercounts: a
    community at its stratum's median has p = 0.5 and a q near 0.5, and a family sharing a
    kiosk, or an organic account caught in a pod's community by a few likes, counted half or
    less (seeds 101-110 at a 0.5% target: 0.61% measured where 0.33% was expected).

    ``q_gate``: flagging also needs the community's ``evidence_q`` at most this (`gated`);
    an account above it is never flagged, whatever its risk."""
    extra = ["suspicion"] if fdr is not None and "suspicion" in clusters.columns else []
    table = accounts.select("cluster_id", "risk").join(
        clusters.select(pl.col("cluster").cast(pl.Int64).alias("cluster_id"), "evidence_q", *extra),
        on="cluster_id",
        how="left",
    )
    risk = table.get_column("risk").to_numpy().astype(np.float64)
    q = table.get_column("evidence_q").fill_null(1.0).to_numpy().astype(np.float64)
    if fdr is not None:
        q = np.where(q <= fdr, q, 1.0)
        if extra:
            suspicion = table.get_column("suspicion").fill_null(0.0).to_numpy()
            # a full participant's risk is its community's suspicion (`score_accounts`)
            full = risk >= (1.0 - FULL_PART_TOLERANCE) * suspicion
            q = np.where(full & (suspicion > 0), q, 1.0)
    if q_gate is not None:
        risk = np.where(gated(q, q_gate), risk, -np.inf)
    order = np.argsort(-risk, kind="stable")
    risk_sorted, q_sorted = risk[order], q[order]
    cum_fp = np.concatenate([[0.0], np.cumsum(q_sorted)])
    thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    # accounts with risk >= thr: the first k of the descending order
    k = np.searchsorted(-risk_sorted, -thresholds, side="right")
    fp = cum_fp[k]
    negatives = np.maximum(risk.size - (k - fp), 1.0)
    return fp / negatives


def gated(evidence_q: np.ndarray, q_gate: float) -> np.ndarray:
    """Whether each community q-value passes the gate of ``scoring.q_gate`` (at most
    ``q_gate``; a missing q, an account in no community, never does)."""
    q = np.asarray(evidence_q, dtype=np.float64)
    return np.nan_to_num(q, nan=np.inf) <= q_gate


def threshold_for_fpr(
    accounts: pl.DataFrame,
    clusters: pl.DataFrame,
    target_fpr: float,
    *,
    fdr: float | None = None,
) -> float:
    """The smallest risk threshold (among the accounts' own risks) whose `null_fpr` is at
    most ``target_fpr``; 1.0 when none is (flag nothing rather than break the promise)."""
    risk = np.unique(accounts.get_column("risk").to_numpy().astype(np.float64))
    candidates = risk[risk > 0]
    if candidates.size == 0:
        return 1.0
    fpr = null_fpr(accounts, clusters, candidates, fdr=fdr)
    ok = candidates[fpr <= target_fpr]
    return float(ok.min()) if ok.size else 1.0
