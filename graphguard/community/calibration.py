"""Evidence measured against the log itself: how unusual each community is for this platform.

Each evidence family's statistic (behaviour: the larger of the synchronized engagement share and
the lockstep member share; infrastructure: shared hardware times exclusivity, burst or synchrony;
bot: shared or single-use devices) is compared with what the log's own communities of the same
size and activity show. Communities are put in strata by log2 of their size and log2 of their
events per member; in each stratum the null is a robust location and scale (median, and the MAD
scaled to a standard deviation) of the family's statistic on the arcsine-square-root scale
(where a share's binomial spread does not depend on the share, and the log's skewed shares,
most near 0, become near-symmetric), so the few coordinated communities of a stratum do not
move it. A stratum with fewer than `MIN_STRATUM` communities borrows the size stratum, then the
whole log. The scale is floored by half the binomial spread over the community's members
(`BINOMIAL_FLOOR`: a share among 3 members is weaker evidence than among 300) and at
`MIN_SCALE`. A community's family z-score gives a one-sided normal p-value, Benjamini-Hochberg
over the communities its q-value (`graphguard.dense.significance.bh_qvalues`).

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


def _robust_null(frame: pl.DataFrame, stat: str, keys: list[str]) -> pl.DataFrame:
    """Per stratum (``keys``; none: the whole log): n, median and MAD-scale of ``stat``."""
    if keys:
        med = frame.group_by(keys).agg(pl.len().alias("_n"), pl.col(stat).median().alias("_med"))
        dev = frame.join(med, on=keys).with_columns(
            (pl.col(stat) - pl.col("_med")).abs().alias("_d")
        )
        mad = dev.group_by(keys).agg(pl.col("_d").median().alias("_mad"))
        return med.join(mad, on=keys)
    values = frame.get_column(stat).to_numpy()
    centre = float(np.median(values)) if values.size else 0.0
    spread = float(np.median(np.abs(values - centre))) if values.size else 0.0
    return pl.DataFrame({"_n": [values.size], "_med": [centre], "_mad": [spread]})


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
    )
    frame = frame.with_columns(
        [pl.col(f"_{name}").clip(0.0, 1.0).sqrt().arcsin().alias(f"_t{name}") for name in stats]
    )
    out = []
    for name in FAMILIES:
        stat = f"_{name}"
        fine = _robust_null(frame, f"_t{name}", ["_size_bin", "_act_bin"]).rename(
            {"_n": "_n1", "_med": "_med1", "_mad": "_mad1"}
        )
        coarse = _robust_null(frame, f"_t{name}", ["_size_bin"]).rename(
            {"_n": "_n2", "_med": "_med2", "_mad": "_mad2"}
        )
        whole = _robust_null(frame, f"_t{name}", []).row(0, named=True)
        nulls = (
            frame.select("_size_bin", "_act_bin")
            .join(fine, on=["_size_bin", "_act_bin"], how="left", maintain_order="left")
            .join(coarse, on="_size_bin", how="left", maintain_order="left")
        )
        use_fine = nulls.get_column("_n1").to_numpy() >= MIN_STRATUM
        use_coarse = ~use_fine & (nulls.get_column("_n2").to_numpy() >= MIN_STRATUM)
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
        x = frame.get_column(stat).to_numpy().astype(np.float64)
        size = frame.get_column("size").to_numpy().astype(np.float64)
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
        p = np.clip(1.0 - ndtr(z), 0.0, 1.0)
        q = bh_qvalues(p)
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
    accounts: pl.DataFrame, clusters: pl.DataFrame, thresholds, *, q_gate: float | None = None
) -> np.ndarray:
    """Expected population false-positive rate of each risk threshold, without labels.

    An account at or above a threshold is counted a false positive with probability equal to
    its community's ``evidence_q`` (the BH q-value, read as the chance the community is
    ordinary: an upper bound, so the estimate is conservative); the negatives are the accounts
    less the expected true positives. ``accounts`` needs ``cluster_id`` and ``risk``;
    ``clusters`` needs ``cluster`` and ``evidence_q``. Accounts in no community count as
    negatives (their risk is 0 unless a model gave them one; then their q is 1).

    ``q_gate``: flagging also needs the community's ``evidence_q`` at most this (`gated`);
    an account above it is never flagged, whatever its risk."""
    table = accounts.select("cluster_id", "risk").join(
        clusters.select(pl.col("cluster").cast(pl.Int64).alias("cluster_id"), "evidence_q"),
        on="cluster_id",
        how="left",
    )
    risk = table.get_column("risk").to_numpy().astype(np.float64)
    q = table.get_column("evidence_q").fill_null(1.0).to_numpy().astype(np.float64)
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


def threshold_for_fpr(accounts: pl.DataFrame, clusters: pl.DataFrame, target_fpr: float) -> float:
    """The smallest risk threshold (among the accounts' own risks) whose `null_fpr` is at
    most ``target_fpr``; 1.0 when none is (flag nothing rather than break the promise)."""
    risk = np.unique(accounts.get_column("risk").to_numpy().astype(np.float64))
    candidates = risk[risk > 0]
    if candidates.size == 0:
        return 1.0
    fpr = null_fpr(accounts, clusters, candidates)
    ok = candidates[fpr <= target_fpr]
    return float(ok.min()) if ok.size else 1.0
