"""The configuration-model null: planted blocks beat it, popular-item crowds do not; BH q-values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.dense.bipartite import bipartite
from graphguard.dense.significance import (
    SIGNIFICANCE_COLUMNS,
    bh_qvalues,
    block_significance,
    describe_block,
    estimate_dispersion,
)
from tests.dense.test_fraudar import ratings

#: graphguard dense's default rule (dense.fdr, dense.min_ratio)
FDR, MIN_RATIO = 0.01, 4.0


def test_bh_qvalues_on_a_worked_example():
    # sorted p 0.005, 0.01, 0.03, 0.04 -> p m / rank 0.02, 0.02, 0.04, 0.04 (already monotone)
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.005]))
    assert q.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # a later, smaller p m / rank pulls the earlier ones down; capped at 1
    assert bh_qvalues(np.array([0.02, 0.025, 0.9])).tolist() == pytest.approx([0.0375, 0.0375, 0.9])
    assert bh_qvalues(np.array([0.6, 0.9])).tolist() == pytest.approx([0.9, 0.9])
    assert bh_qvalues(np.array([])).size == 0


def test_bh_qvalues_are_monotone_in_p_and_never_below_p():
    p = np.random.default_rng(0).random(500) ** 3
    q = bh_qvalues(p)
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= 0)
    assert np.all(q >= p) and np.all(q <= 1)


@pytest.mark.parametrize("bad", [[0.1, 1.5], [-0.1], [np.nan]])
def test_bh_refuses_what_is_not_a_p_value(bad):
    with pytest.raises(ValueError, match="p-values"):
        bh_qvalues(np.array(bad))


def world(seed: int = 0):
    """1,000 ordinary users on Zipf-popular items, and four groups to test:

    fans: 40 users who engage, each with propensity 0.25-0.7 (as the simulator's fan
    communities), the 20 items of one popular creator, which 300 other users also engage;
    viral: 200 users who all engaged one item that half of everyone engaged;
    block: 30 accounts x 15 items that nobody else engages, density 0.8;
    random: 40 ordinary users drawn at random.
    """
    rng = np.random.default_rng(seed)
    n_items = 1500
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    pop /= pop.sum()
    pairs = []
    for u in range(1000):
        for i in rng.choice(n_items, int(rng.integers(5, 40)), replace=False, p=pop):
            pairs.append((f"user{u:04d}", f"item{i:04d}"))
    creator = [f"creator-post{j}" for j in range(20)]
    audience = rng.choice(1000, 340, replace=False)
    fans = [f"user{u:04d}" for u in audience[:40]]
    for u in audience[40:]:  # the creator's wider audience
        for post in rng.choice(creator, int(rng.integers(1, 6)), replace=False):
            pairs.append((f"user{u:04d}", post))
    for fan in fans:
        propensity = rng.uniform(0.25, 0.7)
        pairs += [(fan, post) for post in creator if rng.random() < propensity]
    crowd = rng.choice(1000, 500, replace=False)
    pairs += [(f"user{u:04d}", "viral-item") for u in crowd]
    viral = [f"user{u:04d}" for u in crowd[:200]]
    block = [f"fake{a:02d}" for a in range(30)]
    hidden = [f"hidden{j}" for j in range(15)]
    pairs += [(a, t) for a in block for t in hidden if rng.random() < 0.8]
    for a in block:  # and some ordinary activity
        for i in rng.choice(n_items, 10, replace=False, p=pop):
            pairs.append((a, f"item{i:04d}"))
    random_group = [f"user{u:04d}" for u in rng.choice(1000, 40, replace=False)]
    groups = pl.DataFrame(
        {
            schema.ACCOUNT: fans + viral + block + random_group,
            "group": [0] * 40 + [1] * 200 + [2] * 30 + [3] * 40,
        }
    )
    return ratings(pairs), groups


def flagged(row: dict) -> bool:
    return row["q_value"] <= FDR and row["ratio"] >= MIN_RATIO


def test_planted_block_beats_the_null_and_popular_crowds_do_not():
    events, groups = world()
    sig = block_significance(bipartite(events, ["like"]), groups)
    assert sig.columns == list(SIGNIFICANCE_COLUMNS)
    rows = {r["group"]: r for r in sig.iter_rows(named=True)}
    fans, viral, block, random_group = (rows[g] for g in range(4))
    assert flagged(block)
    assert block["q_value"] < 1e-6
    assert block["ratio"] > 2 * max(fans["ratio"], viral["ratio"], random_group["ratio"])
    assert block["n_shared_targets"] >= 15
    for crowd in (fans, viral, random_group):
        assert not flagged(crowd), crowd
    # the viral crowd shares one item: without its one strongest target, nothing is left
    assert viral["ratio"] < 2


def test_one_shared_target_is_not_a_block():
    """A group picked because its members share one item beats the null on that item alone;
    leaving each group's strongest target out (drop_top=1) explains it away."""
    events, groups = world(1)
    graph = bipartite(events, ["like"])
    viral = groups.filter(pl.col("group") == 1)
    kept = block_significance(graph, viral, drop_top=0).row(0, named=True)
    dropped = block_significance(graph, viral, drop_top=1).row(0, named=True)
    assert kept["observed"] > dropped["observed"]
    assert dropped["ratio"] < kept["ratio"]


def test_dispersion_widens_the_null():
    events, groups = world(2)
    graph = bipartite(events, ["like"])
    plain = block_significance(graph, groups)
    wide = block_significance(graph, groups, dispersion=4.0)
    assert np.allclose(wide["z"], plain["z"] / 2)
    above = plain["z"] > 0  # beyond the mean, a wider null makes the excess less surprising
    assert (wide["p_value"].filter(above) >= plain["p_value"].filter(above)).all()
    assert estimate_dispersion(np.array([0.1, 0.2, 0.3])) == 1.0  # too few groups
    assert estimate_dispersion(np.full(10, 3.0)) == pytest.approx(9 / 0.454936423119572)


def test_block_evidence_in_words():
    events, groups = world()
    sig = block_significance(bipartite(events, ["like"]), groups)
    sentence = describe_block(sig.filter(pl.col("group") == 2).row(0, named=True))
    n_shared = sig.filter(pl.col("group") == 2)["n_shared_targets"][0]
    others = sig.filter(pl.col("group") == 2)["outside_engagers"][0]
    assert sentence.startswith(f"its 30 members share {n_shared} targets that {others:,} other")
    assert "times more co-engagement than their activity and the targets' popularity" in sentence
    assert sentence.endswith("q < 0.001)")
    alone = dict(sig.row(0, named=True), n_members=3, outside_engagers=0, n_shared_targets=2)
    assert "2 targets that no other account engages" in describe_block(alone)
    assert "1.5 times the co-engagement their activity" in describe_block(dict(alone, ratio=1.5))
    assert "no more co-engagement than" in describe_block(dict(alone, ratio=0.7))
    few = dict(alone, outside_engagers=1)
    assert "that only 1 other account engages" in describe_block(few)
    none = dict(alone, n_shared_targets=0)
    assert (
        describe_block(none)
        == "its 3 members share no target (no two of them engaged the same one)"
    )


def test_groups_must_name_accounts_and_groups():
    events, groups = world()
    with pytest.raises(ValueError, match="groups needs columns"):
        block_significance(bipartite(events, ["like"]), groups.rename({"group": "g"}))


def test_simulated_campaigns_beat_the_null_and_crowds_do_not():
    """On a simulated world every campaign is flagged; the viral crowd and the hard negatives
    of shared hardware are not. (The simulator's fan communities are: their creator's posts
    are engaged by the fans alone, a dense block like an engagement pod's, which targets'
    popularity cannot explain; telling them apart needs more than the bipartite graph.)"""
    from graphguard.simulate import SimulationConfig, simulate

    world = simulate(SimulationConfig(n_accounts=2000, seed=77))
    truth = world.truth
    campaigns = truth.filter(pl.col("campaign_id").is_not_null()).select(
        schema.ACCOUNT, ("campaign:" + pl.col("campaign_id").cast(pl.String)).alias("group")
    )
    crowds = truth.filter(
        pl.col("hard_negative").is_not_null() & (pl.col("hard_negative") != "fan_community")
    ).select(schema.ACCOUNT, ("hn:" + pl.col("hard_negative")).alias("group"))
    graph = bipartite(world.events, ["like", "comment", "share", "follow"])
    sig = block_significance(graph, pl.concat([campaigns, crowds]))
    rows = {r["group"]: r for r in sig.iter_rows(named=True)}
    assert sum(g.startswith("campaign:") for g in rows) >= 3
    for group, row in rows.items():
        assert flagged(row) == group.startswith("campaign:"), (group, row)
    assert "hn:viral_engager" in rows
