"""`load_indexed` reads a log into codes exactly as `load_events` + `index_events` would.

The run directory of `graphguard detect` comes from `load_indexed` (streamed, coded, never the
log's text); `graphguard train`, the experiments and the Python API use `load_events`. Both
must agree on every row, rejection, duplicate and count, on every file of the bad-input corpus
that can be read at all.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphguard.config import DataConfig
from graphguard.errors import InputError
from graphguard.graph.build import index_events
from graphguard.io import encode_ids, load_events, load_indexed

CORPUS = Path(__file__).parent / "corpus" / "files" / "ingest"
LOGS = sorted(
    p for p in CORPUS.iterdir() if not p.name.startswith(("labels_", "truth_")) and p.is_file()
)


def _as_text(indexed: pl.DataFrame) -> pl.DataFrame:
    return indexed.with_columns(pl.exclude("account", "t").cast(pl.String))


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_indexed_reading_agrees_with_reading_then_indexing(path):
    config = DataConfig(max_rejected_share=0.5)
    try:
        events, rejected, report = load_events(path, config)
    except InputError as error:
        with pytest.raises(InputError) as again:
            load_indexed(path, config)
        assert str(again.value) == str(error)
        return
    indexed, account_ids, rejected_too, report_too = load_indexed(path, config)
    expected, expected_ids = index_events(events)
    assert report_too.to_dict() == report.to_dict()
    assert account_ids.to_list() == expected_ids.to_list()
    assert_frame_equal(_as_text(indexed), _as_text(expected))
    assert_frame_equal(rejected_too, rejected)


def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("event_time,account_id,event_type,device_id\n" + body, encoding="utf-8")
    return path


def test_blank_ids_are_stripped_and_rejected_as_when_read_as_text(tmp_path):
    path = _csv(
        tmp_path,
        "2026-03-02T12:00:00Z, a ,like, d1\n"
        "2026-03-02T12:00:00Z,a,like,d1\n"  # the same event once stripped: a duplicate
        "2026-03-02T12:01:00Z,   ,like,d2\n"  # blank account
        "2026-03-02T12:02:00Z,b,  ,\n"  # blank event type
        "2026-03-02T12:03:00Z,b,view,  \n",  # blank device: used, without a device
    )
    indexed, ids, rejected, report = load_indexed(path, DataConfig(max_rejected_share=0.5))
    assert report.rows_rejected == {"null_account_id": 1, "null_event_type": 1}
    assert report.duplicates_dropped == 1
    assert ids.to_list() == ["a", "b"]
    assert indexed["device"].cast(pl.String).to_list() == ["d1", None]
    assert rejected.get_column("reject_reason").to_list() == ["null_account_id", "null_event_type"]


def test_codes_sort_and_group_as_the_text_does():
    values = pl.Series("device", ["zeta", None, "alpha", "mu", "alpha", "Zeta", ""])
    coded = encode_ids(values)
    assert coded.cast(pl.String).to_list() == values.to_list()
    assert coded.dtype.categories.to_list() == sorted(v for v in set(values) if v is not None)  # type: ignore[attr-defined]
    order = pl.DataFrame({"c": coded, "i": range(7)}).sort("c", "i")["i"].to_list()
    assert order == pl.DataFrame({"c": values, "i": range(7)}).sort("c", "i")["i"].to_list()


def _reference_codes(values: list[str | None], *, normalise: bool) -> list[int | None]:
    """Each value's rank among the sorted distinct values, computed from the text alone."""
    if normalise:
        values = [None if v is None or not v.strip() else v.strip() for v in values]
    # Polars orders text by its UTF-8 bytes
    distinct = sorted({v for v in values if v is not None}, key=lambda v: v.encode())
    rank = {v: i for i, v in enumerate(distinct)}
    return [None if v is None else rank[v] for v in values]


HOSTILE = [
    "b",
    " a",
    "a",
    None,
    "",
    "  ",
    "\t",
    "é",
    "e\u0301",
    "\u00a0x",
    "😀",
    "\x00",
    "A",
    "Z",
    "a ",
    "a\n",
    "ß",
    "ss",
    "1",
    "10",
    "9",
    "zz",
    "b",
]


@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize("as_categorical", [False, True])
def test_codes_are_the_ranks_of_the_text_on_hostile_strings(normalise, as_categorical):
    values = pl.Series("x", HOSTILE * 3, dtype=pl.String)
    given = values.cast(pl.Categorical(pl.Categories.random())) if as_categorical else values
    coded = encode_ids(given, normalise=normalise)
    assert coded.to_physical().cast(pl.Int64).to_list() == _reference_codes(
        values.to_list(), normalise=normalise
    )
    expected = values.str.strip_chars().replace("", None) if normalise else values
    assert coded.cast(pl.String).to_list() == expected.to_list()


def test_a_filtered_categorical_codes_only_the_values_its_rows_hold():
    """Categories left behind by filtered rows (or shared with another column) are no codes:
    the codes of the rows kept are their ranks among the values kept."""
    shared = pl.Categories.random()
    values = pl.Series("x", ["m", "a", "z", "b", "a", None, "q"], dtype=pl.Categorical(shared))
    pl.Series(["elsewhere", "0"], dtype=pl.Categorical(shared))  # more categories, no rows
    kept = values.filter(pl.Series([True, False, True, True, False, True, False]))
    coded = encode_ids(kept)
    assert coded.dtype.categories.to_list() == ["b", "m", "z"]  # type: ignore[attr-defined]
    assert coded.to_physical().cast(pl.Int64).to_list() == [1, 2, 0, None]
    # unfiltered, the categories of the other column are still no codes of this one
    assert encode_ids(values).dtype.categories.to_list() == ["a", "b", "m", "q", "z"]  # type: ignore[attr-defined]


def test_the_rows_give_what_the_categories_give():
    """Where the categories cannot be trusted to cover every physical id (Polars may reserve
    one for a concurrent query), each id's text comes from one of its rows: the same table."""
    from graphguard.io import _category_rows, _distinct_rows

    values = pl.Series("x", HOSTILE * 2, dtype=pl.String).cast(
        pl.Categorical(pl.Categories.random())
    )
    kept = values.filter(pl.Series([i % 3 != 1 for i in range(values.len())]))
    for column in (values, kept):
        rows, text = _category_rows(column)
        rows_too, text_too = _distinct_rows(column)
        assert rows.tolist() == rows_too.tolist()
        assert text.to_list() == text_too.to_list()


def test_codes_do_not_depend_on_how_the_log_was_chunked(tmp_path):
    """The streamed read gives the same codes whatever the row groups (a value first seen in
    a later chunk, the same value in every chunk, a blank only in the last one)."""
    rows = 3000
    frame = pl.DataFrame(
        {
            "event_time": [f"2026-03-02T12:{i % 60:02d}:00Z" for i in range(rows)],
            "account_id": [f"acct{(i * 7919) % 211:04d}" for i in range(rows)],
            "event_type": ["like" if i % 3 else " view " for i in range(rows)],
            "device_id": [None if i % 5 == 0 else f"d{rows - i}" for i in range(rows)],
            "ip": ["10.0.0.1"] * rows,
            "target_id": ["" if i == rows - 1 else f"t{i % 97}" for i in range(rows)],
        }
    )
    results = []
    for row_group_size in (rows, 512, 7):
        path = tmp_path / f"events_{row_group_size}.parquet"
        frame.write_parquet(path, row_group_size=row_group_size)
        indexed, account_ids, _, report = load_indexed(path)
        results.append((indexed, account_ids))
        events, _, _ = load_events(path)
        expected, expected_ids = index_events(events)
        assert account_ids.to_list() == expected_ids.to_list()
        assert_frame_equal(indexed, expected)
    for indexed, account_ids in results[1:]:
        assert_frame_equal(indexed, results[0][0])
        assert account_ids.to_list() == results[0][1].to_list()
