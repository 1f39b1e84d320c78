"""FRAUDAR-style peeling: a planted block inside random background is found, camouflage does not
hide it, the same log gives the same blocks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.dense.bipartite import bipartite
from graphguard.dense.fraudar import BLOCK_COLUMNS, find_blocks, peel
from tests.worlds import T0


def ratings(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    """A validated event frame of 'like' events, one per (account, target), no device or IP."""
    n = len(pairs)
    return pl.DataFrame(
        {
            schema.TIME: [T0] * n,
            schema.ACCOUNT: [a for a, _ in pairs],
            schema.EVENT_TYPE: ["like"] * n,
            schema.DEVICE: [None] * n,
            schema.IP: [None] * n,
            schema.TARGET: [t for _, t in pairs],
        },
        schema={**schema.EVENT_SCHEMA},
    )


def background(
    rng: np.random.Generator, n_users: int = 600, n_items: int = 2000, skew: float = 0.8
) -> list:
    """Users rating 3-30 items each, item popularity Zipf-like (``skew`` 0: uniform)."""
    pop = 1.0 / np.arange(1, n_items + 1) ** skew
    pop /= pop.sum()
    pairs = []
    for u in range(n_users):
        k = int(rng.integers(3, 30))
        for i in rng.choice(n_items, k, replace=False, p=pop):
            pairs.append((f"user{u:03d}", f"item{i:03d}"))
    return pairs


def planted(n_accounts: int, items: list[str], density: float, rng) -> list:
    return [
        (f"fake{a:02d}", item)
        for a in range(n_accounts)
        for item in items
        if rng.random() < density
    ]


def fake_share(block_accounts: list[str]) -> float:
    return sum(a.startswith("fake") for a in block_accounts) / max(len(block_accounts), 1)


def test_peeling_finds_a_planted_block_in_random_background():
    """FRAUDAR's setting: a sparse background of users rating items at random. (The excess
    objective misses this one: the block makes its own rare items popular, and the null then
    explains it; see `peel_excess`.)"""
    rng = np.random.default_rng(3)
    items = [f"item{i:03d}" for i in rng.choice(2000, 25, replace=False)]
    events = ratings(background(rng, skew=0.0) + planted(30, items, 0.9, rng))
    blocks, accounts = find_blocks(bipartite(events, ["like"]), 3)
    assert blocks.columns == list(BLOCK_COLUMNS)
    top = blocks.row(0, named=True)
    fakes = {f"fake{a:02d}" for a in range(30)}
    assert fakes <= set(top["accounts"])  # every fake in the densest block ...
    assert fake_share(top["accounts"]) >= 0.9  # ... and few real users with them
    assert set(items) <= set(top["targets"])
    fake_rows = accounts.filter(pl.col(schema.ACCOUNT).str.starts_with("fake"))
    assert fake_rows.get_column("block").to_list() == [0] * 30
    assert accounts.height == events.get_column(schema.ACCOUNT).n_unique()


def test_peeling_is_deterministic_and_ignores_row_order():
    rng = np.random.default_rng(4)
    items = [f"item{i:03d}" for i in range(100, 120)]
    pairs = background(rng) + planted(20, items, 0.8, rng)
    events = ratings(pairs)
    first = find_blocks(bipartite(events, ["like"]), 4)
    again = find_blocks(bipartite(events, ["like"]), 4)
    shuffled = find_blocks(
        bipartite(events.sample(fraction=1.0, shuffle=True, seed=9), ["like"]), 4
    )
    for other in (again, shuffled):
        assert first[0].equals(other[0])
        assert first[1].equals(other[1])


@pytest.mark.parametrize("camouflage", ["random", "popular"])
def test_camouflage_does_not_hide_the_block(camouflage):
    """Each fake also rates as many other items as block items, at random or the most popular."""
    rng = np.random.default_rng(5)
    items = [f"item{i:03d}" for i in rng.choice(np.arange(150, 2000), 20, replace=False)]
    block = planted(25, items, 1.0, rng)
    cover = []
    for a in range(25):
        pool = np.arange(2000) if camouflage == "random" else np.arange(30)
        for i in rng.choice(pool, 20, replace=False):
            cover.append((f"fake{a:02d}", f"item{i:03d}"))
    events = ratings(background(rng) + block + cover)
    blocks, accounts = find_blocks(bipartite(events, ["like"]), 2)
    top = blocks.row(0, named=True)
    assert {f"fake{a:02d}" for a in range(25)} <= set(top["accounts"])
    assert fake_share(top["accounts"]) >= 0.9
    # a camouflaged account puts only part of its activity into the block
    share = accounts.filter(pl.col(schema.ACCOUNT) == "fake00").get_column("block_share")[0]
    assert 0.4 <= share < 1.0


def test_peel_of_a_clique_plus_pendant_keeps_the_clique():
    """Accounts 0-2 x targets 0-2 complete, account 3 on target 3 only: the 3 x 3 block wins
    (g = 9 / 6 against (9 + 1) / 8 for everything)."""
    account = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    target = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 3])
    found = peel(4, 4, account, target, np.ones(10))
    assert found.accounts.tolist() == [0, 1, 2]
    assert found.targets.tolist() == [0, 1, 2]
    assert found.density == pytest.approx(1.5)


def test_blocks_after_the_first_come_from_what_is_left():
    rng = np.random.default_rng(6)
    a_items = [f"item{i:03d}" for i in range(200, 215)]
    b_items = [f"item{i:03d}" for i in range(230, 245)]
    two = [(a.replace("fake", "fakeA"), t) for a, t in planted(15, a_items, 1.0, rng)]
    two += [(a.replace("fake", "fakeB"), t) for a, t in planted(15, b_items, 1.0, rng)]
    events = ratings(background(rng) + two)
    blocks, _ = find_blocks(bipartite(events, ["like"]), 2)
    kinds = [{a[:5] for a in accounts if a.startswith("fake")} for accounts in blocks["accounts"]]
    assert sorted(map(tuple, kinds)) == [("fakeA",), ("fakeB",)]


def cored_log(rng: np.random.Generator) -> list:
    """A long-tailed background plus an organic dense core: 80 heavy users rating about 60% of
    the 120 most popular items (MovieLens has one: 376 of its 943 users)."""
    pairs = background(rng, n_users=500, n_items=1000, skew=0.8)
    for u in range(80):
        for i in np.flatnonzero(rng.random(120) < 0.6):
            pairs.append((f"heavy{u:02d}", f"item{i:03d}"))
    return pairs


@pytest.mark.parametrize("seed", [3, 4])
def test_excess_objective_puts_the_block_before_an_organic_core(seed):
    """Plain density takes the heavy users first (flagging them); the excess over the
    configuration model, which their degrees explain, takes the planted block first."""
    rng = np.random.default_rng(seed)
    items = [f"item{i:03d}" for i in rng.choice(np.arange(120, 1000), 25, replace=False)]
    graph = bipartite(ratings(cored_log(rng) + planted(30, items, 0.9, rng)), ["like"])
    by_density, _ = find_blocks(graph, 2, objective="density")
    by_excess, _ = find_blocks(graph, 2, objective="excess")
    assert all(a.startswith("heavy") for a in by_density["accounts"][0])
    assert fake_share(by_density["accounts"][1]) == 1.0
    assert sorted(by_excess["accounts"][0]) == [f"fake{a:02d}" for a in range(30)]


def test_unknown_objective_is_refused():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="objective"):
        find_blocks(bipartite(ratings(background(rng, n_users=20)), ["like"]), objective="x")
