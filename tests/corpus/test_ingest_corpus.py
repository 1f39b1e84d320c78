"""Bad-input corpus for reading logs, labels and truth: one case per way an input goes wrong.

Each case drives the CLI. Malformed input: exit 1, one inert `Error:` line naming the file, the
column and an example where they apply, no traceback, and no run directory left (nothing that
could pass for a finished result). Valid but unusual input (BOM, IPv6, duplicates, a few bad rows
under `data.max_rejected_share`): the run finishes and run.json counts what was set aside.

Text cases are files under files/ingest/; binary ones (Parquet) are written by `_binary`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from graphguard.rundir import REJECTED_FILE
from tests.clicheck import assert_clean_error, assert_no_run_left, invoke

FILES = Path(__file__).parent / "files" / "ingest"
NOON_S = 1_772_452_800  # 2026-03-02 12:00:00 UTC


def _events(n: int = 40) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_time": [NOON_S + 60 * i for i in range(n)],
            "account_id": [f"a{i % 20}" for i in range(n)],
            "event_type": ["like"] * n,
            "device_id": [f"d{i % 5}" for i in range(n)],
        }
    )


def _timestamps(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.from_epoch("event_time", time_unit="s"))


# --- binary cases, written into tmp_path ---------------------------------------------------


def _bool_target(tmp: Path) -> Path:
    path = tmp / "bool_target.parquet"
    _events().with_columns(target_id=pl.lit(True)).write_parquet(path)
    return path


def _float_device(tmp: Path) -> Path:
    path = tmp / "float_device.parquet"
    _events().with_columns(device_id=pl.lit(3.0)).write_parquet(path)
    return path


def _struct_time(tmp: Path) -> Path:
    path = tmp / "struct_time.parquet"
    _events().with_columns(event_time=pl.struct(pl.col("event_time").alias("s"))).write_parquet(
        path
    )
    return path


def _truncated(tmp: Path) -> Path:
    whole = tmp / "whole.parquet"
    _events().write_parquet(whole)
    path = tmp / "truncated.parquet"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    whole.unlink()
    return path


def _text_as_parquet(tmp: Path) -> Path:
    path = tmp / "text.parquet"
    path.write_text("event_time,account_id,event_type\n")
    return path


def _zero_rows(tmp: Path) -> Path:
    path = tmp / "zero_rows.parquet"
    _events().head(0).write_parquet(path)
    return path


def _dir_time_kinds(tmp: Path) -> Path:
    folder = tmp / "time_kinds"
    folder.mkdir()
    _events().write_parquet(folder / "a.parquet")
    _timestamps(_events()).write_parquet(folder / "b.parquet")
    return folder


def _dir_missing_in_second(tmp: Path) -> Path:
    folder = tmp / "missing_in_second"
    folder.mkdir()
    _events().write_parquet(folder / "a.parquet")
    _events().drop("event_type").write_parquet(folder / "b.parquet")
    return folder


def _dir_corrupt_second(tmp: Path) -> Path:
    folder = tmp / "corrupt_second"
    folder.mkdir()
    _events().write_parquet(folder / "a.parquet")
    (folder / "b.parquet").write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    return folder


def _ndjson_broken_late(tmp: Path) -> Path:
    path = tmp / "broken_late.ndjson"
    lines = [
        json.dumps({"event_time": NOON_S + i, "account_id": f"a{i % 50}", "event_type": "like"})
        for i in range(12_000)
    ]
    lines[11_000] = lines[11_000][:-5]
    path.write_text("\n".join(lines) + "\n")
    return path


def _float_nan_times(tmp: Path) -> Path:
    path = tmp / "nan_times.parquet"
    times = [float(NOON_S + 60 * i) for i in range(40)]
    times[3], times[17] = float("nan"), float("inf")
    _events().with_columns(event_time=pl.Series(times)).write_parquet(path)
    return path


def _corrupt_timestamps(tmp: Path) -> Path:
    """Timestamps as a corrupted Parquet page decodes them: year -237157 and far beyond."""
    path = tmp / "corrupt_timestamps.parquet"
    ms = [1000 * (NOON_S + 60 * i) for i in range(40)]
    ms[5] = -7_546_000_000_000_000  # year -237157
    ms[9] = 9_000_000_000_000_000_000 // 1000 * 1000  # near the Int64 limit
    _events().with_columns(
        event_time=pl.Series(ms, dtype=pl.Int64).cast(pl.Datetime("ms"))
    ).write_parquet(path)
    return path


def _dir_extra_columns(tmp: Path) -> Path:
    """Extra (ignored) columns in the first file and in the second, of different types."""
    folder = tmp / "extra_columns"
    folder.mkdir()
    events = _events()
    events.with_columns(note=pl.lit("x")).write_parquet(folder / "a.parquet")
    events.with_columns(pl.col("event_time") + 1, note=pl.lit(1), more=pl.lit(True)).write_parquet(
        folder / "b.parquet"
    )
    # integer ids in one file, text in the others: all read as strings
    events.with_columns(pl.col("event_time") + 2, account_id=pl.lit(7)).write_parquet(
        folder / "c.parquet"
    )
    return folder


def _glob_csv(tmp: Path) -> Path:
    """Two CSV files by a glob: the second, with a BOM, repeats the first's 40 events."""
    folder = tmp / "logs"
    folder.mkdir()
    for name in ("valid.csv", "bom.csv"):
        shutil.copy(FILES / name, folder / name)
    return folder / "*.csv"


BINARY: dict[str, Callable[[Path], Path]] = {
    f.__name__.lstrip("_"): f
    for f in (
        _bool_target,
        _float_device,
        _struct_time,
        _truncated,
        _text_as_parquet,
        _zero_rows,
        _dir_time_kinds,
        _dir_missing_in_second,
        _dir_corrupt_second,
        _ndjson_broken_late,
        _float_nan_times,
        _corrupt_timestamps,
        _dir_extra_columns,
        _glob_csv,
    )
}


def _input(name: str, tmp: Path) -> Path:
    return BINARY[name](tmp) if name in BINARY else FILES / name


# --- malformed events: exit 1, one line, nothing left ----------------------------------------

# (input, extra args, fragments of the one Error line; "{path}" is the input's path)
EVENT_ERRORS = [
    ("missing_column.csv", [], ["{path}", "column 'account_id'", "missing column", "user"]),
    ("wrong_column_names.csv", [], ["{path}", "column 'event_time'", "time, uid, action"]),
    ("empty.csv", [], ["{path}", "file is empty"]),
    ("header_only.csv", [], ["{path}", "header but no rows"]),
    ("header_only.ndjson", [], ["{path}", "ndjson"]),
    ("zero_rows", [], ["zero_rows.parquet", "header but no rows"]),
    ("bool_target", [], ["bool_target.parquet", "column 'target_id'", "Boolean", "True"]),
    ("float_device", [], ["float_device.parquet", "column 'device_id'", "Float64", "3.0"]),
    ("struct_time", [], ["struct_time.parquet", "column 'event_time'", "Struct", "example:"]),
    ("json_object_id.ndjson", [], ["{path}", "column 'account_id'", "JSON", '"id": 7']),
    ("truncated", [], ["truncated.parquet", "cannot read as parquet"]),
    ("text_as_parquet", [], ["text.parquet", "cannot read as parquet"]),
    ("dir_time_kinds", [], ["b.parquet", "column 'event_time'", "timestamp", "a.parquet"]),
    ("dir_missing_in_second", [], ["b.parquet", "column 'event_type'", "missing column"]),
    ("dir_corrupt_second", [], ["b.parquet", "cannot read as parquet"]),
    ("latin1.csv", [], ["{path}", "not UTF-8", "0xe9", "line 5"]),
    ("utf16.csv", [], ["{path}", "UTF-16", "not UTF-8"]),
    ("broken_early.ndjson", [], ["{path}", "line 1 "]),
    ("ndjson_broken_late", [], ["broken_late.ndjson", "line 11,001"]),
    ("unbalanced_quote.csv", [], ["{path}", "cannot read as csv", "quote"]),
    ("escape_in_header.csv", [], ["{path}", "column 'event_type'", "\\x1b]0;pwned\\x07"]),
    (
        "epoch_ms_as_seconds.csv",
        [],
        ["{path}", "column 'event_time'", "epoch milliseconds", "data.epoch_unit=ms", "example: 1"],
    ),
    (
        "times_out_of_range.csv",
        [],
        ["{path}", "column 'event_time'", "event_time_out_of_range", "example: '0'"],
    ),
    (
        "valid.csv",
        ["--set", "data.event_years=[2000,2020]"],
        ["{path}", "column 'event_time'", "40 of 40 rows", "event_time_out_of_range"],
    ),
    ("null_accounts.csv", [], ["{path}", "column 'account_id'", "null_account_id"]),
    ("valid.csv", ["--labels", FILES / "labels_unknown.csv"], ["labels_unknown.csv", "'spam'"]),
    (
        "valid.csv",
        ["--labels", FILES / "labels_conflicting.csv"],
        ["labels_conflicting.csv", "column 'account_id'", "conflicting", "'a1'"],
    ),
    (
        "valid.csv",
        ["--labels", FILES / "labels_missing_column.csv"],
        ["labels_missing_column.csv", "column 'label'", "missing column"],
    ),
    (
        "valid.csv",
        ["--labels", FILES / "labels_header_only.csv"],
        ["labels_header_only.csv", "header but no rows"],
    ),
    (
        "valid.csv",
        ["--labels", FILES / "labels_no_label.csv"],
        ["labels_no_label.csv", "column 'label'", "no label"],
    ),
]


@pytest.mark.parametrize(
    ("name", "args", "fragments"),
    EVENT_ERRORS,
    ids=[
        f"{case[0]}{'+' + Path(str(case[1][-1])).stem if case[1] else ''}" for case in EVENT_ERRORS
    ],
)
def test_malformed_input_is_one_clean_error(tmp_path, name, args, fragments):
    source = _input(name, tmp_path)
    out = tmp_path / "runs" / "run"
    result = invoke("detect", source, "--out", out, "-q", *args)
    line = assert_clean_error(result, *(f.replace("{path}", str(source)) for f in fragments))
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "set GRAPHGUARD_DEBUG" not in line  # a known problem, not a bug
    assert_no_run_left(out)


# --- valid but unusual events: the run finishes and counts what it set aside ---------------

# (input, extra args, rows_rejected, duplicates_dropped, rows_used)
VALID = [
    ("valid.csv", [], {}, 0, 40),
    ("bom.csv", [], {}, 0, 40),
    ("bom.ndjson", [], {}, 0, 40),
    ("glob_csv", [], {}, 40, 40),
    ("ipv6_and_malformed_ip.csv", [], {}, 0, 40),
    ("duplicates.csv", [], {}, 5, 40),
    ("null_device_ip_target.csv", [], {}, 0, 40),
    (
        "few_bad_rows.csv",
        ["--set", "data.keep_rejected=true"],
        {
            "null_account_id": 1,
            "null_event_time": 1,
            "unparseable_event_time": 1,
            "event_time_out_of_range": 4,
            "null_event_type": 1,
        },
        0,
        80,
    ),
    ("float_nan_times", [], {"unparseable_event_time": 2}, 0, 38),
    ("corrupt_timestamps", [], {"event_time_out_of_range": 2}, 0, 38),
    ("dir_extra_columns", [], {}, 0, 120),
    ("valid.csv", ["--labels", FILES / "labels_valid.csv"], {}, 0, 40),
]


@pytest.mark.parametrize(
    ("name", "args", "rejected", "duplicates", "used"),
    VALID,
    ids=[f"{case[0]}{'+' + Path(str(case[1][-1])).stem if case[1] else ''}" for case in VALID],
)
def test_valid_input_runs_and_counts(tmp_path, name, args, rejected, duplicates, used):
    source = _input(name, tmp_path)
    out = tmp_path / "run"
    result = invoke("detect", source, "--out", out, "-q", "--json", *args)
    assert result.exit_code == 0, result.output
    ingest = json.loads((out / "run.json").read_text())["ingest"]
    assert ingest["rows_rejected"] == rejected
    assert ingest["duplicates_dropped"] == duplicates
    assert ingest["rows_used"] == used
    assert ingest["rows_read"] == used + duplicates + sum(rejected.values())
    accounts = pl.read_parquet(out / "accounts.parquet")
    assert accounts["account_id"].null_count() == 0
    if "data.keep_rejected=true" in args:
        kept = pl.read_parquet(out / REJECTED_FILE)
        counts = dict(kept.group_by("reject_reason").len().iter_rows())
        assert counts == rejected


def test_ipv6_and_malformed_ips_are_kept_as_written(tmp_path):
    from graphguard.io import load_events

    events, rejected, _ = load_events(FILES / "ipv6_and_malformed_ip.csv")
    assert rejected.height == 0
    assert {"2001:db8::1", "fe80::1%eth0", "10.0.0.999", "not-an-ip"} <= set(events["ip"])


# --- truth for `graphguard evaluate` ---------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "run"
    result = invoke("detect", FILES / "valid.csv", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    return out


TRUTH_ERRORS = [
    ("truth_header_only.csv", ["truth_header_only.csv", "no rows"]),
    ("truth_unknown_label.csv", ["truth_unknown_label.csv", "'label'", "'spam'"]),
    ("truth_conflicting.csv", ["truth_conflicting.csv", "'a1'"]),
    ("utf16.csv", ["utf16.csv", "UTF-16"]),
    ("latin1.csv", ["latin1.csv", "not UTF-8"]),
    ("empty.csv", ["empty.csv", "file is empty"]),
    ("broken_early.ndjson", ["broken_early.ndjson", "line 1 "]),
    ("missing.csv", ["missing.csv"]),
]


@pytest.mark.parametrize(("name", "fragments"), TRUTH_ERRORS, ids=[c[0] for c in TRUTH_ERRORS])
def test_bad_truth_is_one_clean_error(run_dir, name, fragments):
    result = invoke("evaluate", run_dir, "--truth", FILES / name)
    assert_clean_error(result, *fragments)


def test_valid_truth_with_a_bom_evaluates(run_dir, tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_bytes(b"\xef\xbb\xbf" + (FILES / "labels_valid.csv").read_bytes())
    result = invoke("evaluate", run_dir, "--truth", truth)
    assert result.exit_code == 0, result.output


def test_corpus_times_are_plausible():
    """The valid corpus files are dated inside the default data.event_years."""
    assert 1990 <= datetime.fromtimestamp(NOON_S).year <= 2100
