"""Detection never raises on a schema-valid log, however little coordination it holds (one
account, no devices, no targets, no engagement), and every run directory it writes keeps the
run-directory contract (`graphguard.rundir.check_run`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import example, given, settings

from graphguard import schema
from graphguard.pipeline.detect import detect, run_detection
from graphguard.rundir import check_run
from tests.property.strategies import T0, event_frames, to_frame

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)

# Logs with no coordination at all, tried first whatever hypothesis draws.
ONE_EVENT = to_frame([(T0, "a0", "view", None, None, None)])
NO_ENTITIES = to_frame(
    [(T0, "a0", "like", None, None, None), (T0, "a1", "login", None, None, None)]
)
ONE_ACCOUNT = to_frame([(T0, "a0", "like", "d0", "10.0.0.1", "p0")] * 3)
STRANGERS = to_frame([(T0, f"a{i}", "like", f"d{i}", f"10.0.0.{i}", f"p{i}") for i in range(4)])


@PROPERTY
@given(event_frames())
@example(ONE_EVENT)
@example(NO_ENTITIES)
@example(ONE_ACCOUNT)
@example(STRANGERS)
def test_detect_never_raises(events: pl.DataFrame) -> None:
    result = detect(events)
    accounts = result.accounts
    assert accounts.height == events.get_column(schema.ACCOUNT).n_unique()


@PROPERTY
@given(event_frames())
@example(ONE_EVENT)
@example(NO_ENTITIES)
@example(STRANGERS)
def test_every_run_directory_keeps_the_contract(events: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        events.write_parquet(path)
        run_detection(path, Path(tmp) / "run")
        assert check_run(Path(tmp) / "run") == []
