"""A run directory's campaigns, as the case store takes them in (selection only, no detection).

`read_campaigns` gives one row per reported campaign of a run (clusters.parquet rows with a
``campaign_id``) and one row per member (accounts.parquet), and a digest that identifies the run
so that syncing it twice is recognised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from graphguard import rundir
from graphguard.schema import ACCOUNT

#: the campaign columns `detect` writes into clusters.parquet and accounts.parquet
CAMPAIGN_ID = getattr(rundir, "CAMPAIGN_ID", "campaign_id")
CAMPAIGN_STATUS = getattr(rundir, "CAMPAIGN_STATUS", "campaign_status")


@dataclass(frozen=True)
class RunCampaigns:
    """The campaigns of one run.

    Args:
        path: the run directory.
        name: its name (the directory's), what the case store shows as a run.
        key: digest of run.json and clusters.parquet: the same run has the same key.
        created_at: run.json's ``created_at`` (None if absent).
        campaigns: campaign_id, cluster_id, size, suspicion, predicted_label, campaign_status.
        members: campaign_id, account_id (each account at most once).
    """

    path: Path
    name: str
    key: str
    created_at: str | None
    campaigns: pl.DataFrame
    members: pl.DataFrame


def run_key(run_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in (rundir.META_FILE, rundir.CLUSTERS_FILE):
        with open(run_dir / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def read_campaigns(path: str | Path) -> RunCampaigns:
    """Read the reported campaigns of the run at ``path`` and their members.

    Raises:
        FileNotFoundError: no run directory there, or one of its files is missing.
        ValueError: a file is unreadable, or the run has no ``campaign_id`` column (written by a
            graphguard older than campaigns), or ids are null.
    """
    run = rundir.load_run(path)
    clusters, accounts = run.clusters, run.accounts
    if CAMPAIGN_ID not in clusters.columns:
        raise ValueError(
            f"{rundir.CLUSTERS_FILE}: missing column {CAMPAIGN_ID!r}: the run was written by a "
            "graphguard without campaign tracking; run detection again"
        )
    if not (clusters.schema[CAMPAIGN_ID] == pl.String or clusters.schema[CAMPAIGN_ID] == pl.Null):
        raise ValueError(
            f"{rundir.CLUSTERS_FILE}: column {CAMPAIGN_ID!r} must be a string, "
            f"got {clusters.schema[CAMPAIGN_ID]}"
        )
    status = (
        pl.col(CAMPAIGN_STATUS).cast(pl.String)
        if CAMPAIGN_STATUS in clusters.columns
        else pl.lit(None, pl.String).alias(CAMPAIGN_STATUS)
    )
    campaigns = clusters.filter(pl.col(CAMPAIGN_ID).is_not_null()).select(
        pl.col(CAMPAIGN_ID).cast(pl.String),
        pl.col(rundir.CLUSTER_ID),
        pl.col(rundir.SIZE),
        pl.col(rundir.SUSPICION).fill_nan(0.0).fill_null(0.0),
        pl.col(rundir.PREDICTED_LABEL),
        status,
    )
    duplicated = campaigns.filter(pl.col(CAMPAIGN_ID).is_duplicated())
    if duplicated.height:
        raise ValueError(
            f"{rundir.CLUSTERS_FILE}: column {CAMPAIGN_ID!r} names two clusters, e.g. "
            f"{duplicated.get_column(CAMPAIGN_ID)[0]!r}"
        )
    # members through cluster_id: accounts.parquet's own campaign_id, where present, agrees
    members = (
        accounts.select(ACCOUNT, rundir.CLUSTER_ID)
        .join(campaigns.select(rundir.CLUSTER_ID, CAMPAIGN_ID), on=rundir.CLUSTER_ID)
        .select(CAMPAIGN_ID, ACCOUNT)
        .unique(subset=[ACCOUNT], keep="first", maintain_order=True)
        .sort(CAMPAIGN_ID, ACCOUNT)
    )
    created = run.meta.get("created_at")
    return RunCampaigns(
        path=run.path,
        name=run.path.resolve().name,
        key=run_key(run.path),
        created_at=None if created is None else str(created),
        campaigns=campaigns,
        members=members,
    )
