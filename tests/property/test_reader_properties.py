"""Properties of the reader on any small schema-valid log written to Parquet or CSV: valid rows
round-trip (exact duplicates dropped, first kept, order kept), and the frame read does not
depend on the order of the rows in the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from polars.testing import assert_frame_equal

from graphguard import schema
from graphguard.io import load_events
from tests.property.strategies import event_frames, frame_and_shuffle

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True)
FORMATS = ("parquet", "csv")


def write(events: pl.DataFrame, directory: Path, fmt: str, name: str = "events") -> Path:
    path = directory / f"{name}.{fmt}"
    if fmt == "parquet":
        events.write_parquet(path)
    else:
        events.write_csv(path)
    return path


def read(path: Path) -> pl.DataFrame:
    events, rejected, report = load_events(path)
    assert rejected.height == 0
    assert report.rows_used == events.height
    return events


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(events=event_frames())
def test_valid_rows_round_trip(fmt: str, events: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        got = read(write(events, Path(tmp), fmt))
    assert dict(got.schema) == schema.EVENT_SCHEMA
    assert_frame_equal(got, events.unique(maintain_order=True))


@pytest.mark.parametrize("fmt", FORMATS)
@PROPERTY
@given(pair=frame_and_shuffle())
def test_reading_does_not_depend_on_row_order(
    fmt: str, pair: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    events, shuffled = pair
    with tempfile.TemporaryDirectory() as tmp:
        a = read(write(events, Path(tmp), fmt, "a"))
        b = read(write(shuffled, Path(tmp), fmt, "b"))
    columns = list(schema.EVENT_COLUMNS)
    assert_frame_equal(a.sort(columns, nulls_last=True), b.sort(columns, nulls_last=True))
