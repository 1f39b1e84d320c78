"""Reading event logs and labels into canonical, validated frames.

`scan_events` maps a raw log onto the canonical columns lazily; `load_events` validates it in one
pass, counting (and optionally keeping) the rows it cannot use. Every problem with the input is an
`InputError` naming the file, the column and an example value.

What is checked, and where:

* reading: every Polars read (schema or rows) goes through `_reading`, so an unreadable file,
  non-UTF-8 text, a broken NDJSON line or an unbalanced CSV quote names the file (and, for text,
  the line). UTF-16/32 text is refused as not UTF-8; a UTF-8 byte-order mark is accepted.
* files of a directory or glob are read one by one, each mapped onto the needed columns only:
  other columns are ignored in every file alike, and a needed column missing from one file, or
  stored as a time in one file and as a number in another, names that file.
* types: id columns (account, event type, device, ip, target) must be text or integers (read as
  strings); a boolean, float, list or JSON object there is refused with an example.
* times: a time outside `DataConfig.event_years` (epoch milliseconds read as seconds, a corrupted
  timestamp, 0 for "unknown") is an unusable row, reason ``event_time_out_of_range``; NaN and
  infinite epochs are ``unparseable_event_time``. A whole column in the wrong epoch unit is an
  error naming the setting.
* IP addresses are kept as opaque text: the graph only asks whether two accounts share one, and a
  malformed address (``10.0.0.999``, ``unknown``) is still a consistent key, so its row is used,
  not rejected. IPv6 text is kept as written.
"""

from __future__ import annotations

import glob as globlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.config import DataConfig
from graphguard.errors import InputError, inert

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

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
OUT_OF_RANGE = "event_time_out_of_range"
_PARSED = "_parsed_time"
_OUT_OF_RANGE = "_time_out_of_range"
# Timestamps beyond about year +-250,000 would overflow when widened to microseconds or printed
# (polars panics); they are clipped to it first, and so fall out of the plausible range, as the
# corrupt values they are.
_MAX_PHYSICAL = {"ms": 8_000_000_000_000_000, "us": 8_000_000_000_000_000_000}
_MAX_DAYS = 90_000_000
# How much of a text file is read again to find the line behind a read error.
_DIAGNOSE_BYTES = 64 * 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


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


def _resolve_files(path: str | Path) -> list[str]:
    """The files behind ``path``: itself, the matches of a glob, or a directory's .parquet files."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        matches = sorted(f for f in globlib.glob(text) if Path(f).is_file())
        if not matches:
            raise InputError("no file matches this pattern", path=text)
        files = matches
    else:
        p = Path(text)
        if p.is_dir():
            files = sorted(str(f) for f in p.rglob("*.parquet") if f.is_file())
            if not files:
                raise InputError("directory holds no .parquet files", path=text)
        elif not p.exists():
            raise InputError("file not found", path=text)
        else:
            files = [text]
    for name in files:
        if Path(name).stat().st_size == 0:
            raise InputError("file is empty", path=name)
    return files


def _text_head(file: str, fmt: str) -> bytes:
    """The first bytes of a CSV or NDJSON file, refusing UTF-16/32 text (polars reads UTF-8)."""
    if fmt == "parquet":
        return b""
    with open(file, "rb") as fh:
        head = fh.read(4096)
    for bom, name in _WIDE_BOMS.items():
        if head.startswith(bom):
            raise InputError(
                f"the file is {name} text, not UTF-8; re-encode it as UTF-8", path=file
            )
    if b"\x00" in head:
        raise InputError(
            "the file holds NUL bytes: not UTF-8 text (UTF-16?); re-encode it as UTF-8", path=file
        )
    return head


def _scan_file(file: str, fmt: str) -> pl.LazyFrame:
    head = _text_head(file, fmt)
    with _reading(file, fmt):
        if fmt == "parquet":
            return pl.scan_parquet(file)
        if fmt == "csv":
            # Everything as text: ids may look numeric but are identifiers, and times are
            # parsed below with the same rules whatever the format. Polars skips a UTF-8 BOM.
            return pl.scan_csv(file, infer_schema=False)
        if head.startswith(_UTF8_BOM):  # polars' NDJSON reader does not skip it
            return pl.scan_ndjson(
                Path(file).read_bytes()[len(_UTF8_BOM) :], infer_schema_length=10_000
            )
        return pl.scan_ndjson(file, infer_schema_length=10_000)


# Not about the file: passed through as they are.
_NOT_READ_ERRORS = (InputError, KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


@contextmanager
def _reading(file: str, fmt: str) -> Iterator[None]:
    """Turn whatever a reader raises into an `InputError` naming ``file``."""
    try:
        yield
    except _NOT_READ_ERRORS:
        raise
    # polars raises several types for unreadable input, and a Rust panic is a BaseException
    except BaseException as exc:
        raise InputError(_read_problem(exc, file, fmt), path=file) from exc


def _read_problem(exc: BaseException, file: str, fmt: str) -> str:
    text = _first_line(exc)
    if fmt != "parquet" and Path(file).is_file():
        if "utf-8" in text.lower() or "utf8" in text.lower():
            return _utf8_problem(file)
        if fmt == "ndjson":
            line = _bad_json_line(file)
            if line is not None:
                return f"cannot read as ndjson: line {line:,} is not a JSON object ({text})"
    if fmt == "csv" and "malformed" in text.lower():
        text += " (an unbalanced quote?)"
    return f"cannot read as {fmt}: {text}"


def _utf8_problem(file: str) -> str:
    """Where a text file stops being UTF-8 (only on the error path, from its first 64 MiB)."""
    with open(file, "rb") as fh:
        data = fh.read(_DIAGNOSE_BYTES)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 4 or len(data) < _DIAGNOSE_BYTES:
            line = data.count(b"\n", 0, exc.start) + 1
            return (
                f"not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line:,}; "
                "re-encode the file as UTF-8"
            )
    return "not UTF-8 text; re-encode the file as UTF-8"


def _bad_json_line(file: str) -> int | None:
    """The first line of an NDJSON file that is not a JSON object (error path, first 64 MiB)."""
    with open(file, "rb") as fh:
        data = fh.read(_DIAGNOSE_BYTES)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    lines = data.split(b"\n")
    if len(data) == _DIAGNOSE_BYTES:
        lines = lines[:-1]  # may be cut short
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            return number
        if not isinstance(value, dict):
            return number
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return inert(text[0]) if text else type(exc).__name__


def _columns_list(names: list[str]) -> str:
    shown = ", ".join(inert(n) for n in names[:20])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def _is_id_dtype(dtype: pl.DataType) -> bool:
    return (
        dtype == pl.String
        or dtype.is_integer()
        or isinstance(dtype, (pl.Categorical, pl.Enum, pl.Null))
    )


def _is_time_dtype(dtype: pl.DataType) -> bool:
    return (
        dtype == pl.String
        or dtype.is_integer()
        or dtype.is_float()
        or isinstance(dtype, (pl.Datetime, pl.Date, pl.Null))
    )


def _time_kind(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if dtype.is_numeric():
        return "number"
    return "text"


def _example(raw: pl.LazyFrame, column: str, file: str, fmt: str) -> Any:
    """The column's first value, for a message; None where even that cannot be read."""
    try:
        return raw.select(pl.col(column).drop_nulls().first()).collect().item()
    except _NOT_READ_ERRORS:
        raise
    except BaseException:
        return None


def _wrong_type(raw: pl.LazyFrame, column: str, dtype: pl.DataType, file: str, fmt: str) -> None:
    example = _example(raw, column, file, fmt)
    raise InputError(
        f"holds {dtype} values; it must be text or integer ids",
        path=file,
        column=column,
        example=example,
    )


def _normalise_time(source: str, dtype: pl.DataType) -> pl.Expr:
    """A file's raw time column with timestamps as Datetime(us, UTC); other kinds as they are."""
    col = pl.col(source)
    if isinstance(dtype, pl.Date):
        return (
            col.cast(pl.Int32)
            .clip(-_MAX_DAYS, _MAX_DAYS)
            .cast(pl.Date)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
    if isinstance(dtype, pl.Datetime):
        limit = _MAX_PHYSICAL.get(dtype.time_unit)
        if limit is not None:
            col = col.cast(pl.Int64).clip(-limit, limit).cast(dtype)
        col = col.dt.cast_time_unit("us")
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC")
        return col.dt.convert_time_zone("UTC")
    if isinstance(dtype, pl.Null):
        return col.cast(pl.String)
    return col


def _map_file(
    raw: pl.LazyFrame, available: pl.Schema, config: DataConfig, file: str, fmt: str
) -> pl.LazyFrame:
    """One file's needed columns, mapped onto the canonical names (times not yet parsed)."""
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
                f"missing column{mapped}; the file has: {_columns_list(available.names())}",
                path=file,
                column=missing[0],
            )
        if name == schema.TIME and len(sources) == 1:
            dtype = available[sources[0]]
            if not _is_time_dtype(dtype):
                example = _example(raw, sources[0], file, fmt)
                raise InputError(
                    f"holds {dtype} values; it must be a timestamp, ISO-8601 text or epoch numbers",
                    path=file,
                    column=sources[0],
                    example=example,
                )
            exprs.append(_normalise_time(sources[0], dtype).alias(name))
            continue
        for s in sources:
            if not _is_id_dtype(available[s]):
                _wrong_type(raw, s, available[s], file, fmt)
        if len(sources) == 1:
            exprs.append(pl.col(sources[0]).cast(pl.String).alias(name))
        else:
            exprs.append(
                pl.concat_str([pl.col(s).cast(pl.String) for s in sources], separator=":").alias(
                    name
                )
            )
    return raw.select(exprs)


def _source_name(config: DataConfig, name: str) -> str:
    """The file's column behind canonical ``name`` (itself when mapped to several or none)."""
    source = config.columns.get(name, name)
    return source if isinstance(source, str) else name


@dataclass
class _Source:
    """An event log as files, each mapped lazily onto the canonical columns."""

    path: str
    fmt: str
    files: list[str]
    frames: list[pl.LazyFrame]

    @property
    def frame(self) -> pl.LazyFrame:
        if len(self.frames) == 1:
            return self.frames[0]
        return pl.concat(self.frames, how="vertical_relaxed")

    def collect(self, lf: pl.LazyFrame, *, streaming: bool = False) -> pl.DataFrame:
        """Collect ``lf`` (built on `frame`); a read error names the file that caused it.
        ``streaming``: in Polars' streaming engine, morsel by morsel."""
        try:
            return lf.collect(engine="streaming" if streaming else "auto")
        except _NOT_READ_ERRORS:
            raise
        except BaseException as exc:
            if len(self.files) > 1:
                for file, frame in zip(self.files, self.frames, strict=True):
                    with _reading(file, self.fmt):
                        frame.collect()
            file = self.files[0] if len(self.files) == 1 else self.path
            raise InputError(_read_problem(exc, file, self.fmt), path=file) from exc


def _open_events(path: str | Path, config: DataConfig) -> _Source:
    fmt = detect_format(path, config.format)
    files = _resolve_files(path)
    frames: list[pl.LazyFrame] = []
    first_kind: tuple[str, str] | None = None
    for file in files:
        raw = _scan_file(file, fmt)
        with _reading(file, fmt):
            available = raw.collect_schema()
        if not available:
            raise InputError("file has no columns", path=file)
        frame = _map_file(raw, available, config, file, fmt)
        with _reading(file, fmt):
            time_dtype = frame.collect_schema()[schema.TIME]
        kind = _time_kind(time_dtype)
        if first_kind is None:
            first_kind = (kind, file)
        elif kind != first_kind[0]:
            raise InputError(
                f"times are stored as {kind} here but as {first_kind[0]} in "
                f"{inert(first_kind[1])}; every file must store them the same way",
                path=file,
                column=_source_name(config, schema.TIME),
            )
        frames.append(frame)
    return _Source(str(path), fmt, files, frames)


def scan_events(path: str | Path, config: DataConfig | None = None) -> tuple[pl.LazyFrame, str]:
    """Lazily map a raw event log onto the canonical columns (times not yet parsed).

    Returns the LazyFrame and the detected format. Raises `InputError` for a missing file,
    an unreadable file, a missing column or an id column of the wrong type.
    """
    source = _open_events(path, config or DataConfig())
    return source.frame, source.fmt


def _year_bounds(config: DataConfig) -> tuple[datetime, datetime]:
    years = config.event_years
    ok = (
        isinstance(years, (list, tuple))
        and len(years) == 2
        and all(isinstance(y, int) and not isinstance(y, bool) for y in years)
        and 1 <= years[0] <= years[1] < 9999
    )
    if not ok:
        raise InputError(
            f"data.event_years must be two years, first <= last, not {inert(repr(years))}"
        )
    return (
        datetime(years[0], 1, 1, tzinfo=timezone.utc),
        datetime(years[1] + 1, 1, 1, tzinfo=timezone.utc),
    )


def _epoch(moment: datetime, unit: str) -> int:
    seconds = int((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds())
    return seconds * (1000 if unit == "ms" else 1)


def _parse_time(
    dtype: pl.DataType, epoch_unit: str, bounds: tuple[datetime, datetime]
) -> tuple[pl.Expr, pl.Expr]:
    """Expressions for the parsed time (Datetime(us, UTC), null if unparseable) and whether a
    parsed time lies outside ``bounds`` (start inclusive, end exclusive)."""
    start, end = bounds
    col = pl.col(schema.TIME)
    if isinstance(dtype, pl.Datetime):
        return col, ~((col >= start) & (col < end))
    lo, hi = _epoch(start, epoch_unit), _epoch(end, epoch_unit)
    per_us = 1_000_000 if epoch_unit == "s" else 1_000

    def from_epoch(number: pl.Expr) -> pl.Expr:
        # clipped first: a wild value must not overflow microseconds; it is out of range anyway
        return pl.from_epoch(number.clip(lo - 1, hi) * per_us, time_unit="us").dt.replace_time_zone(
            "UTC"
        )

    if dtype.is_float():
        finite = col.is_finite()
        in_range = (col >= lo) & (col < hi)
        parsed = pl.when(finite & in_range).then(
            pl.from_epoch(
                (col * per_us).cast(pl.Int64, strict=False), time_unit="us"
            ).dt.replace_time_zone("UTC")
        )
        return parsed, finite & ~in_range
    if dtype.is_integer():
        number = col.cast(pl.Int64)
        return from_epoch(number), ~((number >= lo) & (number < hi))
    text = col.cast(pl.String).str.strip_chars()
    iso = text.str.replace(r"[Zz]$", "+00:00").str.replace("T", " ", literal=True)
    parsed_iso = pl.coalesce(
        [
            iso.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False)
            for f in _ISO_FORMATS
        ]
    )
    is_integer = text.str.contains(r"^-?\d+$")
    number = text.cast(pl.Int64, strict=False)
    parsed = pl.when(is_integer).then(from_epoch(number)).otherwise(parsed_iso)
    out = (
        pl.when(is_integer)
        .then(~((number >= lo) & (number < hi)))
        .otherwise(~((parsed_iso >= start) & (parsed_iso < end)))
    )
    return parsed, out


def _check_epoch_unit(source: _Source, dtype: pl.DataType, epoch_unit: str) -> None:
    """Catch integer times in the wrong unit, which would parse 'successfully' into nonsense."""
    col = pl.col(schema.TIME)
    if dtype.is_integer():
        values = col.cast(pl.Int64)
    elif dtype.is_float():
        values = pl.when(col.is_finite()).then(col).cast(pl.Int64, strict=False)
    elif dtype == pl.String:
        values = col.str.strip_chars().cast(pl.Int64, strict=False)
    else:
        return
    # The lower median is a value that is really in the file, so it can serve as the example.
    # Only a column that is mostly epoch numbers is judged: a few stray numbers among ISO text
    # are out-of-range rows, not a unit.
    median, numbers, times = source.collect(
        source.frame.select(
            values.drop_nulls().quantile(0.5, interpolation="lower"),
            values.count().alias("_numbers"),
            col.count().alias("_times"),
        )
    ).row(0)
    if median is None or 2 * numbers <= times:
        return
    if epoch_unit == "s" and median > _EPOCH_S_MS_BOUNDARY:
        raise InputError(
            "integer times look like epoch milliseconds but data.epoch_unit is 's'; "
            "set data.epoch_unit=ms",
            path=source.path,
            column=schema.TIME,
            example=int(median),
        )
    if epoch_unit == "ms" and median < _EPOCH_S_MS_BOUNDARY:
        raise InputError(
            "integer times look like epoch seconds but data.epoch_unit is 'ms'; "
            "set data.epoch_unit=s",
            path=source.path,
            column=schema.TIME,
            example=int(median),
        )


_JSON_VALUE = "_json_value"
_ID_COLUMNS = tuple(c for c in schema.EVENT_COLUMNS if c != schema.TIME)


def _json_value_column(config: DataConfig) -> pl.Expr:
    """NDJSON: the first id column of each row holding a JSON object or array.

    Polars' NDJSON reader turns such a value into its JSON text when the column also holds
    strings, so the type check of `_map_file` cannot see it; the text can.
    """
    looks_json = [
        pl.when(pl.col(c).str.contains(r"^[\[{]")).then(pl.lit(c))
        for c in _ID_COLUMNS
        if c not in config.constants
    ]
    return pl.coalesce(looks_json).alias(_JSON_VALUE)


def _refuse_json_values(frame: pl.DataFrame, source: _Source, config: DataConfig) -> None:
    bad = frame.filter(pl.col(_JSON_VALUE).is_not_null())
    if bad.height:
        column = bad.get_column(_JSON_VALUE)[0]
        raise InputError(
            f"holds JSON objects or arrays in {bad.height:,} rows; it must be text or integer ids",
            path=source.path,
            column=_source_name(config, column),
            example=bad.get_column(column)[0],
        )


_REASON_COLUMN = {
    "null_account_id": schema.ACCOUNT,
    "null_event_type": schema.EVENT_TYPE,
}


def _reject_reason(time_is_null: pl.Expr) -> pl.Expr:
    """Why a row is unusable (null when it is usable): the first failing check, in this order.
    ``time_is_null``: whether the raw time cell is empty."""
    return (
        pl.when(pl.col(schema.ACCOUNT).is_null())
        .then(pl.lit("null_account_id"))
        .when(time_is_null)
        .then(pl.lit("null_event_time"))
        .when(pl.col(_OUT_OF_RANGE))
        .then(pl.lit(OUT_OF_RANGE))
        .when(pl.col(_PARSED).is_null())
        .then(pl.lit("unparseable_event_time"))
        .when(pl.col(schema.EVENT_TYPE).is_null())
        .then(pl.lit("null_event_type"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(REJECT_REASON)
    )


def _normalised_text() -> list[pl.Expr]:
    """Id cells as they are used: surrounding white space stripped, an empty cell is null."""
    return [
        pl.col(c).str.strip_chars().replace("", None).alias(c)
        for c in schema.EVENT_COLUMNS
        if c != schema.TIME
    ]


@dataclass
class _Checked:
    """A log opened and checked for its time unit, with what parsing its times needs."""

    source: _Source
    report: IngestReport
    time_dtype: pl.DataType
    parsed: pl.Expr
    out_of_range: pl.Expr


def _open_checked(path: str | Path, config: DataConfig) -> _Checked:
    if config.epoch_unit not in {"s", "ms"}:
        raise InputError(f"data.epoch_unit must be 's' or 'ms', not {config.epoch_unit!r}")
    bounds = _year_bounds(config)
    source = _open_events(path, config)
    report = IngestReport(path=str(path), format=source.fmt)
    with _reading(source.path, source.fmt):
        time_dtype = source.frame.collect_schema()[schema.TIME]
    _check_epoch_unit(source, time_dtype, config.epoch_unit)
    parsed, out_of_range = _parse_time(time_dtype, config.epoch_unit, bounds)
    return _Checked(source, report, time_dtype, parsed, out_of_range)


def _count_rejected(
    reasons: pl.Series, rows: int, rejected_rows: Any, path: str | Path, config: DataConfig
) -> dict[str, int]:
    """Rejected rows by reason; refuses a log with more than ``data.max_rejected_share`` of
    them (`check_rejected_share`). ``rejected_rows()`` gives the rejected rows as text (only
    called when there are)."""
    bad = reasons.drop_nulls()
    if bad.len() == 0:
        return {}
    counts = bad.value_counts(name="len").sort(REJECT_REASON)
    by_reason = dict(zip(counts[REJECT_REASON], counts["len"], strict=True))
    check_rejected_share(
        str(path),
        by_reason,
        rows,
        config,
        lambda reason, column: (
            rejected_rows().filter(pl.col(REJECT_REASON) == reason).get_column(column).item(0)
        ),
    )
    return by_reason


def check_rejected_share(
    path: str,
    rows_rejected: dict[str, int],
    rows_read: int,
    config: DataConfig,
    example: Callable[[str, str], Any],
) -> None:
    """Stop a run whose unusable rows are more than ``data.max_rejected_share`` of the input:
    the error names the commonest reason, its column and an example (``example(reason,
    column)`` gives one rejected row's value, as text). Both engines call it."""
    n_rejected = sum(rows_rejected.values())
    if not n_rejected or n_rejected / rows_read <= config.max_rejected_share:
        return
    worst = sorted(rows_rejected.items(), key=lambda item: (-item[1], item[0]))[0][0]
    column = _REASON_COLUMN.get(worst, schema.TIME)
    raise InputError(
        f"{n_rejected:,} of {rows_read:,} rows unusable ({worst}); "
        f"more than data.max_rejected_share={config.max_rejected_share}",
        path=path,
        column=column,
        example=example(worst, column),
    )


def validate_rows(lf: Frame, time_dtype: pl.DataType, config: DataConfig) -> Frame:
    """Mapped events (`scan_events`) with ids stripped (empty -> null), the time parsed
    (``_parsed_time``) and each unusable row's ``reject_reason`` (null: usable): the row rules
    of `load_events` (`_normalised_text`, `_parse_time`, `_reject_reason`) as one step, which
    the Spark engine applies to each Arrow batch (`graphguard.spark.read`)."""
    parsed, out_of_range = _parse_time(time_dtype, config.epoch_unit, _year_bounds(config))
    return (
        lf.with_columns(_normalised_text())
        .with_columns(parsed.alias(_PARSED), out_of_range.alias(_OUT_OF_RANGE))
        .with_columns(_reject_reason(pl.col(schema.TIME).is_null()))
    )


def _rejected_text(frame: pl.LazyFrame | pl.DataFrame) -> Any:
    # as text first: an out-of-range time (year 57971) has no Python datetime to be shown as
    return frame.select(
        [pl.col(schema.TIME).cast(pl.String)]
        + [pl.col(c) for c in schema.EVENT_COLUMNS if c != schema.TIME]
        + [pl.col(REJECT_REASON)]
    )


def _rejected_schema() -> dict[str, pl.DataType]:
    return {**{c: pl.String() for c in schema.EVENT_COLUMNS}, REJECT_REASON: pl.String()}


def load_events(
    path: str | Path, config: DataConfig | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, IngestReport]:
    """Read, validate and deduplicate an event log.

    Returns ``(events, rejected, report)``: ``events`` has exactly the canonical columns and dtypes
    (`schema.EVENT_SCHEMA`); ``rejected`` holds the unusable rows as text with a
    ``reject_reason`` column; ``report`` counts what happened. `load_indexed` reads the same
    rows into integer codes without holding their text.
    """
    config = config or DataConfig()
    checked = _open_checked(path, config)
    source, report = checked.source, checked.report
    lf = (
        source.frame.with_columns(_normalised_text())
        .with_columns(checked.parsed.alias(_PARSED), checked.out_of_range.alias(_OUT_OF_RANGE))
        .with_columns(_reject_reason(pl.col(schema.TIME).is_null()))
    )
    if source.fmt == "ndjson":
        lf = lf.with_columns(_json_value_column(config))
    frame = source.collect(lf)
    if source.fmt == "ndjson":
        _refuse_json_values(frame, source, config)

    report.rows_read = frame.height
    if frame.height == 0:
        raise InputError("no events: the file has a header but no rows", path=str(path))

    bad_mask = frame.get_column(REJECT_REASON).is_not_null()
    rejected = _rejected_text(frame.filter(bad_mask))
    report.rows_rejected = _count_rejected(
        frame.get_column(REJECT_REASON), frame.height, lambda: rejected, path, config
    )
    events = frame.filter(~bad_mask).select(
        [pl.col(_PARSED).alias(schema.TIME)]
        + [pl.col(c) for c in schema.EVENT_COLUMNS if c != schema.TIME]
    )
    if config.drop_duplicates:
        before = events.height
        events = drop_exact_duplicates(events)
        report.duplicates_dropped = before - events.height
    report.rows_used = events.height
    report.accounts = events.get_column(schema.ACCOUNT).n_unique()
    return events, rejected, report


#: the indexed events' columns for each canonical id column (`encode_ids` codes them)
INDEXED_COLUMNS: dict[str, str] = {
    schema.ACCOUNT: "account",
    schema.EVENT_TYPE: "event_type",
    schema.DEVICE: "device",
    schema.IP: "ip",
    schema.TARGET: "target",
}


def encode_ids(
    values: pl.Series, *, normalise: bool = False, categories_held: bool = False
) -> pl.Series:
    """Text ids as an `pl.Enum` whose categories are their distinct values in sorted order.

    The code of a value is its rank among the sorted distinct values, so sorting, grouping and
    breaking ties on the codes gives exactly what the text would, at the cost of integers; the
    text is there again with ``cast(pl.String)``. A `pl.Categorical` input (what
    `load_indexed` streams) is recoded from its categories: each distinct value is made
    text and ranked once, and each row costs one lookup in a table of them;
    ``categories_held`` says every category is some row's value (cast from text with fresh
    categories, not filtered since), which spares finding out. With ``normalise``, values
    are stripped of surrounding white space first and an empty value becomes null.
    """
    codes, categories = _sorted_codes(values, normalise=normalise, categories_held=categories_held)
    # Polars builds an Enum's lookup table each time its dtype is handed over: once here,
    # for the categories themselves; the rows are then a gather of them
    by_code = categories.cast(pl.Enum(categories))
    return by_code.gather(codes).alias(values.name)


def _sorted_codes(
    values: pl.Series, *, normalise: bool, categories_held: bool
) -> tuple[pl.Series, pl.Series]:
    """`encode_ids` as UInt32 codes (null where the value is) and the sorted categories."""
    if not isinstance(values.dtype, pl.Categorical):
        values = values.cast(pl.String).cast(pl.Categorical(pl.Categories.random()))
        categories_held = True
    rows, text = _category_rows(values, categories_held=categories_held)
    if normalise:
        text = text.str.strip_chars().replace("", None)
    # one sort of the distinct values: a value's dense rank is its code + 1 (null stays null)
    rank = text.rank("dense").cast(pl.UInt32)
    valued = rank.is_not_null().to_numpy()
    null_code = int(rank.max() or 0)  # type: ignore[arg-type]
    lookup = np.full(text.len() + 1, null_code, dtype=np.uint32)
    lookup[:-1][valued] = rank.filter(valued).to_numpy() - 1
    first_of_code = np.empty(null_code, dtype=np.int64)
    first_of_code[lookup[:-1][valued]] = np.flatnonzero(valued)
    categories = text.gather(pl.Series(first_of_code)).alias(values.name)
    codes = pl.Series(values.name, lookup[rows])
    if not valued.all() or values.null_count():
        codes = pl.select(pl.when(codes != null_code).then(codes)).to_series()
    return codes, categories


def _category_rows(
    values: pl.Series, *, categories_held: bool = False
) -> tuple[np.ndarray, pl.Series]:
    """For a Categorical column: each row's position in ``text`` (a null row: ``len(text)``),
    and ``text``, each distinct value once, null where no row holds it.

    ``text`` is read from the column's categories (in physical order), so no row is turned
    into text; unless ``categories_held``, categories that no row holds (the column was
    filtered, or they are shared with other columns) are found and nulled. Where the
    categories do not cover every physical id (one reserved by a concurrent query, per
    Polars' docs), the rows' distinct ids are found and their text gathered from one row of
    each instead."""
    physical = values.to_physical()
    # ids above the largest a row holds are no row's: their text is not needed
    top = int(physical.max() or 0) + 1  # type: ignore[operator]
    text = _categories_text(values.dtype, top)
    if text is None or text.null_count():
        return _distinct_rows(values)
    rows = physical.fill_null(top).to_numpy()
    if not categories_held:
        held = np.zeros(top + 1, dtype=bool)
        held[rows] = True
        if not held[:top].all():
            text = pl.select(pl.when(pl.Series(held[:top])).then(text)).to_series()
    return rows, text


def _categories_text(dtype: pl.DataType, top: int) -> pl.Series | None:
    """The text of a Categorical dtype's physical ids ``0 .. top - 1`` (null where an id has
    none, such as one reserved by a concurrent query); None where Polars cannot map them.

    One vectorised cast of the ids to the dtype (``cat.to``): ``Categories.to_series`` builds
    the same Series in a Python loop over every category, which on the million-odd ids, IPs
    and targets of a 10M-event log cost seconds of the read."""
    ids = pl.Series(np.arange(top, dtype=np.uint32))
    try:
        return pl.select(pl.lit(ids).cat.to(dtype, strict=False).cast(pl.String)).to_series()
    except (AttributeError, TypeError, pl.exceptions.PolarsError):
        return None


def _distinct_rows(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """`_category_rows` from the rows alone: their distinct physical ids, each one's text
    taken from its first row (counted with numpy: no hashing of rows)."""
    physical = values.to_physical()
    top = int(physical.max() or 0) + 1  # type: ignore[operator]
    rows = physical.fill_null(top).to_numpy()
    # 32-bit positions while they fit: at 10^8 rows the temporaries are what costs memory
    index = np.uint32 if rows.size < 2**32 - 1 else np.uint64
    none = np.iinfo(index).max
    order = np.arange(rows.size - 1, -1, -1, dtype=index)
    first_row = np.full(top + 1, none, dtype=index)
    first_row[rows[order]] = order  # the last write wins: each id's first row
    del order
    held = first_row[:top] != none
    ids = np.flatnonzero(held)
    found = values.gather(pl.Series(first_row[ids])).cast(pl.String)
    text = pl.repeat(None, top, dtype=pl.String, eager=True).scatter(ids, found)
    return rows, text


def index_columns(
    columns: dict[str, pl.Series], *, normalise: bool = False, categories_held: bool = False
) -> tuple[pl.DataFrame, pl.Series]:
    """The id columns (canonical names, text or Categorical) coded by `encode_ids` under their
    indexed names; the account is its code as UInt32. Returns the coded frame and the account
    ids (``account_ids[i]`` is account i's id). Each column is popped from ``columns`` once
    coded, so a caller that hands over its only reference frees it as soon as it can."""
    coded = {}
    account_ids = pl.Series(schema.ACCOUNT, [], dtype=pl.String)
    for name, short in INDEXED_COLUMNS.items():
        if name == schema.ACCOUNT:
            column, account_ids = _sorted_codes(
                columns.pop(name), normalise=normalise, categories_held=categories_held
            )
            account_ids = account_ids.alias(schema.ACCOUNT)
        else:
            column = encode_ids(
                columns.pop(name), normalise=normalise, categories_held=categories_held
            )
        coded[short] = column.alias(short)
    return pl.DataFrame(coded), account_ids


def load_indexed(
    path: str | Path, config: DataConfig | None = None
) -> tuple[pl.DataFrame, pl.Series, pl.DataFrame, IngestReport]:
    """`load_events`, with the events as integer codes (what `graph.build.index_events`
    makes of them): the same rows, rejections, duplicates and report, but the log is streamed
    (Polars' streaming engine) straight into codes, so its text is never held.

    Returns ``(indexed, account_ids, rejected, report)``: ``indexed`` has columns account
    (UInt32, the index into ``account_ids``), t (int64 microseconds), event_type, device, ip
    and target (`encode_ids` Enums).
    """
    config = config or DataConfig()
    checked = _open_checked(path, config)
    source, report = checked.source, checked.report
    id_columns = [c for c in schema.EVENT_COLUMNS if c != schema.TIME]
    if source.fmt == "ndjson":
        lf = source.frame.with_columns(_normalised_text()).select(
            _json_value_column(config), *id_columns
        )
        looks_json = source.collect(lf.filter(pl.col(_JSON_VALUE).is_not_null()))
        _refuse_json_values(looks_json, source, config)
    time_null = "_time_null"
    lf = source.frame.select(
        pl.col(schema.TIME).is_null().alias(time_null),
        checked.parsed.dt.epoch("us").alias(_PARSED),
        checked.out_of_range.alias(_OUT_OF_RANGE),
        *[pl.col(c).cast(pl.Categorical(pl.Categories.random())) for c in id_columns],
    )
    frame = source.collect(lf, streaming=True)
    report.rows_read = frame.height
    if frame.height == 0:
        raise InputError("no events: the file has a header but no rows", path=str(path))
    # an id that is blank once normalised is null: decided on its distinct values, not per row
    blank = {c: pl.lit(_is_blank(frame.get_column(c))) for c in (schema.ACCOUNT, schema.EVENT_TYPE)}
    bad = frame.select(
        pl.col(time_null)
        | pl.col(_OUT_OF_RANGE).fill_null(False)
        | pl.col(_PARSED).is_null()
        | blank[schema.ACCOUNT]
        | blank[schema.EVENT_TYPE]
    ).to_series()
    # the reasons of the rejected rows only (a log of clean rows holds no text per row)
    reasons = (
        frame.select(time_null, _PARSED, _OUT_OF_RANGE)
        .with_columns(pl.when(~blank[c]).then(0).alias(c) for c in blank)
        .filter(bad)
        .select(_reject_reason(pl.col(time_null)))
        .to_series()
    )
    del blank

    def rejected_rows() -> pl.DataFrame:
        rows = pl.Series(np.flatnonzero(bad.to_numpy())).cast(pl.get_index_type())
        raw = source.frame.with_row_index("_row").filter(pl.col("_row").is_in(rows.implode()))
        lf = (
            raw.with_columns(_normalised_text())
            .with_columns(checked.parsed.alias(_PARSED), checked.out_of_range.alias(_OUT_OF_RANGE))
            .with_columns(_reject_reason(pl.col(schema.TIME).is_null()))
        )
        return _rejected_text(source.collect(lf))

    report.rows_rejected = _count_rejected(reasons, frame.height, rejected_rows, path, config)
    if report.rows_rejected:
        rejected = rejected_rows()
        frame = frame.filter(~bad)
    else:
        rejected = pl.DataFrame(schema=_rejected_schema())
    del reasons
    t = frame.get_column(_PARSED).alias("t")
    columns = {name: frame.get_column(name) for name in INDEXED_COLUMNS}
    del frame
    # each column was cast with its own fresh categories: unfiltered, every one is a row's
    coded, account_ids = index_columns(
        columns, normalise=True, categories_held=not report.rows_rejected
    )
    indexed = coded.select("account", t, "event_type", "device", "ip", "target")
    del coded, t
    if config.drop_duplicates:
        before = indexed.height
        indexed = drop_exact_duplicates(indexed)
        report.duplicates_dropped = before - indexed.height
    report.rows_used = indexed.height
    report.accounts = len(account_ids)
    return indexed, account_ids, rejected, report


def _is_blank(values: pl.Series) -> pl.Series | bool:
    """Whether each value of a Categorical column is null or empty once stripped; False when
    none is (decided on its distinct values, without a pass over the rows)."""
    rows, text = _category_rows(values, categories_held=True)
    blank = (text.str.strip_chars() == "").fill_null(True).to_numpy()
    if not values.null_count() and not blank.any():
        return False
    lookup = np.ones(text.len() + 1, dtype=bool)
    lookup[:-1] = blank
    return pl.Series(lookup[rows])


def drop_exact_duplicates(events: pl.DataFrame) -> pl.DataFrame:
    """Drop exact duplicate rows, keeping the first, in the original order.

    A 64-bit row hash finds the few candidate rows cheaply (a full `unique` over ten million
    string rows costs seconds); only those go through an exact comparison, so a hash collision
    can never merge two different events.
    """
    # coded columns hash by their codes (the same rows are duplicates as in their text); not
    # through the schema, which would make every Enum's categories text
    hashes = events.select(pl.all().to_physical()).hash_rows()
    # hashes seen twice, found by sorting them (a hash table of every row costs more memory)
    ordered = np.sort(hashes.to_numpy())
    repeated = pl.Series(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if repeated.len() == 0:
        return events
    candidate = hashes.is_in(repeated.unique().implode())
    del hashes
    suspects = events.with_row_index("_row").filter(candidate)
    first = suspects.unique(subset=events.columns, keep="first").get_column("_row")
    mask = ~candidate.to_numpy()
    mask[first.to_numpy()] = True
    return events.filter(pl.Series(mask))


def read_table(path: str | Path) -> pl.DataFrame:
    """A whole small table (labels, truth) from Parquet, CSV (all text) or NDJSON.

    The same reading rules as the event log (`_reading`: every error names the file; UTF-8 with or
    without a byte-order mark). Raises `InputError`.
    """
    fmt = detect_format(path)
    frames = []
    for file in _resolve_files(path):
        raw = _scan_file(file, fmt)
        with _reading(file, fmt):
            frames.append(raw.collect())
    if len(frames) == 1:
        return frames[0]
    with _reading(str(path), fmt):
        return pl.concat(frames, how="diagonal_relaxed")


def load_labels(
    path: str | Path, *, known_accounts: pl.Series | None = None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Read a labels file (account_id, label) and check it.

    Unknown labels and conflicting duplicate rows are errors. Labels for accounts that never
    appear in the events (``known_accounts``) are counted in the returned stats, not dropped
    silently: the caller decides and reports.
    """
    fmt = detect_format(path)
    frames = []
    for file in _resolve_files(path):
        raw = _scan_file(file, fmt)
        with _reading(file, fmt):
            available = raw.collect_schema()
        for col in (schema.ACCOUNT, schema.LABEL):
            if col not in available:
                raise InputError(
                    f"missing column; the file has: {_columns_list(available.names())}",
                    path=file,
                    column=col,
                )
        for col in (schema.ACCOUNT, schema.LABEL):
            if not _is_id_dtype(available[col]):
                _wrong_type(raw, col, available[col], file, fmt)
        frame = raw.select(
            pl.col(schema.ACCOUNT).cast(pl.String).str.strip_chars(),
            pl.col(schema.LABEL).cast(pl.String).str.strip_chars(),
        )
        with _reading(file, fmt):
            frames.append(frame.collect())
    labels = frames[0] if len(frames) == 1 else pl.concat(frames)
    if labels.height == 0:
        raise InputError("no labels: the file has a header but no rows", path=str(path))
    null_ids = labels.filter(pl.col(schema.ACCOUNT).is_null() | (pl.col(schema.ACCOUNT) == ""))
    if null_ids.height:
        raise InputError(
            f"{null_ids.height} rows have no account id",
            path=str(path),
            column=schema.ACCOUNT,
            example=null_ids.row(0, named=True),
        )
    null_labels = labels.filter(pl.col(schema.LABEL).is_null() | (pl.col(schema.LABEL) == ""))
    if null_labels.height:
        raise InputError(
            f"{null_labels.height} rows have no label; allowed: {', '.join(schema.LABELS)}",
            path=str(path),
            column=schema.LABEL,
            example=null_labels.row(0, named=True),
        )
    unknown = labels.filter(~pl.col(schema.LABEL).is_in(schema.LABELS))
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
        account = conflicts.get_column(schema.ACCOUNT)[0]
        both = conflicts.filter(pl.col(schema.ACCOUNT) == account).get_column(schema.LABEL)
        raise InputError(
            f"{conflicts.get_column(schema.ACCOUNT).n_unique()} accounts have conflicting "
            f"labels, this one {' and '.join(both.to_list())}",
            path=str(path),
            column=schema.ACCOUNT,
            example=account,
        )
    stats = {"rows": labels.height}
    for name in schema.LABELS:
        stats[name] = int((labels.get_column(schema.LABEL) == name).sum())
    if known_accounts is not None:
        unknown_accounts = labels.filter(~pl.col(schema.ACCOUNT).is_in(known_accounts.implode()))
        stats["accounts_not_in_events"] = unknown_accounts.height
        labels = labels.filter(pl.col(schema.ACCOUNT).is_in(known_accounts.implode()))
    return labels, stats
