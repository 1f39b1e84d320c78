"""Reading event logs and labels into canonical, validated frames.

`scan_events` maps a raw log onto the canonical columns lazily; `load_events` validates it in one
pass, counting (and optionally keeping) the rows it cannot use. Every problem with the input is an
`InputError` naming the file, the column and an example value.
"""

from __future__ import annotations

import glob as globlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from graphguard import schema
from graphguard.config import DataConfig
from graphguard.errors import InputError

_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
}
_ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M%#z",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
# Epoch values above this are not plausible seconds (year 5138) and below it not plausible
# milliseconds (1973): used to catch a wrong `epoch_unit` before it silently shifts every time.
_EPOCH_S_MS_BOUNDARY = 100_000_000_000
REJECT_REASON = "reject_reason"


@dataclass
class IngestReport:
    """What happened to the input rows; stored in run.json."""

    path: str
    format: str
    rows_read: int = 0
    duplicates_dropped: int = 0
    rows_rejected: dict[str, int] = field(default_factory=dict)
    rows_used: int = 0
    accounts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "rows_read": self.rows_read,
            "duplicates_dropped": self.duplicates_dropped,
            "rows_rejected": dict(self.rows_rejected),
            "rows_used": self.rows_used,
            "accounts": self.accounts,
        }


def detect_format(path: str | Path, forced: str | None = None) -> str:
    """Input format from ``forced`` or the file extension (a directory means Parquet files)."""
    if forced:
        if forced not in {"parquet", "csv", "ndjson"}:
            raise InputError(
                f"unknown format {forced!r}; use parquet, csv or ndjson", path=str(path)
            )
        return forced
    p = Path(path)
    if p.is_dir():
        return "parquet"
    suffix = p.suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    raise InputError(
        "cannot tell the format from the extension; use .parquet, .csv or .ndjson, "
        "or set data.format",
        path=str(path),
    )


def _resolve_source(path: str | Path, fmt: str) -> str | list[str]:
    text = str(path)
    if any(ch in text for ch in "*?["):
        matches = sorted(globlib.glob(text))
        if not matches:
            raise InputError("no file matches this pattern", path=text)
        return matches
    p = Path(text)
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet"))
        if not files:
            raise InputError("directory holds no .parquet files", path=text)
        return files
    if not p.exists():
        raise InputError("file not found", path=text)
    if p.stat().st_size == 0:
        raise InputError("file is empty", path=text)
    return text


def _scan_raw(path: str | Path, fmt: str) -> pl.LazyFrame:
    source = _resolve_source(path, fmt)
    try:
        if fmt == "parquet":
            return pl.scan_parquet(source)
        if fmt == "csv":
            # Everything as text: ids may look numeric but are identifiers, and times are
            # parsed below with the same rules whatever the format.
            return pl.scan_csv(source, infer_schema=False)
        return pl.scan_ndjson(source, infer_schema_length=10_000)
    except Exception as exc:  # polars raises several types for unreadable input
        raise InputError(f"cannot read as {fmt}: {_first_line(exc)}", path=str(path)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def scan_events(path: str | Path, config: DataConfig | None = None) -> tuple[pl.LazyFrame, str]:
    """Lazily map a raw event log onto the canonical columns (types not yet validated).

    Returns the LazyFrame and the detected format. Raises `InputError` for a missing file,
    an unreadable file or a missing column.
    """
    config = config or DataConfig()
    fmt = detect_format(path, config.format)
    raw = _scan_raw(path, fmt)
    try:
        available = raw.collect_schema()
    except Exception as exc:
        raise InputError(f"cannot read as {fmt}: {_first_line(exc)}", path=str(path)) from exc
    if not available:
        raise InputError("file has no columns", path=str(path))

    exprs: list[pl.Expr] = []
    for name in schema.EVENT_COLUMNS:
        if name in config.constants:
            exprs.append(pl.lit(str(config.constants[name]), dtype=pl.String).alias(name))
            continue
        source = config.columns.get(name, name)
        if source is None:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
            continue
        sources = [source] if isinstance(source, str) else list(source)
        missing = [s for s in sources if s not in available]
        if missing:
            if name in schema.NULLABLE_EVENT_COLUMNS and name not in config.columns:
                exprs.append(pl.lit(None, dtype=pl.String).alias(name))
                continue
            mapped = f" (mapped to {name})" if missing[0] != name else ""
            raise InputError(
                f"missing column{mapped}; the file has: {', '.join(available.names()[:20])}",
                path=str(path),
                column=missing[0],
            )
        if name == schema.TIME and len(sources) == 1:
            exprs.append(pl.col(sources[0]).alias(name))
        elif len(sources) == 1:
            exprs.append(pl.col(sources[0]).cast(pl.String).alias(name))
        else:
            exprs.append(
                pl.concat_str([pl.col(s).cast(pl.String) for s in sources], separator=":").alias(
                    name
                )
            )
    return raw.select(exprs), fmt


def _parse_time(dtype: pl.DataType, epoch_unit: str) -> pl.Expr:
    """Expression turning the raw event_time column into Datetime(us, UTC); null if unparseable."""
    col = pl.col(schema.TIME)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        return col.dt.cast_time_unit("us").dt.convert_time_zone("UTC")
    if isinstance(dtype, pl.Date):
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer() or dtype.is_float():
        return pl.from_epoch(col.cast(pl.Int64), time_unit=epoch_unit).dt.replace_time_zone("UTC")
    text = col.cast(pl.String).str.strip_chars()
    iso = text.str.replace(r"[Zz]$", "+00:00").str.replace("T", " ", literal=True)
    parsed = pl.coalesce(
        [
            iso.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False)
            for f in _ISO_FORMATS
        ]
    )
    epoch = pl.from_epoch(
        text.cast(pl.Int64, strict=False), time_unit=epoch_unit
    ).dt.replace_time_zone("UTC")
    return pl.when(text.str.contains(r"^-?\d+$")).then(epoch).otherwise(parsed)


def _check_epoch_unit(lf: pl.LazyFrame, dtype: pl.DataType, epoch_unit: str, path: str) -> None:
    """Catch integer times in the wrong unit, which would parse 'successfully' into nonsense."""
    col = pl.col(schema.TIME)
    if dtype.is_integer() or dtype.is_float():
        values = col.cast(pl.Int64)
    elif dtype == pl.String:
        values = col.str.strip_chars().cast(pl.Int64, strict=False)
    else:
        return
    # The lower median is a value that is really in the file, so it can serve as the example.
    median = lf.select(values.drop_nulls().quantile(0.5, interpolation="lower")).collect().item()
    if median is None:
        return
    if epoch_unit == "s" and median > _EPOCH_S_MS_BOUNDARY:
        raise InputError(
            "integer times look like epoch milliseconds but data.epoch_unit is 's'; "
            "set data.epoch_unit=ms",
            path=path,
            column=schema.TIME,
            example=int(median),
        )
    if epoch_unit == "ms" and median < _EPOCH_S_MS_BOUNDARY:
        raise InputError(
            "integer times look like epoch seconds but data.epoch_unit is 'ms'; "
            "set data.epoch_unit=s",
            path=path,
            column=schema.TIME,
            example=int(median),
        )


def load_events(
    path: str | Path, config: DataConfig | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, IngestReport]:
    """Read, validate and deduplicate an event log.

    Returns ``(events, rejected, report)``: ``events`` has exactly the canonical columns and dtypes
    (`schema.EVENT_SCHEMA`); ``rejected`` holds the unusable rows as text with a
    ``reject_reason`` column; ``report`` counts what happened.
    """
    config = config or DataConfig()
    if config.epoch_unit not in {"s", "ms"}:
        raise InputError(f"data.epoch_unit must be 's' or 'ms', not {config.epoch_unit!r}")
    lf, fmt = scan_events(path, config)
    report = IngestReport(path=str(path), format=fmt)
    time_dtype = lf.collect_schema()[schema.TIME]
    _check_epoch_unit(lf, time_dtype, config.epoch_unit, str(path))

    strings = [
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None).alias(c)
        for c in schema.EVENT_COLUMNS
        if c != schema.TIME
    ]
    parsed_time = _parse_time(time_dtype, config.epoch_unit).alias("_parsed_time")
    reason = (
        pl.when(pl.col(schema.ACCOUNT).is_null())
        .then(pl.lit("null_account_id"))
        .when(pl.col(schema.TIME).is_null())
        .then(pl.lit("null_event_time"))
        .when(pl.col("_parsed_time").is_null())
        .then(pl.lit("unparseable_event_time"))
        .when(pl.col(schema.EVENT_TYPE).is_null())
        .then(pl.lit("null_event_type"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(REJECT_REASON)
    )
    try:
        frame = lf.with_columns(strings).with_columns(parsed_time).with_columns(reason).collect()
    except Exception as exc:
        raise InputError(f"cannot read as {fmt}: {_first_line(exc)}", path=str(path)) from exc

    report.rows_read = frame.height
    if frame.height == 0:
        raise InputError("no events: the file has a header but no rows", path=str(path))

    bad_mask = frame.get_column(REJECT_REASON).is_not_null()
    rejected = frame.filter(bad_mask)
    if rejected.height:
        counts = rejected.group_by(REJECT_REASON).len().sort(REJECT_REASON)
        report.rows_rejected = dict(zip(counts[REJECT_REASON], counts["len"], strict=True))
        share = rejected.height / frame.height
        if share > config.max_rejected_share:
            worst = counts.sort("len", descending=True).row(0)[0]
            column = (
                schema.ACCOUNT
                if worst == "null_account_id"
                else (schema.EVENT_TYPE if worst == "null_event_type" else schema.TIME)
            )
            example_row = rejected.filter(pl.col(REJECT_REASON) == worst).row(0, named=True)
            raise InputError(
                f"{rejected.height:,} of {frame.height:,} rows unusable ({worst}); "
                f"more than data.max_rejected_share={config.max_rejected_share}",
                path=str(path),
                column=column,
                example=example_row[column],
            )
    rejected = rejected.select(
        [pl.col(schema.TIME).cast(pl.String)]
        + [pl.col(c) for c in schema.EVENT_COLUMNS if c != schema.TIME]
        + [pl.col(REJECT_REASON)]
    )

    events = frame.filter(~bad_mask).select(
        [pl.col("_parsed_time").alias(schema.TIME)]
        + [pl.col(c) for c in schema.EVENT_COLUMNS if c != schema.TIME]
    )
    if config.drop_duplicates:
        before = events.height
        events = drop_exact_duplicates(events)
        report.duplicates_dropped = before - events.height
    report.rows_used = events.height
    report.accounts = events.get_column(schema.ACCOUNT).n_unique()
    return events, rejected, report


def drop_exact_duplicates(events: pl.DataFrame) -> pl.DataFrame:
    """Drop exact duplicate rows, keeping the first, in the original order.

    A 64-bit row hash finds the few candidate rows cheaply (a full `unique` over ten million
    string rows costs seconds); only those go through an exact comparison, so a hash collision
    can never merge two different events.
    """
    candidate = events.select(pl.struct(pl.all()).hash().is_duplicated()).to_series()
    if not candidate.any():
        return events
    suspects = events.with_row_index("_row").filter(candidate)
    first = suspects.unique(subset=events.columns, keep="first").get_column("_row")
    mask = ~candidate.to_numpy()
    mask[first.to_numpy()] = True
    return events.filter(pl.Series(mask))


def load_labels(
    path: str | Path, *, known_accounts: pl.Series | None = None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Read a labels file (account_id, label) and check it.

    Unknown labels and conflicting duplicate rows are errors. Labels for accounts that never
    appear in the events (``known_accounts``) are counted in the returned stats, not dropped
    silently: the caller decides and reports.
    """
    fmt = detect_format(path)
    raw = _scan_raw(path, fmt)
    try:
        names = raw.collect_schema().names()
    except Exception as exc:
        raise InputError(f"cannot read as {fmt}: {_first_line(exc)}", path=str(path)) from exc
    for col in (schema.ACCOUNT, schema.LABEL):
        if col not in names:
            raise InputError(
                f"missing column; the file has: {', '.join(names[:20])}", path=str(path), column=col
            )
    try:
        labels = raw.select(
            pl.col(schema.ACCOUNT).cast(pl.String).str.strip_chars(),
            pl.col(schema.LABEL).cast(pl.String).str.strip_chars(),
        ).collect()
    except Exception as exc:
        raise InputError(f"cannot read as {fmt}: {_first_line(exc)}", path=str(path)) from exc
    if labels.height == 0:
        raise InputError("no labels: the file has a header but no rows", path=str(path))
    null_ids = labels.filter(pl.col(schema.ACCOUNT).is_null())
    if null_ids.height:
        raise InputError(
            f"{null_ids.height} rows have no account id", path=str(path), column=schema.ACCOUNT
        )
    unknown = labels.filter(
        ~pl.col(schema.LABEL).is_in(schema.LABELS) | pl.col(schema.LABEL).is_null()
    )
    if unknown.height:
        raise InputError(
            f"unknown label in {unknown.height} rows; allowed: {', '.join(schema.LABELS)}",
            path=str(path),
            column=schema.LABEL,
            example=unknown.get_column(schema.LABEL)[0],
        )
    labels = labels.unique(maintain_order=True)
    conflicts = labels.filter(pl.col(schema.ACCOUNT).is_duplicated())
    if conflicts.height:
        raise InputError(
            "account has conflicting labels",
            path=str(path),
            column=schema.ACCOUNT,
            example=conflicts.get_column(schema.ACCOUNT)[0],
        )
    stats = {"rows": labels.height}
    for name in schema.LABELS:
        stats[name] = int((labels.get_column(schema.LABEL) == name).sum())
    if known_accounts is not None:
        unknown_accounts = labels.filter(~pl.col(schema.ACCOUNT).is_in(known_accounts.implode()))
        stats["accounts_not_in_events"] = unknown_accounts.height
        labels = labels.filter(pl.col(schema.ACCOUNT).is_in(known_accounts.implode()))
    return labels, stats
