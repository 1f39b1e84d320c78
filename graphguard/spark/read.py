"""Reading an event log on Spark with the local engine's column mapping and row rules.

What the local reader (`graphguard.io`) checks from the files' schemas (a missing or renamed
column, an id column of the wrong type, times stored differently in two files, the epoch unit)
is checked by the same code on the driver before any Spark job, so the errors are word for word
the local engine's. The rows are then read by Spark and each Arrow batch goes through the same
Polars functions on the executors (`mapInArrow`): the mapping of the file's columns onto the
canonical ones (`io._map_file`) and the row rules (`io.validate_rows`: ids stripped, the time
parsed, the reason a row is unusable). Unusable rows are counted by reason
(`IngestReport.rows_rejected`, the same reasons), a share above ``data.max_rejected_share``
stops the run with the local message (`io.check_rejected_share`), and exact duplicates are
dropped (``data.drop_duplicates``).

Spark reads CSV as text, as the local reader does; NDJSON types are inferred by Spark (a JSON
object where an id belongs is refused on the driver from Polars' view of the same file).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from graphguard import io, schema
from graphguard.config import DataConfig
from graphguard.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: the columns `read_events` hands on: the canonical ids, and the time as microseconds
EVENT_COLUMNS = ("t", schema.ACCOUNT, schema.EVENT_TYPE, schema.DEVICE, schema.IP, schema.TARGET)
_TIME_TEXT = "_time_text"
_OUT_SCHEMA = (
    "t long, account_id string, event_type string, device_id string, ip string, "
    f"target_id string, {_TIME_TEXT} string, reject_reason string, _json_value string"
)


def _needed_columns(config: DataConfig, available: list[str]) -> list[str]:
    """The file columns the mapping reads (a missing optional one is simply absent)."""
    needed: list[str] = []
    for name in schema.EVENT_COLUMNS:
        if name in config.constants:
            continue
        source = config.columns.get(name, name)
        if source is None:
            continue
        for s in [source] if isinstance(source, str) else list(source):
            if s in available and s not in needed:
                needed.append(s)
    return needed


def _validate_batches(config: DataConfig, fmt: str, path: str):
    """The function each executor applies to its Arrow batches: map, then the row rules."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            raw = pl.from_arrow(pa.Table.from_batches([batch]))
            assert isinstance(raw, pl.DataFrame)
            lf = raw.lazy()
            mapped = io._map_file(lf, raw.schema, config, path, fmt)
            time_dtype = mapped.collect_schema()[schema.TIME]
            checked = io.validate_rows(mapped, time_dtype, config)
            json_value = (
                io._json_value_column(config)
                if fmt == "ndjson"
                else pl.lit(None, dtype=pl.String).alias("_json_value")
            )
            out = checked.with_columns(json_value).select(
                pl.col(io._PARSED).dt.epoch("us").alias("t"),
                *[pl.col(c) for c in schema.EVENT_COLUMNS if c != schema.TIME],
                # the time as text is shown for unusable rows only: not held for the others
                pl.when(pl.col(io.REJECT_REASON).is_not_null())
                .then(pl.col(schema.TIME).cast(pl.String))
                .alias(_TIME_TEXT),
                pl.col(io.REJECT_REASON),
                pl.col("_json_value"),
            )
            yield from out.collect().to_arrow().to_batches()

    return run


def _raw_frame(spark: SparkSession, files: list[str], fmt: str) -> DataFrame:
    if fmt == "parquet":
        return spark.read.parquet(*files)
    if fmt == "csv":
        return spark.read.options(header=True, inferSchema=False, encoding="UTF-8").csv(files)
    return spark.read.json(files)


def _collect_error(exc: Exception, path: str) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"Spark could not read it: {first[:300]}", path=path)


def read_events(
    spark: SparkSession, path: str | Path, config: DataConfig | None = None
) -> tuple[DataFrame, pl.DataFrame, io.IngestReport]:
    """Read, validate and deduplicate an event log on Spark (the twin of `io.load_events`).

    Returns ``(events, rejected, report)``: ``events`` is a cached Spark DataFrame of
    `EVENT_COLUMNS` (``t``: microseconds since the epoch, UTC), ``rejected`` the unusable rows
    as text with ``reject_reason`` (a Polars frame; only filled when ``data.keep_rejected``),
    ``report`` the same counts as the local engine's.
    """
    config = config or DataConfig()
    # the schema-level checks, on the driver, with the local reader's code and messages
    source = io._open_events(path, config)
    with io._reading(source.path, source.fmt):
        time_dtype = source.frame.collect_schema()[schema.TIME]
    io._check_epoch_unit(source, time_dtype, config.epoch_unit)
    report = io.IngestReport(path=str(path), format=source.fmt)
    try:
        raw = _raw_frame(spark, source.files, source.fmt)
    except AnalysisException as exc:
        raise _collect_error(exc, str(path)) from exc
    raw = raw.select(*[F.col(f"`{c}`") for c in _needed_columns(config, raw.columns)])
    checked = raw.mapInArrow(
        _validate_batches(config, source.fmt, str(path)), _OUT_SCHEMA
    ).persist()
    try:
        counts = {
            (row["reject_reason"], row["_json"]): row["n"]
            for row in checked.groupBy(
                "reject_reason", F.col("_json_value").isNotNull().alias("_json")
            )
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        }
    except Exception as exc:  # a file Spark cannot parse: name it, as the local reader does
        checked.unpersist()
        raise _collect_error(exc, str(path)) from exc
    report.rows_read = sum(counts.values())
    if report.rows_read == 0:
        checked.unpersist()
        raise InputError("no events: the file has a header but no rows", path=str(path))
    n_json = sum(n for (_, is_json), n in counts.items() if is_json)
    if n_json:
        bad = checked.filter(F.col("_json_value").isNotNull()).first()
        column = bad["_json_value"]
        checked.unpersist()
        raise InputError(
            f"holds JSON objects or arrays in {n_json:,} rows; it must be text or integer ids",
            path=str(path),
            column=io._source_name(config, column),
            example=bad[column],
        )
    rejected_counts: dict[str, int] = {}
    for (reason, _), n in sorted(counts.items(), key=lambda item: str(item[0][0])):
        if reason is not None:
            rejected_counts[reason] = rejected_counts.get(reason, 0) + n
    report.rows_rejected = rejected_counts
    text = {schema.TIME: _TIME_TEXT}
    io.check_rejected_share(
        str(path),
        rejected_counts,
        report.rows_read,
        config,
        lambda reason, column: (
            checked.filter(F.col("reject_reason") == reason)
            .select(text.get(column, column))
            .first()[0]
        ),
    )
    rejected = pl.DataFrame(
        schema={**{c: pl.String for c in schema.EVENT_COLUMNS}, io.REJECT_REASON: pl.String}
    )
    if config.keep_rejected and rejected_counts:
        rows = checked.filter(F.col("reject_reason").isNotNull()).select(
            F.col(_TIME_TEXT).alias(schema.TIME),
            *[c for c in schema.EVENT_COLUMNS if c != schema.TIME],
            "reject_reason",
        )
        rejected = pl.from_arrow(rows.toArrow())
    events = checked.filter(F.col("reject_reason").isNull()).select(*EVENT_COLUMNS)
    usable = report.rows_read - sum(rejected_counts.values())
    if config.drop_duplicates:
        events = events.dropDuplicates(list(EVENT_COLUMNS))
    events = events.persist()
    report.rows_used = events.count()
    report.duplicates_dropped = usable - report.rows_used
    report.accounts = events.select(schema.ACCOUNT).distinct().count()
    checked.unpersist()
    return events, rejected, report
