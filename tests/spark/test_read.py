"""The Spark reader against the local one: the same counts by reason, rows and errors."""

from __future__ import annotations

import polars as pl
import pytest

from graphguard import io, schema
from graphguard.config import DataConfig
from graphguard.errors import InputError
from graphguard.spark.read import read_events

CSV = """event_time,account_id,event_type,device_id,ip,target_id
2024-03-01 10:00:00,a,like,d1,1.2.3.4,t1
2024-03-01 10:00:00,a,like,d1,1.2.3.4,t1
2024-03-01T10:05:00Z,b,like, d2 ,,t1
1709287200,c,view,d3,1.2.3.5,
,d,like,d4,1.2.3.6,t2
not a time,e,like,d5,1.2.3.7,t2
2024-03-01 10:00:00,,like,d6,1.2.3.8,t3
2024-03-01 10:00:00,f,,d7,1.2.3.9,t3
3024-03-01 10:00:00,g,like,d8,1.2.3.9,t3
2024-03-01 11:00:00,h,share,d9,1.2.3.9,t3
2024-03-01 12:00:00,i,share,d9,1.2.3.9,t3
"""


def test_csv_rows_counted_and_kept_as_locally(spark, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    config = DataConfig(keep_rejected=True, max_rejected_share=0.6)
    events, rejected, report = io.load_events(path, config)
    on_spark, rejected_spark, report_spark = read_events(spark, path, config)
    assert report_spark.to_dict() == report.to_dict()
    assert report.rows_rejected  # the example has unusable rows of several reasons
    assert len(report.rows_rejected) >= 4 and report.duplicates_dropped == 1
    got = pl.from_arrow(on_spark.toArrow())
    want = events.select(pl.col(schema.TIME).dt.epoch("us").alias("t"), pl.exclude(schema.TIME))
    keys = ["t", schema.ACCOUNT]
    assert got.sort(keys).equals(want.sort(keys))
    assert rejected_spark.sort(schema.TIME, schema.ACCOUNT, nulls_last=True).equals(
        rejected.sort(schema.TIME, schema.ACCOUNT, nulls_last=True)
    )


def test_errors_are_the_local_readers(spark, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    with pytest.raises(InputError) as local:
        io.load_events(path, DataConfig())
    with pytest.raises(InputError) as on_spark:
        read_events(spark, path, DataConfig())
    assert str(on_spark.value) == str(local.value)  # more unusable rows than the share allows
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(CSV.replace("account_id", "user", 1))
    with pytest.raises(InputError) as local:
        io.load_events(renamed, DataConfig())
    with pytest.raises(InputError) as on_spark:
        read_events(spark, renamed, DataConfig())
    assert str(on_spark.value) == str(local.value)
    assert "missing column" in str(on_spark.value)
