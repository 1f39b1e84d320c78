"""Hard worlds: campaign members look benign on their own; only co-activity gives them away."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.config import ConfigError
from graphguard.simulate import SimulationConfig, simulate


@lru_cache(maxsize=4)
def _world(difficulty: str, seed: int = 11, n: int = 3000):
    return simulate(SimulationConfig(n_accounts=n, seed=seed, difficulty=difficulty))


def _per_account(world) -> pl.DataFrame:
    truth = world.truth.select(
        schema.ACCOUNT, (pl.col(schema.LABEL) != schema.BENIGN).alias("abusive")
    )
    return (
        world.events.join(truth, on=schema.ACCOUNT)
        .group_by(schema.ACCOUNT, "abusive")
        .agg(
            pl.len().alias("events"),
            pl.col(schema.DEVICE).n_unique().alias("devices"),
            pl.col(schema.IP).n_unique().alias("ips"),
            (pl.col(schema.EVENT_TYPE) == "like").mean().alias("like_share"),
            (pl.col(schema.EVENT_TYPE) == "signup").any().alias("signup"),
        )
    )


def test_difficulty_is_validated():
    with pytest.raises(ConfigError, match="simulate.difficulty"):
        SimulationConfig(difficulty="nightmare")
    assert SimulationConfig.from_mapping({"difficulty": "hard"}).difficulty == "hard"


def test_hard_world_is_deterministic_and_keeps_the_campaigns():
    a = _world("hard")
    b = simulate(SimulationConfig(n_accounts=3000, seed=11, difficulty="hard"))
    assert a.events.equals(b.events) and a.truth.equals(b.truth)
    easy = _world("easy")
    kinds = lambda w: sorted(w.truth.get_column("campaign_kind").drop_nulls().unique())  # noqa: E731
    assert kinds(a) == kinds(easy)


def test_members_look_benign_on_their_own():
    hard = (
        _per_account(_world("hard"))
        .group_by("abusive")
        .agg(pl.all().exclude(schema.ACCOUNT).mean())
    )
    easy = (
        _per_account(_world("easy"))
        .group_by("abusive")
        .agg(pl.all().exclude(schema.ACCOUNT).mean())
    )
    gap = lambda t, c: abs(  # noqa: E731
        t.filter(pl.col("abusive")).get_column(c).item()
        - t.filter(~pl.col("abusive")).get_column(c).item()
    )
    # the easy world's members are far off the benign means; the hard world's are close
    assert gap(easy, "devices") > 3 and gap(hard, "devices") < 0.3
    assert gap(easy, "like_share") > 0.2 and gap(hard, "like_share") < 0.06
    assert gap(hard, "ips") < 0.6 and gap(hard, "signup") < 0.05
    benign_events = hard.filter(~pl.col("abusive")).get_column("events").item()
    assert gap(hard, "events") < 0.2 * benign_events


def test_members_share_no_device_with_each_other():
    # (IPs: carrier NAT and hotspots are shared by everyone, campaign or not)
    w = _world("hard")
    members = w.truth.filter(pl.col("campaign_id").is_not_null()).select(
        schema.ACCOUNT, "campaign_id"
    )
    shared = (
        w.events.join(members, on=schema.ACCOUNT)
        .drop_nulls(schema.DEVICE)
        .group_by("campaign_id", schema.DEVICE)
        .agg(pl.col(schema.ACCOUNT).n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    assert shared.height == 0
    easy = _world("easy").events.join(
        _world("easy")
        .truth.filter(pl.col("campaign_id").is_not_null())
        .select(schema.ACCOUNT, "campaign_id"),
        on=schema.ACCOUNT,
    )
    assert (
        easy.group_by("campaign_id", schema.DEVICE)
        .agg(pl.col(schema.ACCOUNT).n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .height
        > 0
    )


def test_own_features_separate_far_worse_than_on_easy_worlds_but_co_activity_still_does():
    from graphguard.config import DetectConfig
    from graphguard.features.account import FEATURE_NAMES
    from graphguard.graph.inputs import label_codes
    from graphguard.metrics import auprc
    from graphguard.models.baselines import fit_predict_gbt
    from graphguard.pipeline.stages import build_stages

    own = list(FEATURE_NAMES[: FEATURE_NAMES.index("sync_burst_share")])
    result = {}
    for difficulty in ("easy", "hard"):
        world = _world(difficulty)
        config = DetectConfig()
        stages = build_stages(world.events, config)
        table = stages.features()
        x = table.select(own).to_numpy().astype(np.float32)
        y = label_codes(stages.account_ids, world.truth.select(schema.ACCOUNT, schema.LABEL))
        abusive = y > 0
        rng = np.random.default_rng(0)
        split = rng.random(y.size)
        train, val, test = split < 0.3, (split >= 0.3) & (split < 0.4), split >= 0.4
        score = fit_predict_gbt(x, y, train, val, seed=0)
        evidence = stages.scores().sort("account")
        result[difficulty] = (
            auprc(abusive[test], score[test]),
            auprc(abusive[test], evidence.get_column("risk").to_numpy()[test]),
            abusive[test].mean(),
        )
    own_easy, _, _ = result["easy"]
    own_hard, co_hard, prevalence = result["hard"]
    assert own_easy > 0.95
    assert own_hard < own_easy - 0.4  # own activity alone no longer separates them
    # the unsupervised co-activity evidence still ranks members far above chance
    assert co_hard > 4 * prevalence


def test_every_hard_campaign_member_acts_with_its_campaign():
    # without the floor (`hard._at_least_once`) a fifth of the members drew no coordinated event
    world = _world("hard")
    members = world.truth.filter(pl.col("campaign_id").is_not_null()).select(
        schema.ACCOUNT, "campaign_id"
    )
    first = (
        world.events.filter(pl.col(schema.EVENT_TYPE).is_in(["like", "comment", "share"]))
        .group_by(schema.ACCOUNT, schema.TARGET)
        .agg(t=pl.col(schema.TIME).min().dt.epoch("s"))
        .join(members, on=schema.ACCOUNT)
    )
    pairs = first.join(first, on=[schema.TARGET, "campaign_id"], suffix="_b").filter(
        (pl.col(schema.ACCOUNT) != pl.col(f"{schema.ACCOUNT}_b"))
        & ((pl.col("t") - pl.col("t_b")).abs() <= 600)
    )
    active = pairs.get_column(schema.ACCOUNT).n_unique()
    assert active >= 0.97 * members.height
