"""Tests for graphguard.io: reading event logs and labels per the data contract, atomic writers.

Every log here is a handful of rows built by hand in a temporary directory, so each test says
exactly which input it feeds and which frame, count or error message it expects back.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphguard import schema
from graphguard.config import DataConfig
from graphguard.errors import InputError, OutputExistsError
from graphguard.io import REJECT_REASON, load_events, load_labels
from graphguard.outputs import atomic_directory, write_parquet_atomic

UTC = timezone.utc
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# 2026-03-02 12:00:00 UTC as integer epoch seconds and milliseconds.
NOON_S = 1_772_452_800
NOON_MS = NOON_S * 1000

CANONICAL = pl.DataFrame(
    {
        "event_time": [
            datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 2, 12, 5, 30, tzinfo=UTC),
            datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
            datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC),
        ],
        "account_id": ["a1", "a2", "a1", "a3"],
        "event_type": ["signup", "like", "like", "follow"],
        "device_id": ["d1", "d2", None, "d3"],
        "ip": ["10.0.0.1", "2001:db8::1", "10.0.0.1", None],
        "target_id": [None, "post9", "post9", "a1"],
    },
    schema=schema.EVENT_SCHEMA,
)


def _as_text_times(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("event_time").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("event_time", "account_id")


def _load_ok(path: Path, config: DataConfig | None = None) -> pl.DataFrame:
    events, rejected, _ = load_events(path, config)
    assert rejected.height == 0, rejected
    return events


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- formats ------------------------------------------------------------------------------


def _write_parquet_file(tmp: Path) -> Path:
    CANONICAL.write_parquet(tmp / "events.parquet")
    return tmp / "events.parquet"


def _write_parquet_dir(tmp: Path) -> Path:
    # Spark-style output: part files (one in a partition subfolder) and a marker to ignore.
    root = tmp / "events"
    (root / "day=2").mkdir(parents=True)
    CANONICAL.head(2).write_parquet(root / "part-0.parquet")
    CANONICAL.tail(2).write_parquet(root / "day=2" / "part-1.parquet")
    (root / "_SUCCESS").write_text("")
    return root


def _write_parquet_glob(tmp: Path) -> str:
    CANONICAL.head(1).write_parquet(tmp / "events-0.parquet")
    CANONICAL.tail(3).write_parquet(tmp / "events-1.parquet")
    return str(tmp / "events-*.parquet")


def _write_csv_file(tmp: Path) -> Path:
    _as_text_times(CANONICAL).write_csv(tmp / "events.csv")
    return tmp / "events.csv"


def _write_ndjson_file(tmp: Path) -> Path:
    _as_text_times(CANONICAL).write_ndjson(tmp / "events.ndjson")
    return tmp / "events.ndjson"


@pytest.mark.parametrize(
    ("writer", "fmt"),
    [
        (_write_parquet_file, "parquet"),
        (_write_parquet_dir, "parquet"),
        (_write_parquet_glob, "parquet"),
        (_write_csv_file, "csv"),
        (_write_ndjson_file, "ndjson"),
    ],
    ids=["parquet-file", "parquet-dir", "parquet-glob", "csv", "ndjson"],
)
def test_every_format_loads_to_the_canonical_schema(tmp_path, writer, fmt):
    source = writer(tmp_path)
    events, rejected, report = load_events(source)
    assert dict(events.schema) == schema.EVENT_SCHEMA
    assert_frame_equal(_sorted(events), _sorted(CANONICAL))
    assert rejected.height == 0
    assert report.format == fmt
    assert (report.rows_read, report.rows_used, report.accounts) == (4, 4, 3)


def test_forced_format_reads_a_file_with_any_extension(tmp_path):
    source = tmp_path / "events.log"
    _as_text_times(CANONICAL).write_csv(source)
    events = _load_ok(source, DataConfig(format="csv"))
    assert_frame_equal(_sorted(events), _sorted(CANONICAL))


# --- times --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([datetime(2026, 3, 2, 12, 0)], pl.Datetime("ms")),
        ([datetime(2026, 3, 2, 12, 0)], pl.Datetime("ns")),
        ([datetime(2026, 3, 2, 13, 0)], pl.Datetime("us", "Europe/Berlin")),
        ([datetime(2026, 3, 2, 7, 0)], pl.Datetime("ms", "America/New_York")),
    ],
    ids=["naive-ms", "naive-ns", "berlin", "new-york"],
)
def test_parquet_timestamps_become_utc(tmp_path, values, dtype):
    # Naive timestamps are taken as UTC; zoned ones are converted, keeping the instant.
    source = tmp_path / "events.parquet"
    times = pl.Series("event_time", values).dt.replace_time_zone(dtype.time_zone).cast(dtype)
    raw = pl.DataFrame({"account_id": ["a"], "event_type": ["like"]}).with_columns(times)
    assert raw.schema["event_time"] == dtype
    raw.write_parquet(source)
    events = _load_ok(source)
    assert events.schema["event_time"] == pl.Datetime("us", "UTC")
    assert events["event_time"].to_list() == [NOON]


def test_parquet_date_column_becomes_utc_midnight(tmp_path):
    source = tmp_path / "events.parquet"
    pl.DataFrame(
        {"event_time": [date(2026, 3, 2)], "account_id": ["a"], "event_type": ["like"]}
    ).write_parquet(source)
    assert _load_ok(source)["event_time"].to_list() == [datetime(2026, 3, 2, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T12:00:00Z", NOON),
        ("2026-03-02T12:00:00z", NOON),
        ("2026-03-02 12:00:00", NOON),
        ("2026-03-02T12:00:00", NOON),
        ("2026-03-02T14:00:00+02:00", NOON),
        ("2026-03-02T07:00:00-05:00", NOON),
        ("2026-03-02T17:30:00+0530", NOON),
        ("2026-03-02 12:00:00+00:00", NOON),
        ("2026-03-02T12:00Z", NOON),
        ("2026-03-02T12:00", NOON),
        ("  2026-03-02T12:00:00Z  ", NOON),
        ("2026-03-02T12:00:00.250Z", datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-03-02T14:00:00.123456+02:00", datetime(2026, 3, 2, 12, 0, 0, 123_456, tzinfo=UTC)),
        ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
        ("2026-03-01T23:30:00-01:00", datetime(2026, 3, 2, 0, 30, tzinfo=UTC)),
    ],
)
def test_iso_8601_strings_parse_to_utc(tmp_path, text, expected):
    source = tmp_path / "events.ndjson"
    pl.DataFrame({"event_time": [text], "account_id": ["a"], "event_type": ["like"]}).write_ndjson(
        source
    )
    assert _load_ok(source)["event_time"].to_list() == [expected]


def test_iso_strings_with_mixed_offsets_in_one_csv(tmp_path):
    source = _write_csv(
        tmp_path / "events.csv",
        "event_time,account_id,event_type\n"
        "2026-03-02T12:00:00Z,a,like\n"
        "2026-03-02 13:00:00+01:00,b,like\n"
        "2026-03-02,c,like\n",
    )
    events = _load_ok(source)
    assert events["event_time"].to_list() == [NOON, NOON, datetime(2026, 3, 2, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("s", NOON_S, NOON),
        ("ms", NOON_MS + 250, datetime(2026, 3, 2, 12, 0, 0, 250_000, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_integer_epoch_times(tmp_path, fmt, unit, value, expected):
    raw = pl.DataFrame({"event_time": [value, value + 1], "account_id": ["a", "b"]}).with_columns(
        event_type=pl.lit("like")
    )
    source = tmp_path / f"events.{fmt}"
    getattr(raw, f"write_{fmt}")(source)
    events = _load_ok(source, DataConfig(epoch_unit=unit))
    assert events["event_time"][0] == expected
    step = events["event_time"][1] - events["event_time"][0]
    assert step.total_seconds() == (1 if unit == "s" else 0.001)


@pytest.mark.parametrize(
    ("unit", "value"), [("s", NOON_MS), ("ms", NOON_S)], ids=["ms-as-s", "s-as-ms"]
)
def test_epoch_in_the_wrong_unit_is_refused(tmp_path, unit, value):
    source = tmp_path / "events.parquet"
    pl.DataFrame(
        {"event_time": [value, value + 60], "account_id": ["a", "b"], "event_type": "like"}
    ).write_parquet(source)
    with pytest.raises(InputError, match="epoch_unit") as info:
        load_events(source, DataConfig(epoch_unit=unit))
    assert info.value.column == "event_time"
    assert str(source) in str(info.value)
    # The example is a value from the file, not a statistic of them.
    assert info.value.example in (value, value + 60)
    assert f"(example: {info.value.example})" in str(info.value)


def test_unknown_epoch_unit_is_refused(tmp_path):
    # refused when the config is built (a ValueError naming the key) or at the latest when read
    with pytest.raises((InputError, ValueError), match="epoch_unit"):
        load_events(_write_parquet_file(tmp_path), DataConfig(epoch_unit="us"))


# --- column mapping -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ndjson"])
def test_column_mapping_constants_and_integer_ids(tmp_path, fmt):
    raw = pl.DataFrame(
        {
            "event_time": ["2026-03-02T12:00:00Z", "2026-03-02T12:01:00Z", "2026-03-02T12:02:00Z"],
            "uid": [1001, 1002, 1001],
            "device": [3, 3, 7],
            "os": ["android", "android", "ios"],
            "campaign_note": ["x", "y", "z"],  # not a contract column: ignored
        }
    )
    source = tmp_path / f"events.{fmt}"
    getattr(raw, f"write_{fmt}")(source)
    config = DataConfig(
        columns={"account_id": "uid", "device_id": ["device", "os"]},
        constants={"event_type": "click"},
    )
    events = _load_ok(source, config)
    assert dict(events.schema) == schema.EVENT_SCHEMA
    assert events["account_id"].to_list() == ["1001", "1002", "1001"]
    assert events["device_id"].to_list() == ["3:android", "3:android", "7:ios"]
    assert events["event_type"].to_list() == ["click"] * 3
    # ip and target_id are nullable and absent from the file: all null.
    assert events["ip"].null_count() == 3
    assert events["target_id"].null_count() == 3


def test_column_mapped_to_none_is_null_even_if_present(tmp_path):
    # TalkingData style: the `ip` column is the acting entity, so the canonical ip is unknown.
    source = tmp_path / "clicks.csv"
    _write_csv(source, "click_time,ip,app\n2026-03-02 12:00:00,83230,3\n")
    config = DataConfig(
        columns={"event_time": "click_time", "account_id": "ip", "ip": None, "target_id": "app"},
        constants={"event_type": "click"},
    )
    events = _load_ok(source, config)
    assert events.row(0) == (NOON, "83230", "click", None, None, "3")


# --- duplicates and unusable rows ---------------------------------------------------------


def test_exact_duplicates_are_dropped_and_counted(tmp_path):
    # Row 3 is row 1 written with another offset: the same instant, so the same event.
    source = _write_csv(
        tmp_path / "events.csv",
        "event_time,account_id,event_type,target_id\n"
        "2026-03-02T12:00:00Z,a,like,p1\n"
        "2026-03-02T12:00:00Z,a,like,p2\n"
        "2026-03-02T14:00:00+02:00,a,like,p1\n"
        "2026-03-02T12:00:00Z,b,like,p1\n"
        "2026-03-02T12:00:00Z,b,like,p1\n",
    )
    events, _, report = load_events(source)
    assert (report.rows_read, report.duplicates_dropped, report.rows_used) == (5, 2, 3)
    assert events.height == 3
    assert events.select("account_id", "target_id").rows() == [
        ("a", "p1"),
        ("a", "p2"),
        ("b", "p1"),
    ]

    kept, _, report = load_events(source, DataConfig(drop_duplicates=False))
    assert (kept.height, report.duplicates_dropped) == (5, 0)


def _log_with_bad_rows(path: Path) -> Path:
    good = "".join(f"2026-03-02T12:{m:02d}:00Z,acct{m % 5},like\n" for m in range(36))
    bad = (
        "2026-03-02T13:00:00Z,,like\n"  # null account
        "2026-03-02T13:01:00Z,   ,like\n"  # blank account: null after stripping
        "not-a-time,acct1,like\n"
        ",acct2,like\n"  # no time at all
        "2026-03-02T13:02:00Z,acct3,\n"  # no event type
    )
    return _write_csv(path, "event_time,account_id,event_type\n" + good + bad)


def test_unusable_rows_are_counted_and_returned(tmp_path):
    source = _log_with_bad_rows(tmp_path / "events.csv")
    events, rejected, report = load_events(source, DataConfig(max_rejected_share=0.2))
    assert report.rows_rejected == {
        "null_account_id": 2,
        "null_event_time": 1,
        "null_event_type": 1,
        "unparseable_event_time": 1,
    }
    assert (report.rows_read, report.rows_used, report.accounts) == (41, 36, 5)
    assert events.height == 36
    assert (
        events.null_count().select("event_time", "account_id", "event_type").sum_horizontal()[0]
        == 0
    )
    assert rejected.height == 5
    assert rejected.columns == [*schema.EVENT_COLUMNS, REJECT_REASON]
    # The offending text is kept as it was, so it can be inspected and fixed.
    bad_time = rejected.filter(pl.col(REJECT_REASON) == "unparseable_event_time")
    assert bad_time["event_time"].to_list() == ["not-a-time"]
    assert bad_time["account_id"].to_list() == ["acct1"]


def test_too_many_unusable_rows_stop_the_run(tmp_path):
    source = _log_with_bad_rows(tmp_path / "events.csv")
    with pytest.raises(InputError, match="max_rejected_share=0.05") as info:
        load_events(source, DataConfig(max_rejected_share=0.05))
    assert str(source) in str(info.value)
    assert "5 of 41 rows unusable" in str(info.value)
    assert info.value.column == "account_id"  # the most common reason


# --- errors -------------------------------------------------------------------------------


def _raises_input_error(path, config: DataConfig | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        load_events(path, config)
    assert str(path) in str(info.value), "the message must name the file"
    return info.value


def test_missing_file(tmp_path):
    error = _raises_input_error(tmp_path / "nope.parquet")
    assert "not found" in str(error)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".ndjson"])
def test_empty_file(tmp_path, suffix):
    source = tmp_path / f"events{suffix}"
    source.write_bytes(b"")
    assert "empty" in str(_raises_input_error(source))


def test_header_only_csv(tmp_path):
    source = _write_csv(tmp_path / "events.csv", "event_time,account_id,event_type\n")
    assert "no rows" in str(_raises_input_error(source))


def test_zero_row_parquet(tmp_path):
    source = tmp_path / "events.parquet"
    CANONICAL.head(0).write_parquet(source)
    assert "no rows" in str(_raises_input_error(source))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("events.parquet", b"PAR1 this is not really parquet \x00\x01\x02" * 20),
        ("events.ndjson", b'{"event_time": "2026-03-02", "account_id": \n{{{ not json\n'),
    ],
)
def test_unreadable_file(tmp_path, name, content):
    source = tmp_path / name
    source.write_bytes(content)
    error = _raises_input_error(source)
    assert "cannot read as" in str(error)


def test_missing_column_names_it_and_lists_the_file_columns(tmp_path):
    source = _write_csv(tmp_path / "events.csv", "event_time,user,event_type\n2026-03-02,u1,like\n")
    error = _raises_input_error(source)
    assert error.column == "account_id"
    assert "column 'account_id'" in str(error)
    assert "event_time, user, event_type" in str(error)


@pytest.mark.parametrize(
    ("columns", "missing"),
    [({"account_id": "uid"}, "uid"), ({"device_id": ["device", "os"]}, "os")],
)
def test_mapped_column_missing(tmp_path, columns, missing):
    source = _write_csv(
        tmp_path / "events.csv",
        "event_time,account_id,event_type,device\n2026-03-02,u1,like,d1\n",
    )
    error = _raises_input_error(source, DataConfig(columns=columns))
    assert error.column == missing
    assert f"column '{missing}'" in str(error)
    assert "mapped to" in str(error)


def test_unknown_extension(tmp_path):
    source = tmp_path / "events.txt"
    _as_text_times(CANONICAL).write_csv(source)
    assert "data.format" in str(_raises_input_error(source))


def test_unknown_forced_format(tmp_path):
    # refused when the config is built (a ValueError naming the key) or at the latest when read
    with pytest.raises((InputError, ValueError), match="xlsx"):
        load_events(_write_parquet_file(tmp_path), DataConfig(format="xlsx"))


def test_directory_without_parquet_files(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "notes.csv").write_text("a\n1\n")
    assert "no .parquet files" in str(_raises_input_error(tmp_path / "events"))


def test_glob_without_matches(tmp_path):
    assert "no file matches" in str(_raises_input_error(str(tmp_path / "part-*.parquet")))


def test_all_times_unparseable(tmp_path):
    source = _write_csv(
        tmp_path / "events.csv",
        "event_time,account_id,event_type\nyesterday,a,like\nsoon,b,like\n",
    )
    error = _raises_input_error(source)
    assert error.column == "event_time"
    assert "unparseable_event_time" in str(error)
    assert "(example: 'yesterday')" in str(error)


# --- labels -------------------------------------------------------------------------------


def _labels_csv(tmp_path: Path, rows: str, header: str = "account_id,label") -> Path:
    return _write_csv(tmp_path / "labels.csv", f"{header}\n{rows}")


def test_load_labels_reads_and_counts(tmp_path):
    path = _labels_csv(
        tmp_path, "a1,benign\na2, bot_ring \na3,fake_engagement\na3,fake_engagement\n"
    )
    labels, stats = load_labels(path)
    assert labels.columns == ["account_id", "label"]
    assert sorted(labels.rows()) == [
        ("a1", "benign"),
        ("a2", "bot_ring"),
        ("a3", "fake_engagement"),
    ]
    assert stats == {"rows": 3, "benign": 1, "bot_ring": 1, "fake_engagement": 1}


def test_label_integer_ids_are_strings(tmp_path):
    path = tmp_path / "labels.parquet"
    pl.DataFrame({"account_id": [7, 8], "label": ["benign", "bot_ring"]}).write_parquet(path)
    labels, _ = load_labels(path)
    assert labels.schema["account_id"] == pl.String
    assert labels["account_id"].to_list() == ["7", "8"]


def test_unknown_label(tmp_path):
    path = _labels_csv(tmp_path, "a1,benign\na2,spam\n")
    with pytest.raises(InputError) as info:
        load_labels(path)
    assert info.value.column == "label"
    assert info.value.example == "spam"
    assert str(path) in str(info.value)
    assert "column 'label'" in str(info.value)
    assert "'spam'" in str(info.value)


def test_conflicting_duplicate_labels(tmp_path):
    path = _labels_csv(tmp_path, "a1,benign\na2,benign\na1,bot_ring\n")
    with pytest.raises(InputError, match="conflicting") as info:
        load_labels(path)
    assert info.value.example == "a1"
    assert str(path) in str(info.value)


def test_labels_missing_column(tmp_path):
    path = _labels_csv(tmp_path, "a1,benign\n", header="account_id,class")
    with pytest.raises(InputError) as info:
        load_labels(path)
    assert info.value.column == "label"
    assert str(path) in str(info.value)


def test_labels_for_accounts_not_in_events_are_counted_and_dropped(tmp_path):
    path = _labels_csv(tmp_path, "a1,benign\nghost1,bot_ring\na2,bot_ring\nghost2,benign\n")
    labels, stats = load_labels(path, known_accounts=pl.Series(["a1", "a2", "a3"]))
    assert stats["accounts_not_in_events"] == 2
    assert stats["rows"] == 4  # what the file held, before dropping
    assert sorted(labels["account_id"]) == ["a1", "a2"]


# --- atomic writers -----------------------------------------------------------------------


def _leftovers(parent: Path, keep: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name != keep)


def test_atomic_directory_publishes_on_success(tmp_path):
    target = tmp_path / "run"
    with atomic_directory(target) as work:
        assert work != target and not target.exists()
        (work / "accounts.parquet").write_text("done")
    assert (target / "accounts.parquet").read_text() == "done"
    assert _leftovers(tmp_path, "run") == []


def test_atomic_directory_leaves_nothing_when_the_block_raises(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"), atomic_directory(target) as work:
        (work / "accounts.parquet").write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_refuses_a_non_empty_directory(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    entered = False
    with pytest.raises(OutputExistsError, match="already exists"), atomic_directory(target):
        entered = True
    assert not entered
    assert (target / "old.txt").read_text() == "old"
    assert _leftovers(tmp_path, "run") == []


def test_atomic_directory_refuses_an_existing_file(tmp_path):
    target = tmp_path / "run"
    target.write_text("not a directory")
    with pytest.raises(OutputExistsError), atomic_directory(target):
        pass
    assert target.read_text() == "not a directory"


def test_atomic_directory_accepts_an_empty_directory(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    with atomic_directory(target) as work:
        (work / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_atomic_directory_overwrite_replaces(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target, overwrite=True) as work:
        (work / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert _leftovers(tmp_path, "run") == []


def test_atomic_directory_overwrite_keeps_the_old_run_if_the_block_raises(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as work:
        (work / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert _leftovers(tmp_path, "run") == []


def test_write_parquet_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out" / "accounts.parquet"
    write_parquet_atomic(CANONICAL, target)
    write_parquet_atomic(CANONICAL.head(2), target)  # replacing an existing file
    assert_frame_equal(pl.read_parquet(target), CANONICAL.head(2))
    assert [p.name for p in target.parent.iterdir()] == ["accounts.parquet"]


def test_write_parquet_atomic_cleans_up_after_a_failed_write(tmp_path, monkeypatch):
    def failing_write(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing_write)
    target = tmp_path / "out" / "accounts.parquet"
    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(CANONICAL, target)
    assert list(target.parent.iterdir()) == []


def test_atomic_writes_get_the_usual_file_modes(tmp_path):
    """Temporary files are private; what is published is as readable as a plain write."""
    import os

    from graphguard.outputs import atomic_directory, write_text_atomic

    mask = os.umask(0o022)
    try:
        written = write_text_atomic("x", tmp_path / "a.txt")
        with atomic_directory(tmp_path / "run") as tmp:
            write_text_atomic("y", tmp / "b.txt")
    finally:
        os.umask(mask)
    assert written.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "run" / "b.txt").stat().st_mode & 0o777 == 0o644
