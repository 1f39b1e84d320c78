"""The faster paths of the projections and the reader give what the plain Polars steps give."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard.graph import projections as pj
from graphguard.io import _categories_text, _category_rows


def _occurrences(key_dtype: pl.DataType, n: int = 5_000, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    names = pl.Series([f"e{i:04d}" for i in rng.permutation(300)])
    key = names.gather(rng.integers(0, 300, n))
    if key_dtype == pl.Enum:
        key = key.cast(pl.Enum(names.sort()))
    return pl.DataFrame(
        {
            "key": key,
            # few distinct times: many ties on (key, t), broken by the account
            "t": rng.integers(0, 50, n).astype(np.int64) * 1_000_000 + 1_700_000_000_000_000,
            "account": rng.permutation(n).astype(np.uint32),
        }
    )


def test_sorted_packed_equals_three_column_sort() -> None:
    for dtype in (pl.Enum, pl.String):
        occ = _occurrences(dtype)
        assert pj._sorted(occ, "key").equals(occ.sort(["key", "t", "account"]))


def test_sorted_falls_back_when_the_key_and_time_do_not_fit() -> None:
    occ = _occurrences(pl.Enum).with_columns(
        pl.when(pl.col("account") == 0)
        .then(pl.lit(1 << 60, pl.Int64))
        .otherwise(pl.col("t"))
        .alias("t")
    )
    # a time span of 2^60 us leaves too few bits for the key: the plain sort, the same order
    assert pj._sorted(occ, "key").equals(occ.sort(["key", "t", "account"]))


def test_run_lengths_equal_a_window_count() -> None:
    occ = _occurrences(pl.Enum).sort(["key", "t", "account"])
    runs = pj._run_lengths(occ.get_column("key").rle_id().to_numpy())
    expected = occ.select(pl.len().over("key")).to_series()
    assert runs.dtype == expected.dtype
    assert runs.to_list() == expected.to_list()
    assert pj._run_lengths(np.zeros(0, dtype=np.int64)).len() == 0


def test_categories_text_equals_the_categories() -> None:
    values = pl.Series(["b", "a", None, "c", "a", " d "]).cast(
        pl.Categorical(pl.Categories.random())
    )
    top = int(values.to_physical().max()) + 1
    text = _categories_text(values.dtype, top)
    assert text is not None
    assert text.to_list() == values.dtype.categories.to_series().head(top).to_list()
    rows, distinct = _category_rows(values, categories_held=True)
    assert [None if r == distinct.len() else distinct[int(r)] for r in rows] == values.cast(
        pl.String
    ).to_list()
