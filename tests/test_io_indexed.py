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
