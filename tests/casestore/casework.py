"""Run directories with campaign ids built by hand, for the case store's tests: only the files
and columns `graphguard.casestore` reads (accounts, clusters, run.json), so each test can say
exactly which accounts each campaign has in each run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from graphguard import rundir


def make_run(
    directory: Path,
    campaigns: Mapping[str, Sequence[str]],
    *,
    suspicion: Mapping[str, float] | None = None,
    label: str = "bot_ring",
    status: Mapping[str, str] | None = None,
    loners: Sequence[str] = ("loner-1", "loner-2"),
    created_at: str = "2026-12-01T00:00:00+00:00",
) -> Path:
    """A run at ``directory`` whose reported clusters are ``campaigns`` (campaign_id -> member
    account ids), most suspicious first, plus accounts in no cluster."""
    directory.mkdir(parents=True, exist_ok=True)
    suspicion = dict(suspicion or {})
    status = dict(status or {})
    ids = list(campaigns)
    clusters = pl.DataFrame(
        {
            rundir.CLUSTER_ID: list(range(len(ids))),
            rundir.SIZE: [len(campaigns[c]) for c in ids],
            rundir.SUSPICION: [suspicion.get(c, 0.9 - 0.01 * i) for i, c in enumerate(ids)],
            rundir.PREDICTED_LABEL: [label] * len(ids),
            "campaign_id": ids,
            "campaign_status": [status.get(c, "new") for c in ids],
        },
        schema_overrides={rundir.CLUSTER_ID: pl.Int64, rundir.SIZE: pl.Int64},
    )
    accounts = pl.DataFrame(
        {
            "account_id": [a for c in ids for a in campaigns[c]] + list(loners),
            rundir.CLUSTER_ID: [i for i, c in enumerate(ids) for _ in campaigns[c]]
            + [None] * len(loners),
            rundir.RISK: [0.9 for c in ids for _ in campaigns[c]] + [0.1] * len(loners),
            "campaign_id": [c for c in ids for _ in campaigns[c]] + [None] * len(loners),
        },
        schema_overrides={rundir.CLUSTER_ID: pl.Int64, "campaign_id": pl.String},
    )
    accounts.write_parquet(directory / rundir.ACCOUNTS_FILE)
    clusters.write_parquet(directory / rundir.CLUSTERS_FILE)
    (directory / rundir.META_FILE).write_text(
        json.dumps({"created_at": created_at, "run": directory.name}), encoding="utf-8"
    )
    return directory


def ring(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}-{i:03d}" for i in range(start, start + n)]
