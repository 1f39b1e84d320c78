"""What every report of a run says first: headline counts, what scored the accounts, the
ranked clusters, and the JSON view of a run. Read from the run directory, never recomputed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
import polars.selectors as cs

from graphguard.rundir import CLUSTER_ID, FLAGGED, RISK, SUSPICION, Run
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
