"""Local search against the Chung-Lu null: a sparse planted block is recovered from a poor seed,
camouflage does not hide it, random background yields no strong block, the same log gives the
same result."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import poisson

from graphguard.config import ConfigError, DenseConfig
from graphguard.dense.bipartite import bipartite
from graphguard.dense.refine import (
    REFINED_COLUMNS,
    flag_refined,
    peeled_seeds,
    poisson_tail,
    refine_block,
    refine_blocks,
)
from graphguard.dense.run import dense_blocks
from tests.dense.test_fraudar import background, planted, ratings

ITEMS = [f"item{i:03d}" for i in range(200, 260)]  # 60 mid-popularity items of 2000


def world(seed: int, *, density: float = 0.3, camouflage: bool = False) -> list:
    rng = np.random.default_rng(seed)
    pairs = background(rng, n_users=2000)
    block = planted(40, ITEMS, density, rng)
    if camouflage:  # each fake also rates as many items drawn by popularity
        per = (
            pl.DataFrame(block, schema=["a", "t"], orient="row")
            .group_by("a", maintain_order=True)
            .len()
        )
        pop = 1.0 / np.arange(1, 2001) ** 0.8
        for a, n in per.iter_rows():
            for i in rng.choice(2000, int(n), replace=False, p=pop / pop.sum()):
                block.append((a, f"item{i:03d}"))
    return list(dict.fromkeys(pairs + block))


def indices(graph, ids: list[str]) -> np.ndarray:
    index = {t: j for j, t in enumerate(graph.target_ids.to_list())}
    return np.array([index[t] for t in ids if t in index], dtype=np.int64)


def test_poisson_tail_is_the_upper_tail():
    k = np.array([0, 1, 3, 10, 25])
    lam = np.array([0.5, 0.5, 2.0, 1.0, 4.0])
    expected = np.where(k <= 0, 1.0, poisson.sf(k - 1, lam))
    assert np.allclose(poisson_tail(k, lam), expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("camouflage", [False, True])
def test_a_sparse_block_is_recovered_from_a_poor_seed(camouflage):
    graph = bipartite(ratings(world(3, camouflage=camouflage)), ("like",))
    # two thirds of the block's items and 20 rarely rated ones: a peel that mixed it with others
    seed = indices(graph, ITEMS[:40] + [f"item{i:03d}" for i in range(1000, 1020)])
    found = refine_block(graph, seed)
    assert found is not None
    members = graph.account_ids.gather(found.accounts).to_list()
    fakes = [a for a in members if a.startswith("fake")]
    assert len(fakes) >= 36  # of 40, each with about 18 edges in the block
    assert len(members) - len(fakes) <= 2
    assert found.lift > 8
    # camouflage (as many popular items as block items) cuts the share inside the block
    assert (0.3 < found.share < 0.6) if camouflage else found.share > 0.9


def test_random_background_gives_no_strong_block():
    graph = bipartite(ratings(list(dict.fromkeys(background(np.random.default_rng(4))))), ("like",))
    refined = refine_blocks(graph, peeled_seeds(graph, 5))
    flagged = refined.filter(flag_refined(4.75, 0.25))
    assert flagged.height == 0, flagged.select("n_accounts", "lift", "share")


def test_refine_blocks_is_deterministic_distinct_and_sorted():
    graph = bipartite(ratings(world(5)), ("like",))
    seeds = peeled_seeds(graph, 5)
    first = refine_blocks(graph, seeds + seeds)  # every seed twice: no duplicate rows
    assert first.columns == list(REFINED_COLUMNS)
    assert first.equals(refine_blocks(graph, seeds))
    keys = first.select(pl.col("accounts").list.join(","), pl.col("targets").list.join(","))
    assert keys.unique().height == first.height
    assert first.get_column("lift").is_sorted(descending=True)


def test_dense_refine_flags_the_sparse_block_and_not_the_background():
    events = ratings(world(6, camouflage=True))
    plain = dense_blocks(events, DenseConfig(objective="excess", refine=False), ("like",))
    assert plain.refined is None and "refined_block" not in plain.accounts.columns
    result = dense_blocks(events, DenseConfig(objective="excess", refine=True), ("like",))
    flagged = result.accounts.filter(pl.col("flagged")).get_column("account_id").to_list()
    fakes = [a for a in flagged if a.startswith("fake")]
    assert len(fakes) >= 36
    assert len(flagged) - len(fakes) <= 20  # 1% of the 2,000 users
    assert result.summary["flagged_refined_blocks"] >= 1


@pytest.mark.parametrize(
    ("key", "value"), [("min_share", 1.5), ("min_lift", -1.0), ("refine_alpha", 0.0)]
)
def test_bad_refine_settings_are_refused(key, value):
    with pytest.raises(ConfigError, match=f"dense.{key}"):
        DenseConfig(**{key: value})
