"""Reading the previous run a detection is compared with (``detect --previous``).

Only what matching needs is read: the clustered accounts with their campaign ids, the
account-entity edges around them, and what identifies the run in run.json. Everything is
checked before the new run starts, so a bad ``--previous`` fails fast, names the path and leaves
nothing written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from graphguard import rundir, schema
from graphguard.campaigns.matching import (
    CAMPAIGN_FORMAT,
    CAMPAIGN_ID_PATTERN,
    PRE_SPLIT,
    content_ids,
)
from graphguard.errors import GraphguardError, InputError, inert


class PreviousRunError(GraphguardError):
    """``--previous`` names something that is not a run directory this graphguard can match
    against; the message names the path and what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"--previous {inert(str(path))}: {problem}")


@dataclass(frozen=True)
class PreviousRun:
    """The previous run as matching sees it.

    Args:
        path: the run directory.
        members: one row per clustered account: ``account_id``, ``campaign_id``.
        entities: the account-entity edges of those accounts: ``account_id``, ``kind``, ``entity``.
        identity: what run.json records about it (path, fingerprint, created_at, version).
        parents: ``campaign_id``, ``pre_split_community`` (`matching.PRE_SPLIT`): the Leiden
            community each campaign was cut from; None for a run written before clusters
            recorded it (each campaign is then its own).
    """

    path: Path
    members: pl.DataFrame
    entities: pl.DataFrame
    identity: dict[str, Any]
    parents: pl.DataFrame | None = None

    def campaign_ids(self) -> pl.Series:
        return self.members.get_column(rundir.CAMPAIGN_ID).unique().sort()


_NEEDED = (rundir.ACCOUNTS_FILE, rundir.CLUSTERS_FILE, rundir.ENTITY_EDGES_FILE, rundir.META_FILE)


def load_previous(path: str | Path) -> PreviousRun:
    """Read and check the previous run at ``path``.

    A run written before campaigns existed has no campaign columns: its clusters get the ids a
    run without ``--previous`` gives (`matching.content_ids`), so a chain can start from it.

    Raises:
        PreviousRunError: ``path`` is missing, not a run directory, lacks a file or column
            matching reads, or was written by a graphguard with a newer campaign format.
        InputError: a campaign id in it is not one graphguard writes (names file and column).
    """
    run_dir = Path(path)
    if not run_dir.exists():
        raise PreviousRunError(run_dir, "no such directory")
    if not run_dir.is_dir():
        raise PreviousRunError(run_dir, "not a run directory (it is a file)")
    missing = [name for name in _NEEDED if not (run_dir / name).is_file()]
    if missing:
        raise PreviousRunError(
            run_dir,
            f"not a run directory written by graphguard detect (no {missing[0]}"
            + (
                "; runs written before case exports existed lack it: run detection again)"
                if missing == [rundir.ENTITY_EDGES_FILE]
                else ")"
            ),
        )
    try:
        meta = rundir.read_meta(run_dir / rundir.META_FILE)
    except (FileNotFoundError, ValueError) as error:
        raise PreviousRunError(run_dir, str(error)) from None
    if "graphguard_version" not in meta:
        raise PreviousRunError(
            run_dir, "run.json has no graphguard_version: not a run written by graphguard detect"
        )
    section = meta.get(rundir.CAMPAIGNS_META)
    written = section.get("format") if isinstance(section, dict) else None
    if isinstance(written, int) and not isinstance(written, bool) and written > CAMPAIGN_FORMAT:
        raise PreviousRunError(
            run_dir,
            f"written by graphguard {inert(str(meta['graphguard_version']))} with campaign "
            f"format {written}; this graphguard ({CAMPAIGN_FORMAT}) cannot match against it",
        )
    clusters = _read(
        run_dir, rundir.CLUSTERS_FILE, (rundir.CLUSTER_ID,), (rundir.CAMPAIGN_ID, PRE_SPLIT)
    )
    accounts = _read(run_dir, rundir.ACCOUNTS_FILE, (schema.ACCOUNT, rundir.CLUSTER_ID))
    members = accounts.filter(pl.col(rundir.CLUSTER_ID).is_not_null()).join(
        clusters.select(rundir.CLUSTER_ID), on=rundir.CLUSTER_ID, how="semi"
    )
    if rundir.CAMPAIGN_ID in clusters.columns:
        ids = clusters.get_column(rundir.CAMPAIGN_ID)
        bad = ids.filter(ids.is_null() | ~ids.str.contains(f"^{CAMPAIGN_ID_PATTERN.pattern}$"))
        if bad.len():
            raise InputError(
                "holds a value that is not a campaign id graphguard writes",
                path=str(run_dir / rundir.CLUSTERS_FILE),
                column=rundir.CAMPAIGN_ID,
                example=bad[0],
            )
        if ids.n_unique() != ids.len():
            raise InputError(
                "holds the same campaign id for two clusters",
                path=str(run_dir / rundir.CLUSTERS_FILE),
                column=rundir.CAMPAIGN_ID,
                example=ids.filter(ids.is_duplicated())[0],
            )
        members = members.join(
            clusters.select(rundir.CLUSTER_ID, rundir.CAMPAIGN_ID), on=rundir.CLUSTER_ID
        )
    else:
        members = members.join(content_ids(members), on=rundir.CLUSTER_ID)
    entities = _read(run_dir, rundir.ENTITY_EDGES_FILE, (schema.ACCOUNT, "kind", "entity"))
    entities = entities.join(members.select(schema.ACCOUNT), on=schema.ACCOUNT, how="semi")
    identity = {
        "path": str(run_dir),
        "fingerprint": fingerprint(run_dir),
        "created_at": meta.get("created_at"),
        "graphguard_version": meta.get("graphguard_version"),
    }
    parents = None
    if PRE_SPLIT in clusters.columns:
        parents = (
            members.select(rundir.CLUSTER_ID, rundir.CAMPAIGN_ID)
            .unique()
            .join(clusters.select(rundir.CLUSTER_ID, PRE_SPLIT), on=rundir.CLUSTER_ID)
            .select(rundir.CAMPAIGN_ID, pl.col(PRE_SPLIT).cast(pl.Int64))
            .sort(rundir.CAMPAIGN_ID)
        )
    return PreviousRun(
        path=run_dir,
        members=members.select(schema.ACCOUNT, rundir.CAMPAIGN_ID),
        entities=entities,
        identity=identity,
        parents=parents,
    )


def fingerprint(run_dir: Path) -> str:
    """A short hash of a run's run.json and clusters.parquet: which run a later one followed
    (run.json's created_at makes it differ between two runs of the same input)."""
    digest = hashlib.sha256()
    for name in (rundir.META_FILE, rundir.CLUSTERS_FILE):
        digest.update((run_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def _read(
    run_dir: Path, name: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> pl.DataFrame:
    try:
        return rundir.read_columns(run_dir, name, columns, optional)
    except (FileNotFoundError, ValueError) as error:
        raise PreviousRunError(run_dir, str(error)) from None
