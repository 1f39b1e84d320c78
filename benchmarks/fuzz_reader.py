"""Fuzz the event-log reader: `graphguard.io.load_events` must either return a frame of the
canonical schema or raise `graphguard.errors.InputError`. Anything else is a crash.

Not run in CI. Hypothesis generates the inputs (no coverage guidance, atheris is not needed):

* CSV and NDJSON files: arbitrary bytes, and near-valid files (the canonical header, or most
  of it, over cells of weird text: controls, quotes, separators, huge and negative numbers,
  NaN, dates out of range, BOMs, invalid UTF-8);
* Parquet files: frames with the canonical column names (some missing, some extra) whose
  columns have random dtypes (ints of every width, floats with NaN and infinities, booleans,
  strings, dates, datetimes with and without a zone, durations, lists, structs, all-null).

    python benchmarks/fuzz_reader.py --minutes 5            # explore, then shrink each crash
    python benchmarks/fuzz_reader.py --minutes 1 --json out.json

Each distinct crash (exception type, where in graphguard or polars it was raised, message shape)
is printed once with the smallest input seen for it and, after a shrinking pass, a minimal one.
Exit code 1 when there is at least one crash.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from graphguard import schema
from graphguard.config import DataConfig
from graphguard.errors import InputError
from graphguard.io import load_events

COLUMNS = list(schema.EVENT_COLUMNS)

# ------------------------------------------------------------------------------ strategies

WEIRD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "null",
        "None",
        "0",
        "-1",
        "1e308",
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999999999999999",
        "1.5",
        "1700000000",
        "1700000000000",
        "-62135596800",
        "253402300800",
        "2026-03-02T10:00:00Z",
        "2026-03-02 10:00:00+05:30",
        "2026-02-30",
        "0000-01-01",
        "9999-12-31T23:59:59.999999999Z",
        "\x00",
        "\ufeff",
        "\ufffe",
        "\u202e",
        '"',
        '""',
        ",",
        "\n",
        "\r\n",
        "{",
        "[]",
        "a\\x00",
        "<script>",
        "like",
        "follow",
        "\U0001f600",
    ]
)
CELL = st.one_of(WEIRD_TEXT, st.text(max_size=12))
TIME_CELL = st.one_of(
    WEIRD_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.datetimes(timezones=st.none() | st.just(timezone.utc)).map(lambda d: d.isoformat()),
)


@st.composite
def header(draw: st.DrawFn) -> list[str]:
    names = draw(st.permutations(COLUMNS))
    keep = draw(st.integers(min_value=max(1, len(names) - 3), max_value=len(names)))
    names = list(names[:keep])
    names += draw(st.lists(st.sampled_from(["extra", "event_time", "", " account_id"]), max_size=2))
    return names


def _csv_quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    names = draw(header())
    rows = draw(
        st.lists(
            st.lists(st.one_of(TIME_CELL, CELL), min_size=len(names) - 1, max_size=len(names) + 1),
            max_size=8,
        )
    )
    quote = draw(st.booleans())
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    fmt_cell = _csv_quote if quote else (lambda c: c)
    lines = [sep.join(names)] + [sep.join(fmt_cell(c) for c in row) for row in rows]
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 5)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 5)) == 0 and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + draw(st.binary(min_size=1, max_size=4)) + data[i:]
    return data


JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | CELL,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def ndjson_bytes(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    names = draw(header())
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        record = {}
        for name in names:
            if draw(st.integers(0, 6)) == 0:
                continue
            record[name] = draw(st.one_of(JSON_VALUE, TIME_CELL))
        line = json.dumps(record, ensure_ascii=draw(st.booleans()))
        if draw(st.integers(0, 12)) == 0:
            line = line.replace("0", "NaN", 1)
        lines.append(line)
    if draw(st.integers(0, 8)) == 0:
        lines.append(draw(st.text(max_size=20)))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _series(draw: st.DrawFn, name: str, n: int) -> pl.Series:
    kind = draw(
        st.sampled_from(
            [
                "str",
                "int64",
                "int8",
                "uint64",
                "float",
                "bool",
                "date",
                "datetime",
                "datetime_tz",
                "datetime_ns",
                "duration",
                "null",
                "list",
                "struct",
                "categorical",
                "decimal",
            ]
        )
    )

    def values(strategy: st.SearchStrategy) -> list[Any]:
        return draw(st.lists(st.one_of(st.none(), strategy), min_size=n, max_size=n))

    big = st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if kind == "str":
        return pl.Series(name, values(CELL), dtype=pl.String)
    if kind == "int64":
        return pl.Series(name, values(big), dtype=pl.Int64)
    if kind == "int8":
        return pl.Series(name, values(st.integers(-128, 127)), dtype=pl.Int8)
    if kind == "uint64":
        return pl.Series(name, values(st.integers(0, 2**64 - 1)), dtype=pl.UInt64)
    if kind == "float":
        return pl.Series(name, values(st.floats(allow_nan=True, allow_infinity=True)), pl.Float64)
    if kind == "bool":
        return pl.Series(name, values(st.booleans()), dtype=pl.Boolean)
    if kind == "date":
        return pl.Series(name, values(st.dates()), dtype=pl.Date)
    if kind in {"datetime", "datetime_tz", "datetime_ns"}:
        unit = "ns" if kind == "datetime_ns" else "us"
        lo, hi = (datetime(1678, 1, 1), datetime(2261, 1, 1)) if unit == "ns" else (None, None)
        dts = st.datetimes(min_value=lo or datetime.min, max_value=hi or datetime.max)
        zone = draw(st.sampled_from([None, "UTC", "Asia/Kolkata", "America/New_York"]))
        if kind != "datetime_tz":
            zone = None
        s = pl.Series(name, values(dts), dtype=pl.Datetime(unit))
        return s.dt.replace_time_zone(zone, ambiguous="null", non_existent="null") if zone else s
    if kind == "duration":
        td = st.timedeltas(min_value=timedelta(days=-(10**5)), max_value=timedelta(days=10**5))
        return pl.Series(name, values(td), dtype=pl.Duration("us"))
    if kind == "null":
        return pl.Series(name, [None] * n, dtype=pl.Null)
    if kind == "list":
        return pl.Series(name, values(st.lists(st.integers(-5, 5), max_size=3)), pl.List(pl.Int64))
    if kind == "struct":
        rows = values(st.fixed_dictionaries({"a": st.integers(-5, 5), "b": CELL}))
        return pl.Series(name, rows, dtype=pl.Struct({"a": pl.Int64, "b": pl.String}))
    if kind == "categorical":
        return pl.Series(name, values(st.sampled_from(["a", "b", "like", ""])), pl.Categorical)
    return pl.Series(name, values(st.decimals(-(10**6), 10**6, places=2)), pl.Decimal(10, 2))


@st.composite
def parquet_frame(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 8))
    names = list(dict.fromkeys(draw(header())))
    return pl.DataFrame([_series(draw, name or "blank", n) for name in names])


@dataclass(frozen=True)
class Case:
    fmt: str  # csv, ndjson or parquet
    payload: Any  # bytes, or a DataFrame for parquet
    epoch_unit: str

    def size(self) -> int:
        if isinstance(self.payload, bytes):
            return len(self.payload)
        return self.payload.height * self.payload.width + 10 * self.payload.width

    def describe(self) -> str:
        if isinstance(self.payload, bytes):
            return f"{self.fmt} epoch_unit={self.epoch_unit} bytes={self.payload!r}"
        try:
            rows = repr(self.payload.to_dicts())
        except BaseException:  # noqa: BLE001 - e.g. a datetime Python cannot hold
            rows = repr(self.payload)
        return (
            f"parquet epoch_unit={self.epoch_unit} schema={dict(self.payload.schema)} rows={rows}"
        )


CASES = st.one_of(
    st.builds(Case, st.just("csv"), csv_bytes(), st.sampled_from(["s", "ms"])),
    st.builds(Case, st.just("ndjson"), ndjson_bytes(), st.sampled_from(["s", "ms"])),
    st.builds(Case, st.just("parquet"), parquet_frame(), st.sampled_from(["s", "ms"])),
)

# ------------------------------------------------------------------------------ the oracle


def run_case(case: Case, workdir: Path) -> None:
    """Raise nothing for a correct outcome; re-raise anything that is neither a canonical frame
    nor an InputError."""
    path = workdir / f"log.{case.fmt}"
    if isinstance(case.payload, bytes):
        path.write_bytes(case.payload)
    else:
        buf = io.BytesIO()
        case.payload.write_parquet(buf)
        path.write_bytes(buf.getvalue())
    try:
        events, rejected, report = load_events(path, DataConfig(epoch_unit=case.epoch_unit))
    except InputError:
        return
    if dict(events.schema) != schema.EVENT_SCHEMA:
        raise AssertionError(f"wrong schema {dict(events.schema)}")
    if (
        events.get_column(schema.ACCOUNT).null_count()
        or events.get_column(schema.TIME).null_count()
    ):
        raise AssertionError("null account or time in the events")
    if report.rows_used != events.height:
        raise AssertionError("report.rows_used != events.height")


def crash_key(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "graphguard" in f.filename]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    shape = re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", message))[:80]
    return f"{type(exc).__name__} at {where}: {shape}"


@dataclass
class Crash:
    key: str
    count: int = 0
    smallest: Case | None = None
    message: str = ""
    minimal: Case | None = None


@dataclass
class Tally:
    tried: int = 0
    crashes: dict[str, Crash] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)


def explore(seconds: float, workdir: Path, tally: Tally) -> None:
    deadline = time.monotonic() + seconds
    chunk = 0
    while time.monotonic() < deadline:
        chunk += 1

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(CASES)
        def one(case: Case) -> None:
            if time.monotonic() > deadline:
                return
            tally.tried += 1
            tally.by_format[case.fmt] = tally.by_format.get(case.fmt, 0) + 1
            try:
                run_case(case, workdir)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - Polars panics are BaseExceptions
                key = crash_key(exc)
                crash = tally.crashes.setdefault(key, Crash(key))
                crash.count += 1
                if crash.smallest is None or case.size() < crash.smallest.size():
                    crash.smallest = case
                    crash.message = f"{type(exc).__name__}: {str(exc)[:300]}"

        one()


def shrink(crash: Crash, workdir: Path, max_examples: int) -> None:
    """Search again for the same crash key with shrinking on; keep the minimal example."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    fmt = crash.smallest.fmt if crash.smallest else "csv"
    strategy = {"csv": csv_bytes(), "ndjson": ndjson_bytes(), "parquet": parquet_frame()}[fmt]
    cases = st.builds(Case, st.just(fmt), strategy, st.sampled_from(["s", "ms"]))

    def same(case: Case) -> bool:
        try:
            run_case(case, workdir)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            return crash_key(exc) == crash.key
        return False

    try:
        crash.minimal = find(
            cases,
            same,
            settings=settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    except NoSuchExample:
        crash.minimal = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--shrink-examples", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="write the figures and crashes here")
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore")
    tally = Tally()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        explore(args.minutes * 60, Path(tmp), tally)
        explored = time.monotonic() - started
        for crash in tally.crashes.values():
            shrink(crash, Path(tmp), args.shrink_examples)
    print(f"inputs tried: {tally.tried} in {explored:.0f} s ({tally.by_format})")
    print(f"distinct crashes: {len(tally.crashes)}")
    for crash in sorted(tally.crashes.values(), key=lambda c: -c.count):
        print(f"\n* {crash.key}  [{crash.count} inputs]\n  {crash.message}")
        best = crash.minimal or crash.smallest
        if best is not None:
            print(f"  minimal: {best.describe()[:600]}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "inputs_tried": tally.tried,
                    "seconds": round(explored),
                    "by_format": tally.by_format,
                    "crashes": [
                        {
                            "key": c.key,
                            "count": c.count,
                            "message": c.message,
                            "minimal": (c.minimal or c.smallest).describe()
                            if (c.minimal or c.smallest)
                            else None,
                        }
                        for c in tally.crashes.values()
                    ],
                },
                indent=2,
                default=str,
            )
        )
    return 1 if tally.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
