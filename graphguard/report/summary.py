"""What every report of a run says first: headline counts, what scored the accounts, the
ranked clusters, and the JSON view of a run. Read from the run directory, never recomputed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
import polars.selectors as cs

from graphguard.rundir import (
    CAMPAIGN_ID,
    CAMPAIGN_STATUS,
    CAMPAIGNS_META,
    CLUSTER_ID,
    FLAGGED,
    PREVIOUS_SIZE,
    RISK,
    SIZE,
    SUSPICION,
    Run,
)
from graphguard.schema import ACCOUNT


def section(meta: Mapping[str, Any], key: str) -> dict[str, Any]:
    """One object-valued section of run.json, or {} when it is absent or not an object."""
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def run_summary(run: Run) -> dict[str, Any]:
    """Headline counts of a run.

    Counts come from the data files, which are what the report shows; the risk threshold comes
    from run.json, since only the detector knows it.
    """
    threshold = section(run.meta, "summary").get("risk_threshold")
    if FLAGGED in run.accounts.columns:
        flagged: int | None = int(run.accounts[FLAGGED].sum())
    elif isinstance(threshold, (int, float)):
        flagged = int((run.accounts[RISK] >= threshold).sum())
    else:
        flagged = None
    return {
        "accounts": run.accounts.height,
        "clusters_reported": run.clusters.height,
        "accounts_flagged": flagged,
        "risk_threshold": threshold,
    }


def _share(value: Any) -> str | None:
    return f"{100 * value:.2f}%" if isinstance(value, (int, float)) else None


def _interval(value: Any) -> str:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) for v in value)
    ):
        return f" [{100 * value[0]:.2f}%, {100 * value[1]:.2f}%]"
    return ""


#: how each operating-point method is said in a report
OPERATING_METHODS = {
    "validation": "on the model's labelled validation accounts",
    "null": "from the log's null model (no labels)",
    "fixed": "as set (scoring.risk_threshold)",
}


def _count(value: Any) -> str | None:
    """A whole count as words do (1,602); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value < 0 or value != int(value):  # NaN, negative, fractional
        return None
    return f"{int(value):,}"


def estimator_words(point: Mapping[str, Any]) -> str | None:
    """Where a model point's FPR was estimated (run.json operating_point ``estimator``,
    ``model_term``, `models.calibration.OperatingPoint`), in plain words; None for a point
    without an estimator (the null model's, a fixed one without a model, an older run)."""
    estimator = point.get("estimator")
    if estimator is None:
        return None
    negatives = _count(point.get("n_negatives"))
    validation = f"{negatives} validation negatives" if negatives else "the validation negatives"
    accounts = _count(point.get("n_evidence_negatives"))
    if estimator == "validation":
        return f"estimated from {validation}"
    if estimator == "stratified":
        benign = (
            f"{accounts} labelled benign accounts" if accounts else "the labelled benign accounts"
        )
        return f"estimated from the evidence of {benign} of the training world and {validation}"
    if estimator == "log":
        on = f"of its {accounts} accounts" if accounts else "of its accounts"
        if point.get("model_term") == "pooled":
            if point.get("log_weights") == "stratum":
                # models.calibration: each account weighted as benign within its evidence stratum
                on += ", weighted as benign by evidence stratum,"
            return f"estimated from this log's evidence and model risk {on} and {validation}"
        return f"estimated from this log's evidence {on} and {validation}"
    return "estimated by an unknown estimator"


def operating_point_words(run: Run) -> str | None:
    """How the flag threshold was chosen and what is expected of it, in one sentence, from
    run.json's operating_point (`pipeline.operating`); None for a run that has none."""
    point = section(run.meta, "operating_point")
    threshold = point.get("threshold")
    if not isinstance(threshold, (int, float)):
        return None
    method = OPERATING_METHODS.get(str(point.get("method")), "by an unknown method")
    parts = [f"risk ≥ {threshold:.4g}"]
    target = _share(point.get("target_fpr"))
    if target:
        parts.append(f"for a target false-positive rate of {target}")
    target = _share(point.get("target_precision"))
    if target:
        parts.append(f"for a target precision of {target}")
    # a model's point says where its FPR was estimated, in place of the bare method
    estimated = estimator_words(point) if point.get("method") != "null" else None
    if estimated and point.get("method") == "fixed":
        parts += [method, f"its false-positive rate {estimated}"]
    else:
        parts.append(estimated or method)
    gate = _share(point.get("q_gate"))
    if gate:  # scoring.q_gate
        parts.append(f"flagging only communities whose evidence q-value is at most {gate}")
    expected = []
    fpr = _share(point.get("expected_fpr"))
    if fpr:
        expected.append(f"false-positive rate {fpr}{_interval(point.get('fpr_interval'))}")
    precision = _share(point.get("expected_precision"))
    if precision:
        mix = ""
        share = _share(point.get("abusive_share"))
        if point.get("precision_mix") == "log" and share:
            mix = f" in this log's class mix ({share} abusive by the model's risks)"
        expected.append(f"precision {precision}{_interval(point.get('precision_interval'))}{mix}")
    sentence = ", ".join(parts)
    if expected:
        sentence += "; expected " + ", ".join(expected)
        n = point.get("n_negatives")
        if isinstance(n, int) and point.get("method") == "validation" and not estimated:
            sentence += f" (95% intervals from {n} validation negatives)"
    if point.get("reliable") is False:  # models.calibration.log_check fired
        reason = section(point, "reliability").get("reason")
        moved = ""
        if point.get("threshold_rule") == "bracket":  # scoring.unreliable_threshold: bracket
            moved = ", the threshold moved to where the two estimates' mean meets the target"
        sentence += (
            "; this estimate is unreliable on this log (its interval widened to cover both "
            f"estimates{moved})" + (f": {reason}" if isinstance(reason, str) and reason else "")
        )
    return sentence


def ranked_clusters(run: Run) -> pl.DataFrame:
    # The contract says clusters arrive most suspicious first; a stable sort enforces it without
    # undoing whatever tie-break the detector used.
    return run.clusters.sort(SUSPICION, descending=True, nulls_last=True, maintain_order=True)


def top_members(run: Run, cluster_ids: list[int], n: int) -> dict[int, pl.DataFrame]:
    """The `n` highest-risk members of each cluster in `cluster_ids`, keyed by cluster id."""
    wanted = pl.Series(cluster_ids, dtype=run.accounts.schema[CLUSTER_ID])
    members = (
        run.accounts.filter(pl.col(CLUSTER_ID).is_in(wanted.implode()))
        .sort([RISK, ACCOUNT], descending=[True, False], nulls_last=True)
        .group_by(CLUSTER_ID, maintain_order=True)
        .head(n)
    )
    return {key[0]: frame for key, frame in members.partition_by(CLUSTER_ID, as_dict=True).items()}


#: the order in which reports list what changed since the previous run
CHANGE_ORDER: tuple[str, ...] = ("new", "grown", "shrunk", "split", "merged", "continuing")
#: campaign ids a report names per status before "and N more"
CHANGE_IDS_SHOWN = 10


def since_previous(run: Run) -> dict[str, Any] | None:
    """What changed since the previous run, as the run recorded it (clusters.parquet's
    campaign_status, run.json's campaigns section); None for a run detected without
    ``--previous``.

    Returns:
        {"previous": {path, fingerprint, created_at, ...}, "statuses": [(status, [campaign
        ids, most suspicious first]), ...] in `CHANGE_ORDER`, "ended": [ids], "merged_from":
        {survivor: [absorbed ids]}}.
    """
    section = run.section(CAMPAIGNS_META)
    previous = section.get("previous")
    if not isinstance(previous, dict) or CAMPAIGN_STATUS not in run.clusters.columns:
        return None
    ranked = ranked_clusters(run)
    statuses = [
        (
            status,
            ranked.filter(pl.col(CAMPAIGN_STATUS) == status).get_column(CAMPAIGN_ID).to_list(),
        )
        for status in CHANGE_ORDER
    ]
    ended = section.get("ended")
    merged = section.get("merged_from")
    return {
        "previous": previous,
        "statuses": statuses,
        "ended": [str(i) for i in ended] if isinstance(ended, list) else [],
        "merged_from": (
            {str(k): [str(i) for i in v] for k, v in merged.items() if isinstance(v, list)}
            if isinstance(merged, dict)
            else {}
        ),
    }


def shown_ids(ids: list[str], n: int = CHANGE_IDS_SHOWN) -> tuple[list[str], int]:
    """The first ``n`` ids and how many more there are."""
    return ids[:n], max(0, len(ids) - n)


def campaign_words(row: Mapping[str, Any]) -> str | None:
    """A cluster's campaign in a few words: "C-… · grown from 10"; None without one."""
    campaign = row.get(CAMPAIGN_ID)
    if campaign is None:
        return None
    status = row.get(CAMPAIGN_STATUS)
    words = f"{campaign} · {status}" if status else str(campaign)
    before = row.get(PREVIOUS_SIZE)
    if status in ("grown", "shrunk") and before is not None and row.get(SIZE) is not None:
        words += f" from {before}"
    return words


def scoring_source(run: Run) -> str:
    """One line: what produced the account scores (the evidence alone, or a model and how)."""
    model = run.meta.get("model")
    if not isinstance(model, dict):
        return "account scores: cluster evidence only (no model)"
    config = run.meta.get("config")
    scoring = config.get("scoring") if isinstance(config, dict) else None
    fusion = scoring.get("fusion", "noisy_or") if isinstance(scoring, dict) else "noisy_or"
    how = (
        "combined with the cluster evidence (noisy-OR)"
        if fusion == "noisy_or"
        else "alone (scoring.fusion=model)"
    )
    return f"account scores: GraphSAGE model {model.get('path') or '(unnamed)'} {how}"


def _json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns turned into types `json.dumps(..., allow_nan=False)` accepts."""
    return frame.with_columns(
        cs.float().fill_nan(None),
        cs.temporal().cast(pl.String),
        cs.decimal().cast(pl.Float64),
    )


def render_json(run: Run, *, top: int | None = None) -> dict[str, Any]:
    """A JSON-serialisable view of a run: summary, run.json as is, and cluster rows.

    Args:
        run: the loaded run.
        top: how many clusters to include, most suspicious first; None for all.

    Returns:
        {"run_dir", "summary", "meta", "n_clusters", "clusters": [row, ...]}, where each cluster
        row holds every column of clusters.parquet (NaN as null, times as ISO strings).
    """
    clusters = ranked_clusters(run)
    shown = clusters if top is None else clusters.head(top)
    return {
        "run_dir": str(run.path),
        "summary": run_summary(run),
        "meta": run.meta,
        "n_clusters": clusters.height,
        "clusters": _json_ready(shown).to_dicts(),
    }
