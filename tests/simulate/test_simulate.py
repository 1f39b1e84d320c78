"""Tests for graphguard.simulate: determinism, schema, planted structure, labels, ids, writing."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from graphguard import schema
from graphguard.simulate import (
    CAMPAIGN_KINDS,
    EVENT_TYPES,
    SimulationConfig,
    World,
    simulate,
    write_world,
)

N = 2000


@pytest.fixture(scope="module")
def world() -> World:
    return simulate(SimulationConfig(n_accounts=N, seed=7))


@pytest.fixture(scope="module")
def joined(world: World) -> pl.DataFrame:
    return world.events.join(world.truth, on=schema.ACCOUNT, how="left")


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames(world: World) -> None:
    again = simulate(SimulationConfig(n_accounts=N, seed=7))
    assert again.events.equals(world.events)
    assert again.labels.equals(world.labels)
    assert again.truth.equals(world.truth)


def test_different_seed_gives_different_world(world: World) -> None:
    other = simulate(SimulationConfig(n_accounts=N, seed=8))
    assert not other.events.equals(world.events)
    # Id namespaces are keyed by the seed too.
    shared = set(other.truth[schema.ACCOUNT]) & set(world.truth[schema.ACCOUNT])
    assert len(shared) < 10


# ----------------------------------------------------------------------------- schema


def test_event_schema_and_order(world: World) -> None:
    ev = world.events
    assert dict(ev.schema) == schema.EVENT_SCHEMA
    assert tuple(ev.columns) == schema.EVENT_COLUMNS
    for col in schema.REQUIRED_EVENT_COLUMNS:
        assert ev[col].null_count() == 0
    assert set(ev[schema.EVENT_TYPE].unique()) == set(EVENT_TYPES)
    # sorted by event_time, then account_id
    key = ev.select(schema.TIME, schema.ACCOUNT)
    assert key.equals(key.sort(schema.TIME, schema.ACCOUNT))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert ev[schema.TIME].min() >= start
    assert ev[schema.TIME].max() < start + timedelta(days=30)
    # a realistic volume: ~30 organic events per benign account plus campaigns
    assert 25 * N < ev.height < 60 * N


def test_targets_follow_the_event_type(world: World) -> None:
    ev = world.events
    by_type = {t: ev.filter(pl.col(schema.EVENT_TYPE) == t) for t in EVENT_TYPES}
    assert by_type["login"][schema.TARGET].null_count() == by_type["login"].height
    assert by_type["signup"][schema.TARGET].null_count() == by_type["signup"].height
    posts = by_type["post"][schema.TARGET]
    assert posts.null_count() == 0 and posts.n_unique() == posts.len()  # new content per post
    assert posts.str.starts_with("c").all()
    accounts = set(world.truth[schema.ACCOUNT])
    assert set(by_type["follow"][schema.TARGET]) <= accounts
    content = pl.concat([by_type[t] for t in ("view", "like", "comment", "share")])
    assert content[schema.TARGET].null_count() == 0
    assert content[schema.TARGET].str.starts_with("c").all()
    # engagement never precedes the post it targets
    post_time = by_type["post"].select(pl.col(schema.TARGET), pl.col(schema.TIME).alias("posted"))
    late = content.join(post_time, on=schema.TARGET).filter(pl.col(schema.TIME) < pl.col("posted"))
    assert late.height == 0


def test_ids_look_like_real_ids(world: World) -> None:
    ev = world.events
    assert ev[schema.ACCOUNT].str.contains(r"^u[0-9a-f]{10}$").all()
    assert ev[schema.DEVICE].drop_nulls().str.contains(r"^d[0-9a-f]{12}$").all()
    ips = ev[schema.IP].drop_nulls().unique()
    v4 = ips.str.contains(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
    v6 = ips.str.contains(r"^[0-9a-f]{4}(:[0-9a-f]{4}){3}::[0-9a-f]{4}$")
    assert (v4 | v6).all()
    assert v4.sum() > 0 and v6.sum() > 0
    octets = ips.filter(v4).str.split(".").explode().cast(pl.Int64)
    assert octets.min() >= 0 and octets.max() <= 255
    # some nulls in the nullable columns, none in the required ones
    assert 0 < ev[schema.DEVICE].null_count() < 0.05 * ev.height
    assert 0 < ev[schema.IP].null_count() < 0.01 * ev.height


# ----------------------------------------------------------------------------- truth


def test_truth_covers_every_account_once(world: World) -> None:
    truth = world.truth
    assert dict(truth.schema) == schema.TRUTH_SCHEMA
    assert truth[schema.ACCOUNT].n_unique() == truth.height
    assert set(truth[schema.ACCOUNT]) == set(world.events[schema.ACCOUNT].unique())


def test_every_campaign_and_hard_negative_kind_present(world: World) -> None:
    truth = world.truth
    camp = truth.filter(pl.col("campaign_kind").is_not_null())
    assert set(camp["campaign_kind"]) == set(CAMPAIGN_KINDS) == set(schema.CAMPAIGN_LABEL)
    for kind, label in schema.CAMPAIGN_LABEL.items():
        rows = camp.filter(pl.col("campaign_kind") == kind)
        assert (rows[schema.LABEL] == label).all()
        assert rows["campaign_id"].str.starts_with(f"{kind}-").all()
    benign = truth.filter(pl.col("campaign_kind").is_null())
    assert (benign[schema.LABEL] == schema.BENIGN).all()
    assert benign["campaign_id"].null_count() == benign.height
    hn = truth.filter(pl.col("hard_negative").is_not_null())
    assert set(hn["hard_negative"]) == set(schema.HARD_NEGATIVE_KINDS)
    assert (hn[schema.LABEL] == schema.BENIGN).all()
    assert hn["campaign_id"].null_count() == hn.height


def test_default_scale_population_sizes() -> None:
    # Planning only depends on counts, so a short window keeps this fast.
    w = simulate(SimulationConfig(n_accounts=20_000, days=3, events_per_account=3))
    counts = dict(w.truth.group_by("hard_negative").len().drop_nulls().iter_rows())
    assert set(counts) == set(schema.HARD_NEGATIVE_KINDS)
    assert min(counts.values()) >= 150
    camps = (
        w.truth.drop_nulls("campaign_id")
        .group_by("campaign_kind")
        .agg(pl.col("campaign_id").n_unique())
    )
    assert dict(camps.iter_rows()) == {
        "device_farm": 3,
        "proxy_ring": 3,
        "engagement_pod": 4,
        "paid_boost": 3,
        "tiny_ring": 6,
    }


# ----------------------------------------------------------------------------- campaigns


def test_device_farm_uses_few_devices_and_burst_signups(joined: pl.DataFrame) -> None:
    farm = joined.filter(pl.col("campaign_kind") == "device_farm")
    per = farm.group_by("campaign_id").agg(
        pl.col(schema.ACCOUNT).n_unique().alias("accounts"),
        pl.col(schema.DEVICE).drop_nulls().n_unique().alias("devices"),
        pl.col(schema.IP).drop_nulls().n_unique().alias("ips"),
        pl.col(schema.TIME).filter(pl.col(schema.EVENT_TYPE) == "signup").min().alias("s0"),
        pl.col(schema.TIME).filter(pl.col(schema.EVENT_TYPE) == "signup").max().alias("s1"),
        (pl.col(schema.EVENT_TYPE) == "signup").sum().alias("signups"),
    )
    for row in per.iter_rows(named=True):
        assert 40 <= row["accounts"] <= 200
        assert 3 <= row["devices"] <= 10
        assert row["ips"] <= 6
        assert row["signups"] == row["accounts"]
        assert (row["s1"] - row["s0"]).total_seconds() <= 3 * 3600
    # every farm IP sits in at most two /24s
    prefixes = (
        farm.drop_nulls(schema.IP)
        .group_by("campaign_id")
        .agg(pl.col(schema.IP).str.replace(r"\.\d+$", "").n_unique())
    )
    assert prefixes[schema.IP].max() <= 2


def test_proxy_ring_never_reuses_a_device(joined: pl.DataFrame) -> None:
    ring = joined.filter(pl.col("campaign_kind") == "proxy_ring").drop_nulls(schema.DEVICE)
    per_device = ring.group_by(schema.DEVICE).agg(
        pl.col(schema.ACCOUNT).n_unique().alias("accounts"),
        (pl.col(schema.TIME).max() - pl.col(schema.TIME).min()).alias("span"),
    )
    assert per_device["accounts"].max() == 1
    # one device = one session: all its events within an hour
    assert per_device["span"].max() < timedelta(hours=1)
    others = joined.filter(
        pl.col(schema.DEVICE).is_in(ring[schema.DEVICE].unique().implode())
        & (pl.col("campaign_kind").is_null() | (pl.col("campaign_kind") != "proxy_ring"))
    )
    assert others.height == 0
    # its IPs are shared with real users
    ring_ips = ring[schema.IP].drop_nulls().unique().implode()
    benign_on_ring_ips = joined.filter(
        pl.col("campaign_kind").is_null() & pl.col(schema.IP).is_in(ring_ips)
    )[schema.ACCOUNT].n_unique()
    assert benign_on_ring_ips > 100


def _like_delays(joined: pl.DataFrame) -> pl.DataFrame:
    posts = joined.filter(pl.col(schema.EVENT_TYPE) == "post").select(
        pl.col(schema.TARGET),
        pl.col(schema.TIME).alias("posted"),
        pl.col("campaign_id").alias("author_campaign"),
    )
    return (
        joined.filter(pl.col(schema.EVENT_TYPE) == "like")
        .join(posts, on=schema.TARGET)
        .with_columns(
            ((pl.col(schema.TIME) - pl.col("posted")).dt.total_seconds() / 60).alias("minutes")
        )
    )


def test_engagement_pod_likes_each_other_within_minutes(joined: pl.DataFrame) -> None:
    likes = _like_delays(joined)
    pod = likes.filter(
        (pl.col("campaign_kind") == "engagement_pod")
        & (pl.col("campaign_id") == pl.col("author_campaign"))
    )
    assert pod.height > 50
    assert pod["minutes"].quantile(0.9) < 20
    # pod posts get little engagement from outside the pod
    pod_posts = joined.filter(
        (pl.col(schema.EVENT_TYPE) == "post") & (pl.col("campaign_kind") == "engagement_pod")
    )[schema.TARGET].implode()
    on_pod_posts = likes.filter(pl.col(schema.TARGET).is_in(pod_posts))
    outside = on_pod_posts.filter(
        pl.col("campaign_id").is_null() | (pl.col("campaign_id") != pl.col("author_campaign"))
    )
    assert outside.height < 0.2 * on_pod_posts.height
    # pods are aged accounts: no signups in the window
    pod_signups = joined.filter(
        (pl.col("campaign_kind") == "engagement_pod") & (pl.col(schema.EVENT_TYPE) == "signup")
    )
    assert pod_signups.height == 0


def test_paid_boost_orders_are_fast_and_fan_engagement_is_slow(joined: pl.DataFrame) -> None:
    likes = _like_delays(joined)
    boost = likes.filter(pl.col("campaign_kind") == "paid_boost")
    # the order likes (on customers' posts) dominate and land within ~10 minutes
    assert (boost["minutes"] <= 11).mean() > 0.5
    fans = likes.filter(pl.col("hard_negative") == "fan_community")
    assert fans.height > 100
    # fans may like many posts of one creator but hardly ever within minutes
    assert (fans["minutes"] < 10).mean() < 0.1


def test_camouflage_share(joined: pl.DataFrame) -> None:
    # Camouflage is organic-looking: views happen only in organic sessions.
    share = (
        joined.filter(pl.col("campaign_kind").is_not_null())
        .group_by("campaign_kind")
        .agg((pl.col(schema.EVENT_TYPE) == "view").mean().alias("views"))
    )
    assert (share["views"] > 0.05).all()


# ----------------------------------------------------------------------------- hard negatives


def test_hard_negative_structure(joined: pl.DataFrame) -> None:
    def accounts_per(col: str, kind: str) -> pl.DataFrame:
        used = joined.filter(pl.col("hard_negative") == kind)[col].drop_nulls().unique()
        return (
            joined.filter(pl.col(col).is_in(used.implode()))
            .group_by(col)
            .agg(pl.col(schema.ACCOUNT).n_unique().alias("n"))
        )

    family = accounts_per(schema.DEVICE, "family_device")
    assert family["n"].max() <= 5 and (family["n"] >= 2).sum() > 0
    kiosk = accounts_per(schema.DEVICE, "shared_kiosk")
    assert kiosk["n"].max() >= 20 and kiosk["n"].max() <= 60
    campus = accounts_per(schema.IP, "campus_wifi")
    assert campus["n"].max() >= 50
    reinstall = (
        joined.filter(pl.col("hard_negative") == "app_reinstall")
        .group_by(schema.ACCOUNT)
        .agg(pl.col(schema.DEVICE).drop_nulls().n_unique().alias("n"))
    )
    assert reinstall["n"].median() >= 5 and reinstall["n"].max() <= 15
    cohort = joined.filter(
        (pl.col("hard_negative") == "signup_cohort") & (pl.col(schema.EVENT_TYPE) == "signup")
    )
    assert cohort.height >= 30
    cohort_hours = cohort[schema.TIME].dt.truncate("1h").value_counts()
    assert cohort_hours["count"].max() >= 15
    cgnat = (
        joined.filter(pl.col("hard_negative") == "cgnat")
        .group_by(schema.ACCOUNT)
        .agg(pl.col(schema.IP).drop_nulls().n_unique().alias("n"))
    )
    assert cgnat["n"].median() >= 3


# ----------------------------------------------------------------------------- labels


def test_labels_fraction_and_correctness(world: World) -> None:
    labels, truth = world.labels, world.truth
    assert labels.columns == [schema.ACCOUNT, schema.LABEL]
    assert labels[schema.ACCOUNT].n_unique() == labels.height
    assert abs(labels.height / truth.height - 0.4) < 0.02
    merged = labels.join(truth, on=schema.ACCOUNT, suffix="_true")
    assert merged.height == labels.height
    assert (merged[schema.LABEL] == merged[f"{schema.LABEL}_true"]).all()  # no noise by default
    assert set(labels[schema.LABEL]) <= set(schema.LABELS)


def test_unlabeled_kinds_and_label_noise() -> None:
    cfg = SimulationConfig(
        n_accounts=N,
        seed=3,
        unlabeled_kinds=["proxy_ring"],
        label_noise=0.3,
        label_fraction=0.6,
    )
    assert cfg.unlabeled_kinds == ("proxy_ring",)
    w = simulate(cfg)
    merged = w.labels.join(w.truth, on=schema.ACCOUNT, suffix="_true")
    assert (merged["campaign_kind"] == "proxy_ring").sum() == 0
    abusive = merged.filter(pl.col(f"{schema.LABEL}_true") != schema.BENIGN)
    flipped = (abusive[schema.LABEL] == schema.BENIGN).mean()
    assert abs(flipped - 0.3) < 0.02
    # benign accounts are never mislabelled as abusive
    benign = merged.filter(pl.col(f"{schema.LABEL}_true") == schema.BENIGN)
    assert (benign[schema.LABEL] == schema.BENIGN).all()


# ----------------------------------------------------------------------------- id leakage


def test_ids_do_not_reveal_populations(world: World) -> None:
    truth = world.truth.sort(schema.ACCOUNT)
    rank = np.arange(truth.height) / truth.height
    abusive = (truth["campaign_kind"].is_not_null()).to_numpy()
    r = rank[abusive]
    # campaign accounts spread over the whole sorted id range, like a uniform sample
    assert r.min() < 0.05 and r.max() > 0.95
    quartiles = np.histogram(r, bins=4, range=(0, 1))[0] / r.size
    assert (np.abs(quartiles - 0.25) < 0.07).all()
    # each campaign individually is spread too
    for cid in truth["campaign_id"].drop_nulls().unique():
        rr = rank[(truth["campaign_id"] == cid).fill_null(False).to_numpy()]
        if rr.size >= 40:
            assert rr.max() - rr.min() > 0.7


# ----------------------------------------------------------------------------- config


def test_from_mapping() -> None:
    cfg = SimulationConfig.from_mapping(
        {"n_accounts": 5000.0, "seed": 3, "unlabeled_kinds": ["paid_boost", "tiny_ring"]}
    )
    assert cfg == SimulationConfig(
        n_accounts=5000, seed=3, unlabeled_kinds=("paid_boost", "tiny_ring")
    )
    with pytest.raises(ValueError, match="n_acounts"):
        SimulationConfig.from_mapping({"n_acounts": 10})
    with pytest.raises(ValueError, match="not_a_kind"):
        SimulationConfig.from_mapping({"unlabeled_kinds": ["not_a_kind"]})
    with pytest.raises(ValueError, match="label_fraction"):
        SimulationConfig(label_fraction=1.5)


def test_zero_scales() -> None:
    w = simulate(SimulationConfig(n_accounts=500, campaign_scale=0, hard_negative_scale=0))
    assert w.truth["campaign_id"].null_count() == w.truth.height
    assert w.truth["hard_negative"].null_count() == w.truth.height
    assert (w.labels[schema.LABEL] == schema.BENIGN).all()


# ----------------------------------------------------------------------------- writing


def test_write_world_writes_three_files(world: World, tmp_path) -> None:
    out = tmp_path / "world"
    paths = write_world(world, out)
    assert set(paths) == {"events", "labels", "truth"}
    assert sorted(os.listdir(out)) == ["events.parquet", "labels.parquet", "truth.parquet"]
    assert pl.read_parquet(paths["events"]).equals(world.events)
    assert pl.read_parquet(paths["labels"]).equals(world.labels)
    assert pl.read_parquet(paths["truth"]).equals(world.truth)
    # overwriting in place works and still leaves no temporary files
    write_world(world, out)
    assert sorted(os.listdir(out)) == ["events.parquet", "labels.parquet", "truth.parquet"]


def test_write_world_failure_leaves_no_partial_file(world: World, tmp_path, monkeypatch) -> None:
    real = pl.DataFrame.write_parquet

    def flaky(self, file, *args, **kwargs):
        if self is world.labels:
            with open(file, "wb") as fh:
                fh.write(b"PAR1 half")
            raise OSError("disk full")
        return real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_world(world, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["events.parquet"]
