"""Synchrony counts every occasion a member engages a target, not only its first: a ring that
keeps coming back to the same few posts in lockstep is synchronized on each of them, while a
group chat returning to its one thread, and fans who re-like old posts alone, are not made
rings by the repetition."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.community.evidence import engagement_occasions, with_cluster
from graphguard.pipeline.detect import detect
from graphguard.pipeline.stages import build_stages
from tests.worlds import T0, fans_of_creator, frame, ordinary_users

RING_TARGETS = 4


def _own_items(rng: np.random.Generator, account: str, device: str, ip: str, n: int) -> list:
    """``n`` likes of popular-ish items at random times (an account's ordinary activity)."""
    return [
        (
            T0 + timedelta(seconds=int(rng.integers(0, 30 * 86400))),
            account,
            "like",
            device,
            ip,
            f"item{int(rng.zipf(1.6)) % 400}",
        )
        for _ in range(n)
    ]


def reusing_ring(rng: np.random.Generator, *, size: int = 6, waves: int = 16) -> list[tuple]:
    """A ring on two shared devices and one proxy IP that likes its own ``RING_TARGETS`` posts
    in wave after wave (every member within four minutes), each member having first liked
    each post alone, hours away from any other member: the first engagements show no
    synchrony at all."""
    rows = []
    ip = "203.0.113.50"
    for a in range(size):
        device = f"loop-dev{a % 2}"
        for j in range(RING_TARGETS):
            first = T0 + timedelta(days=1 + j, hours=3 * a)
            rows.append((first, f"loop{a}", "like", device, ip, f"loop-post{j}"))
        rows += _own_items(rng, f"loop{a}", device, ip, 8)
    for w in range(waves):
        start = T0 + timedelta(days=6 + 1.5 * w, hours=int(rng.integers(0, 20)))
        for a in range(size):
            t = start + timedelta(seconds=int(rng.integers(0, 240)))
            rows.append((t, f"loop{a}", "like", f"loop-dev{a % 2}", ip, f"loop-post{w % 4}"))
    return rows


def group_chat(rng: np.random.Generator, *, size: int = 4, sessions: int = 15) -> list[tuple]:
    """Friends, each on a phone and a home IP of their own, who open two group threads
    together and then come back to the first one together every other day, commenting back
    and forth for a quarter of an hour; each also likes popular items of their own."""
    rows = []
    for s in range(sessions):
        start = T0 + timedelta(days=1 + 2 * s, hours=19 + int(rng.integers(0, 3)))
        threads = ("chat-thread0", "chat-thread1") if s == 0 else ("chat-thread0",)
        for a in range(size):
            for k in range(3):
                t = start + timedelta(seconds=int(60 * (a + 4 * k) + rng.integers(0, 50)))
                for thread in threads:
                    rows.append(
                        (t, f"chat{a}", "comment", f"chat-phone{a}", f"198.18.0.{a}", thread)
                    )
    for a in range(size):
        rows += _own_items(rng, f"chat{a}", f"chat-phone{a}", f"198.18.0.{a}", 30)
    return rows


def relikers(rng: np.random.Generator) -> list[tuple]:
    """A family of four on one shared tablet, among forty fans of one creator, who like the
    creator's posts hours after they appear and come back to re-like some of them days later,
    each on their own time."""
    rows = fans_of_creator(rng, 40, posts=12, prefix="fan")
    family = {f"fan{a}" for a in range(4)}
    out = []
    for t, account, kind, _, _, target in rows:
        if account in family:
            out.append((t, account, kind, "family-tablet", "198.51.200.1", target))
            for _ in range(int(rng.integers(1, 3))):
                again = t + timedelta(days=int(rng.integers(1, 6)), hours=int(rng.integers(0, 24)))
                out.append((again, account, kind, "family-tablet", "198.51.200.1", target))
        elif account.startswith("fan"):
            n = int(account[3:])
            out.append((t, account, kind, f"fan-dev{n}", f"198.51.201.{n}", target))
        else:  # the creator's posts
            out.append((t, account, kind, "creator-dev", "198.51.202.1", target))
    return out


def _world() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    rows = ordinary_users(rng, 200) + reusing_ring(rng) + group_chat(rng) + relikers(rng)
    return frame(rows)


def _members_of(result, prefix: str) -> pl.DataFrame:
    return result.accounts.filter(pl.col(schema.ACCOUNT).str.starts_with(prefix))


def test_occasions_split_where_an_account_leaves_a_target_for_two_windows():
    rows = [
        (T0 + timedelta(seconds=s), "a", kind, None, None, "post")
        for s, kind in ((0, "like"), (60, "comment"), (1300, "comment"), (5000, "like"))
    ]
    rows.append((T0 + timedelta(seconds=10), "b", "like", None, None, "post"))
    stages = build_stages(frame(rows))
    ev = with_cluster(stages.indexed, np.zeros(2, dtype=np.int64))
    occasions = engagement_occasions(ev, ("like", "comment"), 600.0)
    seconds = (occasions.get_column("t") - occasions.get_column("t").min()) // 1_000_000
    # a: 0 and 60 are one act, 1300 is more than 2 x 600 s after 60, 5000 after 1300; b: one
    pairs = zip(occasions.get_column("account").to_list(), seconds.to_list(), strict=True)
    assert sorted(pairs) == [
        (0, 0),
        (0, 1300),
        (0, 5000),
        (1, 10),
    ]


def test_a_ring_that_reuses_its_targets_is_synchronized_on_each_of_them():
    result = detect(_world())
    ring = _members_of(result, "loop")
    assert ring.height == 6
    assert ring.get_column("cluster_id").n_unique() == 1, "the ring must be one community"
    # every member's first like of every post was alone; the waves make each post synced
    assert ring.get_column("n_synced_targets").to_list() == [RING_TARGETS] * 6
    cluster = result.clusters.filter(pl.col("cluster_id") == ring.get_column("cluster_id")[0])
    # all six in lockstep (an ordinary user may share the community)
    share, size = cluster.select("lockstep_member_share", "size").row(0)
    assert round(share * size) == 6
    assert cluster.get_column("behaviour_score").item() > 0.9
    assert ring.get_column("flagged").all()


def test_a_group_chat_back_on_its_thread_counts_the_thread_once():
    result = detect(_world())
    chat = _members_of(result, "chat")
    # linked by their synchronized first comments on the two threads
    assert chat.get_column("cluster_id").null_count() == 0
    assert chat.get_column("cluster_id").n_unique() == 1
    # fifteen sessions in sync on thread 0 count it once: two synced threads each, no lockstep
    assert chat.get_column("n_synced_targets").to_list() == [2] * 4
    cluster = result.clusters.filter(pl.col("cluster_id") == chat.get_column("cluster_id")[0])
    assert cluster.get_column("lockstep_member_share").item() == 0.0
    assert not chat.get_column("flagged").any()


def test_fans_who_re_like_on_their_own_time_are_not_synchronized():
    result = detect(_world())
    family = result.accounts.filter(pl.col(schema.ACCOUNT).is_in([f"fan{a}" for a in range(4)]))
    assert family.get_column("cluster_id").null_count() == 0, "the tablet makes a community"
    # a re-like may meet another fan's like by chance, never a burst on post after post
    assert family.get_column("n_synced_targets").max() <= 1
    # (the shared tablet is infrastructure evidence of its own; synchrony adds next to none)
    assert family.get_column("behaviour_part").max() < 0.1
