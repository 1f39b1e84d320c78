"""Load a finished detection run's directory for reporting and evaluation.

A run directory holds `accounts.parquet`, `clusters.parquet` and `run.json` (see the data contract).
`load_run` reads the three files and checks only what the readers downstream rely on, so a report
or an evaluation fails with a message naming the file and column instead of a KeyError deep inside
a renderer. Extra columns pass through untouched: they are evidence the renderers show generically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from graphguard.schema import ACCOUNT

ACCOUNTS_FILE = "accounts.parquet"
CLUSTERS_FILE = "clusters.parquet"
META_FILE = "run.json"

# Run-output column names, from the data contract (schema.py holds the input-side names).
CLUSTER_ID = "cluster_id"
RISK = "risk"
FLAGGED = "flagged"
PREDICTED_LABEL = "predicted_label"
SIZE = "size"
SUSPICION = "suspicion"
EVIDENCE = "evidence"
DOMINANT_RELATION = "dominant_relation"


def _is_string(dtype: pl.DataType) -> bool:
    # Dictionary-encoded strings are still strings; they are cast to plain String below.
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _is_integer(dtype: pl.DataType) -> bool:
    return dtype.is_integer()


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


# Required columns per file: (what the check accepts, in words; the check; the dtype to cast to).
_ColumnRule = tuple[str, Callable[[pl.DataType], bool], pl.DataType]
_STRING: _ColumnRule = ("a string", _is_string, pl.String())
_INTEGER: _ColumnRule = ("an integer", _is_integer, pl.Int64())
_NUMBER: _ColumnRule = ("numeric", _is_numeric, pl.Float64())

REQUIRED_ACCOUNT_COLUMNS: dict[str, _ColumnRule] = {
    ACCOUNT: _STRING,
    CLUSTER_ID: _INTEGER,
    RISK: _NUMBER,
}
REQUIRED_CLUSTER_COLUMNS: dict[str, _ColumnRule] = {
    CLUSTER_ID: _INTEGER,
    SIZE: _INTEGER,
    SUSPICION: _NUMBER,
    PREDICTED_LABEL: _STRING,
}


@dataclass
class Run:
    """A detection run as written to disk.

    Args:
        path: the run directory.
        accounts: one row per account (`accounts.parquet`), required columns in contract dtypes.
        clusters: one row per reported community (`clusters.parquet`), most suspicious first.
        meta: the parsed `run.json` (version, input, ingest counts, config, timings, summary).
    """

    path: Path
    accounts: pl.DataFrame
    clusters: pl.DataFrame
    meta: dict[str, Any]


def check_columns(
    frame: pl.DataFrame, required: Mapping[str, _ColumnRule], source: str
) -> pl.DataFrame:
    """Check that `frame` has each required column with an acceptable dtype, and cast it.

    Raises:
        ValueError: "<source>: missing column '<name>'" or "<source>: column '<name>' must be ...".
    """
    casts = []
    for name, (expected, accepts, target) in required.items():
        if name not in frame.columns:
            raise ValueError(f"{source}: missing column {name!r}")
        dtype = frame.schema[name]
        # An all-null column (dtype Null) carries no values to misread, so any cast is safe.
        if dtype != pl.Null and not accepts(dtype):
            raise ValueError(f"{source}: column {name!r} must be {expected}, got {dtype}")
        casts.append(pl.col(name).cast(target))
    return frame.with_columns(casts)


def read_parquet_file(path: Path) -> pl.DataFrame:
    """Read one Parquet file, turning a missing or unreadable file into an error naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return pl.read_parquet(path)
    except Exception as error:  # polars raises several exception types for a corrupt file
        raise ValueError(f"{path.name}: cannot read Parquet file ({error})") from error


def read_meta(path: Path) -> dict[str, Any]:
    """Read `run.json`; it must hold a JSON object."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path.name}: not valid JSON ({error})") from error
    if not isinstance(meta, dict):
        raise ValueError(f"{path.name}: expected a JSON object, got {type(meta).__name__}")
    return meta


def load_run(path: str | Path) -> Run:
    """Load a run directory written by `graphguard detect`.

    Args:
        path: the run directory holding accounts.parquet, clusters.parquet and run.json.

    Returns:
        The run, with required columns cast to their contract dtypes.

    Raises:
        FileNotFoundError: the directory or one of its three files is missing.
        ValueError: a file cannot be parsed or lacks a required column, e.g.
            "accounts.parquet: missing column 'risk'".
    """
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    accounts = check_columns(
        read_parquet_file(run_dir / ACCOUNTS_FILE), REQUIRED_ACCOUNT_COLUMNS, ACCOUNTS_FILE
    )
    clusters = check_columns(
        read_parquet_file(run_dir / CLUSTERS_FILE), REQUIRED_CLUSTER_COLUMNS, CLUSTERS_FILE
    )
    meta = read_meta(run_dir / META_FILE)
    return Run(path=run_dir, accounts=accounts, clusters=clusters, meta=meta)
