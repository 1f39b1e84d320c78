"""The run directory: the one seam between computing and showing.

`graphguard detect` writes a run directory; reports, case files, exports, explanations and
evaluations read it and nothing else. This module is the only place that knows its files, their
columns and dtypes, and how they are written and read:

* `write_run` lays out a run all at once (under a temporary name, renamed when complete), after
  checking every table against its declared columns, so a pipeline change that drops or retypes
  a column fails at write time instead of in a renderer; a table too big to hold whole comes as
  a `ChunkedTable`, written one chunk at a time;
* `load_run` reads accounts, clusters and run.json for the readers, checks the columns they rely
  on and casts them to their contract dtypes; `read_table` / `scan_table` give the other tables.

Readers are lenient about columns a run written by an older graphguard may lack (they are
declared ``required=False``); `check_run` holds a directory to the full contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from graphguard.outputs import (
    atomic_directory,
    write_json_atomic,
    write_parquet_atomic,
    write_parquet_chunks_atomic,
    write_text_atomic,
)
from graphguard.schema import ACCOUNT, SCORE_COLUMNS

# --------------------------------------------------------------------------------------------
# Files

ACCOUNTS_FILE = "accounts.parquet"
CLUSTERS_FILE = "clusters.parquet"
ACCOUNT_EDGES_FILE = "account_edges.parquet"
ENTITY_EDGES_FILE = "entity_edges.parquet"
ACTIVITY_FILE = "cluster_activity.parquet"
REJECTED_FILE = "rejected_rows.parquet"
META_FILE = "run.json"
#: written beside the data by whoever renders it (the CLI writes the Markdown report)
REPORT_FILE = "report.md"

# --------------------------------------------------------------------------------------------
# Column names (schema.py holds the input side)

CLUSTER_ID = "cluster_id"
RISK = "risk"
FLAGGED = "flagged"
PREDICTED_LABEL = "predicted_label"
KNOWN_LABEL = "known_label"
SIZE = "size"
SUSPICION = "suspicion"
EVIDENCE = "evidence"
EVIDENCE_FACTS = "evidence_facts"
DOMINANT_RELATION = "dominant_relation"
N_FLAGGED = "n_flagged"
MEAN_RISK = "mean_risk"
BEHAVIOUR_SCORE = "behaviour_score"
INFRASTRUCTURE_SCORE = "infrastructure_score"
#: an account's two shares of its cluster's suspicion; its evidence risk is their noisy-OR
BEHAVIOUR_PART = "behaviour_part"
INFRASTRUCTURE_PART = "infrastructure_part"
DENSE_PART = "dense_part"
MODEL_RISK = "model_risk"
EVIDENCE_RISK = "evidence_risk"
N_SYNCED_TARGETS = "n_synced_targets"
#: an account's own part in its community's coordination (0 for accounts in no community)
PARTICIPATION_COLUMNS: tuple[str, ...] = (
    "participation",
    "p_shared_device",
    "p_shared_ip",
    "p_sync",
    "p_exclusive",
    "p_single_use_device",
)
#: extra accounts.parquet columns of a run scored with a model
MODEL_COLUMNS: tuple[str, ...] = (MODEL_RISK, EVIDENCE_RISK)
#: campaigns across runs (`graphguard.campaigns` assigns them; accounts outside a reported
#: cluster have none): a stable id, carried over from the previous run a cluster continues
CAMPAIGN_ID = "campaign_id"
#: how the cluster stands against the previous run, one of `CAMPAIGN_STATUSES`
CAMPAIGN_STATUS = "campaign_status"
#: clusters.parquet: the previous run's campaigns the cluster overlaps (its own first, when it
#: carries one), empty for a new campaign
PREVIOUS_CAMPAIGNS = "previous_campaigns"
#: clusters.parquet: what tied the cluster to the previous campaign whose id it carries
#: ("members" or "entities": shared devices, IPs and targets), null when it carries none
CAMPAIGN_MATCH = "campaign_match"
#: clusters.parquet: the size of that previous campaign (null when it carries none)
PREVIOUS_SIZE = "previous_size"
#: the values of campaign_status (`graphguard.campaigns.matching` holds the rules)
CAMPAIGN_STATUSES: tuple[str, ...] = ("new", "continuing", "grown", "shrunk", "split", "merged")
#: run.json's section about campaigns: the previous run, counts per status, ended and merged ids
CAMPAIGNS_META = "campaigns"
#: run.json's operating point (`pipeline.operating`): threshold, method ("validation", "null",
#: "fixed"), target_fpr / target_precision, expected_fpr, fpr_interval, expected_precision,
#: precision_interval (Wilson 95% of the validation counts), expected_recall, n_negatives,
#: n_positives, precision_mix / abusive_share (the class mix the precision is taken at: the
#: log's own or the validation split's), reliable / reliability (the log estimate checked
#: against its isotonic twin, `models.calibration.log_check`; null where no check ran) and
#: threshold_rule ("bracket" where `scoring.unreliable_threshold` moved the threshold); the
#: summary's risk_threshold is its threshold
OPERATING_POINT_META = "operating_point"
#: clusters.parquet: the evidence families calibrated against the log's own communities, each
#: with these columns (`graphguard.community.calibration`), and the community's q-value
CALIBRATED_FAMILIES: tuple[str, ...] = ("behaviour", "infrastructure", "bot")
CALIBRATION_PARTS: tuple[str, ...] = ("stat", "null", "z", "p", "q", "weight")
EVIDENCE_Q = "evidence_q"
#: clusters.parquet: the Leiden community a cluster was cut from at
#: ``community.max_cluster_size``, named by its smallest account index in this run
#: (`community.leiden.pre_split_communities`); a cluster that was not cut is its own
PRE_SPLIT_COMMUNITY = "pre_split_community"
#: clusters.parquet: the dense-block evidence (`graphguard.community.blocks`): the members'
#: log-weighted co-engagement, its configuration-null mean and variance, the block (targets
#: improbably many members engaged), its engagements, what the null allows them and the block
#: targets' whole audience; ratio, lift, z, p, BH q, and the score that enters suspicion
DENSE_BLOCK_COLUMNS: tuple[str, ...] = (
    "dense_observed",
    "dense_expected",
    "dense_variance",
    "dense_block_targets",
    "dense_block_edges",
    "dense_block_expected",
    "dense_block_reach",
)
#: what `community.blocks.dense_scores` adds to them (besides ``dense_score``)
DENSE_SCORE_COLUMNS: tuple[str, ...] = (
    "dense_ratio",
    "dense_lift",
    "dense_z",
    "dense_p",
    "dense_q",
)
DENSE_COLUMNS: tuple[str, ...] = (*DENSE_BLOCK_COLUMNS, *DENSE_SCORE_COLUMNS, "dense_score")
DENSE_COUNT_COLUMNS: tuple[str, ...] = (
    "dense_block_targets",
    "dense_block_edges",
    "dense_block_reach",
)
#: one evidence fact of a cluster in clusters.parquet's evidence_facts: its sentence and level
FACT_DTYPE = pl.List(pl.Struct({"text": pl.String, "level": pl.String}))


@dataclass(frozen=True)
class Column:
    """One column of a run file: its contract dtype and whether every run has it."""

    name: str
    dtype: pl.DataType
    required: bool = True


def _columns(*specs: tuple[Any, ...]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


_F64, _STR, _I64, _U32 = pl.Float64(), pl.String(), pl.Int64(), pl.UInt32()
_TIME = pl.Datetime("us", "UTC")

#: accounts.parquet, in file order: one row for every account in the events.
ACCOUNT_COLUMNS: tuple[Column, ...] = _columns(
    (ACCOUNT, _STR),
    (CLUSTER_ID, _I64),
    *((name, _F64) for name in SCORE_COLUMNS),
    (RISK, _F64),
    (PREDICTED_LABEL, _STR),
    (FLAGGED, pl.Boolean()),
    *((name, _F64) for name in PARTICIPATION_COLUMNS),
    (N_SYNCED_TARGETS, _U32),
    (BEHAVIOUR_PART, _F64),
    (INFRASTRUCTURE_PART, _F64),
    ("n_events", _U32),
    # an account's share of its engaged targets in its community's dense block, and its part
    # of the dense-block score (`community.blocks`; older runs lack them)
    ("p_dense", _F64, False),
    (DENSE_PART, _F64, False),
    (MODEL_RISK, _F64, False),
    (EVIDENCE_RISK, _F64, False),
    (KNOWN_LABEL, _STR, False),
    (CAMPAIGN_ID, _STR, False),
    (CAMPAIGN_STATUS, _STR, False),
)
#: clusters.parquet's leading columns, in file order; the evidence measures follow.
CLUSTER_COLUMNS: tuple[Column, ...] = _columns(
    (CLUSTER_ID, _I64),
    (SIZE, _I64),
    (SUSPICION, _F64),
    (PREDICTED_LABEL, _STR),
    (N_FLAGGED, _U32),
    (MEAN_RISK, _F64),
    (EVIDENCE, _STR),
    (EVIDENCE_FACTS, FACT_DTYPE),
    (BEHAVIOUR_SCORE, _F64),
    (INFRASTRUCTURE_SCORE, _F64),
    ("bot_likeness", _F64),
    (N_SYNCED_TARGETS, _U32),
    (DOMINANT_RELATION, _STR),
    ("first_seen", _TIME),
    ("last_seen", _TIME),
    (CAMPAIGN_ID, _STR, False),
    (CAMPAIGN_STATUS, _STR, False),
    (PREVIOUS_CAMPAIGNS, pl.List(pl.String), False),
    (CAMPAIGN_MATCH, _STR, False),
    (PREVIOUS_SIZE, _I64, False),
    # the evidence against the log's own communities (`community.calibration`; older runs
    # lack them)
    *(
        (f"{family}_{part}", _F64, False)
        for family in CALIBRATED_FAMILIES
        for part in CALIBRATION_PARTS
    ),
    (EVIDENCE_Q, _F64, False),
    (PRE_SPLIT_COMMUNITY, _I64, False),
    # the dense account x target block against the configuration null (`community.blocks`;
    # older runs lack them)
    *((name, _I64 if name in DENSE_COUNT_COLUMNS else _F64, False) for name in DENSE_COLUMNS),
)
#: clusters.parquet's columns up to here come first, in this order; the others keep theirs
CLUSTER_LEADING: tuple[str, ...] = (
    CLUSTER_ID,
    SIZE,
    SUSPICION,
    PREDICTED_LABEL,
    N_FLAGGED,
    MEAN_RISK,
    EVIDENCE,
    EVIDENCE_FACTS,
)
ACCOUNT_EDGE_COLUMNS: tuple[Column, ...] = _columns(
    ("src_id", _STR), ("dst_id", _STR), ("weight", _F64)
)
ENTITY_EDGE_COLUMNS: tuple[Column, ...] = _columns(
    (ACCOUNT, _STR),
    ("kind", _STR),
    ("entity", _STR),
    ("n_events", _U32),
    ("first_seen", _TIME),
    ("last_seen", _TIME),
)
ACTIVITY_COLUMNS: tuple[Column, ...] = _columns(
    (CLUSTER_ID, _I64),
    ("hour", _TIME),
    ("event_type", _STR),
    ("n_events", _U32),
    ("n_accounts", _U32),
)
#: every Parquet table of a run and its declared columns
TABLES: dict[str, tuple[Column, ...]] = {
    ACCOUNTS_FILE: ACCOUNT_COLUMNS,
    CLUSTERS_FILE: CLUSTER_COLUMNS,
    ACCOUNT_EDGES_FILE: ACCOUNT_EDGE_COLUMNS,
    ENTITY_EDGES_FILE: ENTITY_EDGE_COLUMNS,
    ACTIVITY_FILE: ACTIVITY_COLUMNS,
}


# --------------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class ChunkedTable:
    """A run table too big to hold whole: its rows as consecutive chunks, in file order.

    ``chunks()`` makes them one at a time (each one, say, decoded from integer codes only when
    it is written), so that writing the table holds one chunk; it yields at least one frame
    (an empty one for an empty table), every one with the same columns.
    """

    chunks: Callable[[], Iterator[pl.DataFrame]]

    def collect(self) -> pl.DataFrame:
        """The whole table in memory (for tests and small runs)."""
        return pl.concat(list(self.chunks()), rechunk=True)


#: a run table as the pipeline hands it over: whole, or in chunks
Table = pl.DataFrame | ChunkedTable


def whole(table: Table) -> pl.DataFrame:
    """``table`` as one frame (`ChunkedTable.collect` for a chunked one)."""
    return table if isinstance(table, pl.DataFrame) else table.collect()


@dataclass
class RunContents:
    """Everything a run directory holds, as the pipeline produced it.

    Args:
        accounts, clusters, account_edges, entity_edges, cluster_activity: the tables, with the
            columns declared above (clusters ordered most suspicious first); the two edge
            tables may come as a `ChunkedTable`.
        meta: the run.json document, or a function that makes it, called once the tables are
            written (so that it can say how long writing them took).
        rejected: unusable input rows, written only when given.
    """

    accounts: pl.DataFrame
    clusters: pl.DataFrame
    account_edges: Table
    entity_edges: Table
    cluster_activity: pl.DataFrame
    meta: dict[str, Any] | Callable[[], dict[str, Any]]
    rejected: pl.DataFrame | None = field(default=None)

    def tables(self) -> dict[str, Table]:
        return {
            ACCOUNTS_FILE: self.accounts,
            CLUSTERS_FILE: self.clusters,
            ACCOUNT_EDGES_FILE: self.account_edges,
            ENTITY_EDGES_FILE: self.entity_edges,
            ACTIVITY_FILE: self.cluster_activity,
        }


def conformance_errors(frame: pl.DataFrame, name: str) -> list[str]:
    """What in ``frame`` breaks the declared columns of run file ``name`` (empty if nothing)."""
    errors = []
    for column in TABLES[name]:
        if column.name not in frame.columns:
            if column.required:
                errors.append(f"{name}: missing column {column.name!r}")
        elif frame.schema[column.name] != column.dtype:
            errors.append(
                f"{name}: column {column.name!r} is {frame.schema[column.name]}, "
                f"the contract says {column.dtype}"
            )
    return errors


#: how the run's tables are written: zstd (what Polars and every reader here reads by default)
#: at level 1, not Polars' default 3: on the 10M-event run's entity edges (5.4M rows,
#: benchmarks/parquet_write.py) 1.16 CPU s against 1.68, the file 4.6% larger (88.7 MiB
#: against 84.8); snappy took as long (1.12 s) for a file 31% larger
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1}

#: renders one extra text file of a run (e.g. report.md) from the run as readers will see it
Renderer = Callable[["Run"], str]


def write_run(
    contents: RunContents,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    extra_files: Mapping[str, Renderer] | None = None,
) -> Path:
    """Write a run directory, all of it or nothing.

    Args:
        contents: the tables and run.json.
        out_dir: the directory to create.
        overwrite: replace an existing directory.
        extra_files: file name -> renderer, for text files written from the finished run into
            the same atomic directory (the CLI adds report.md this way; the pipeline never
            renders).

    A `ChunkedTable` is checked chunk by chunk as it is written (inside the temporary
    directory, so a chunk that breaks the contract, or any failure, leaves no run behind).

    Raises:
        ValueError: a table breaks its declared columns (a bug upstream, never the input's).
        OutputExistsError: ``out_dir`` exists and ``overwrite`` is false.
    """
    errors = [
        e
        for name, frame in contents.tables().items()
        if isinstance(frame, pl.DataFrame)
        for e in conformance_errors(frame, name)
    ]
    if errors:
        raise ValueError(f"the run breaks its own contract: {errors[0]}")
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        for name, frame in contents.tables().items():
            if isinstance(frame, ChunkedTable):
                write_parquet_chunks_atomic(
                    _checked_chunks(frame, name), tmp / name, **PARQUET_OPTIONS
                )
            else:
                write_parquet_atomic(frame, tmp / name, **PARQUET_OPTIONS)
        if contents.rejected is not None:
            write_parquet_atomic(contents.rejected, tmp / REJECTED_FILE, **PARQUET_OPTIONS)
        meta = contents.meta() if callable(contents.meta) else contents.meta
        write_json_atomic(meta, tmp / META_FILE)
        if extra_files:
            # the renderer sees run.json as every later reader will (tuples as lists, ...)
            run = Run(
                path=Path(out_dir),
                accounts=contents.accounts,
                clusters=contents.clusters,
                meta=json.loads(json.dumps(meta, default=str)),
            )
            for name, render in extra_files.items():
                write_text_atomic(render(run), tmp / name)
    return Path(out_dir)


def _checked_chunks(table: ChunkedTable, name: str) -> Iterator[pl.DataFrame]:
    """The chunks of ``table``, each checked against run file ``name``'s declared columns."""
    for frame in table.chunks():
        errors = conformance_errors(frame, name)
        if errors:
            raise ValueError(f"the run breaks its own contract: {errors[0]}")
        yield frame


# --------------------------------------------------------------------------------------------
# Reading


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

    def section(self, *keys: str) -> dict[str, Any]:
        """A nested object of run.json (``run.section("config", "scoring")``), {} if absent."""
        value: Any = self.meta
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value if isinstance(value, dict) else {}


def _is_string(dtype: pl.DataType) -> bool:
    # Dictionary-encoded strings are still strings; they are cast to plain String.
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _accepts(expected: pl.DataType, dtype: pl.DataType) -> tuple[bool, str]:
    """Whether a column of ``dtype`` can be read as ``expected``, and the words for it."""
    if expected == pl.String:
        return _is_string(dtype), "a string"
    if expected.is_integer():
        return dtype.is_integer(), "an integer"
    if expected.is_float():
        return dtype.is_numeric(), "numeric"
    # Times and flags are passed through as they are; readers only format them.
    return True, str(expected)


#: the columns readers rely on in every run, even one written by another tool
READER_REQUIRED: dict[str, tuple[str, ...]] = {
    ACCOUNTS_FILE: (ACCOUNT, CLUSTER_ID, RISK),
    CLUSTERS_FILE: (CLUSTER_ID, SIZE, SUSPICION, PREDICTED_LABEL),
    ACCOUNT_EDGES_FILE: ("src_id", "dst_id", "weight"),
    ENTITY_EDGES_FILE: (ACCOUNT, "kind", "entity", "n_events", "first_seen", "last_seen"),
    ACTIVITY_FILE: (CLUSTER_ID, "hour", "event_type", "n_events"),
}


def check_columns(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Check that ``frame`` (run file ``name``) has the columns readers rely on
    (`READER_REQUIRED`) in an acceptable dtype, and cast them to their contract dtypes.

    Raises:
        ValueError: "<name>: missing column '<col>'" or "<name>: column '<col>' must be ...".
    """
    declared = {column.name: column.dtype for column in TABLES[name]}
    casts = []
    for column in READER_REQUIRED[name]:
        if column not in frame.columns:
            raise ValueError(f"{name}: missing column {column!r}")
        dtype, expected = frame.schema[column], declared[column]
        ok, words = _accepts(expected, dtype)
        # An all-null column (dtype Null) carries no values to misread, so any cast is safe.
        if dtype != pl.Null and not ok:
            raise ValueError(f"{name}: column {column!r} must be {words}, got {dtype}")
        if expected == pl.String or expected.is_numeric() or dtype == pl.Null:
            casts.append(pl.col(column).cast(expected))
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

    Returns:
        The run, with its declared columns cast to their contract dtypes.

    Raises:
        FileNotFoundError: the directory or one of its three files is missing.
        ValueError: a file cannot be parsed or lacks a required column, e.g.
            "accounts.parquet: missing column 'risk'".
    """
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    accounts = check_columns(read_parquet_file(run_dir / ACCOUNTS_FILE), ACCOUNTS_FILE)
    clusters = check_columns(read_parquet_file(run_dir / CLUSTERS_FILE), CLUSTERS_FILE)
    meta = read_meta(run_dir / META_FILE)
    return Run(path=run_dir, accounts=accounts, clusters=clusters, meta=meta)


def read_columns(
    run: Run | str | Path, name: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Only ``columns`` (and those of ``optional`` the file has) of run file ``name``, cast to
    their contract dtypes: a narrow read of a big table (a previous run's accounts).

    Raises:
        FileNotFoundError: no such file.
        ValueError: "<name>: cannot read Parquet file (...)", "<name>: missing column 'x'",
            "<name>: column 'x' is <dtype>, the contract says <dtype>".
    """
    path = (run.path if isinstance(run, Run) else Path(run)) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        present = pl.read_parquet_schema(path)
    except Exception as error:  # polars raises several exception types for a corrupt file
        raise ValueError(f"{name}: cannot read Parquet file ({error})") from error
    missing = [column for column in columns if column not in present]
    if missing:
        raise ValueError(f"{name}: missing column {missing[0]!r}")
    wanted = [*columns, *(c for c in optional if c in present and c not in columns)]
    declared = {column.name: column.dtype for column in TABLES[name]}
    for column in wanted:
        dtype, expected = present[column], declared[column]
        ok, _ = _accepts(expected, dtype)
        if dtype != pl.Null and not ok:
            raise ValueError(f"{name}: column {column!r} is {dtype}, the contract says {expected}")
    casts = [
        pl.col(c).cast(declared[c])
        for c in wanted
        if declared[c] == pl.String or declared[c].is_numeric() or present[c] == pl.Null
    ]
    try:
        return pl.scan_parquet(path).select(wanted).with_columns(casts).collect()
    except Exception as error:
        raise ValueError(f"{name}: cannot read Parquet file ({error})") from error


def _table_path(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file; run directories written before case exports existed lack "
            "it, so run detection again"
        )
    return path


def read_table(run: Run | str | Path, name: str) -> pl.DataFrame:
    """One of the run's edge or activity tables, checked for the columns readers rely on."""
    run_dir = run.path if isinstance(run, Run) else Path(run)
    return check_columns(read_parquet_file(_table_path(run_dir, name)), name)


def scan_table(run: Run | str | Path, name: str) -> pl.LazyFrame:
    """A lazy scan of one of the run's tables (filter before reading a big one)."""
    run_dir = run.path if isinstance(run, Run) else Path(run)
    return pl.scan_parquet(_table_path(run_dir, name))


def check_run(path: str | Path) -> list[str]:
    """Every way the run directory at ``path`` breaks the contract; empty when it keeps it."""
    run_dir = Path(path)
    errors = []
    for name in TABLES:
        try:
            errors += conformance_errors(read_parquet_file(run_dir / name), name)
        except (FileNotFoundError, ValueError) as error:
            errors.append(str(error))
    try:
        read_meta(run_dir / META_FILE)
    except (FileNotFoundError, ValueError) as error:
        errors.append(str(error))
    return errors
