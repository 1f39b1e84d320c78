"""The matching rules of `graphguard.campaigns.matching`, on hand-built runs: each status planted
and checked, rotated members matched through shared entities, hubs ignored, ids deterministic,
unique and hex whatever the account ids hold."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from graphguard import rundir, schema
from graphguard.campaigns import (
    CAMPAIGN_ID_PATTERN,
    PreviousRun,
    content_ids,
    track_campaigns,
)
from graphguard.campaigns.matching import Campaigns
from tests.worlds import HOSTILE_ACCOUNTS

ACC, CID, PID, STATUS = (
    schema.ACCOUNT,
    rundir.CLUSTER_ID,
    rundir.CAMPAIGN_ID,
    rundir.CAMPAIGN_STATUS,
)


def names(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i}" for i in range(start, start + n)]


def run_of(
    groups: list[list[str]],
    entities: dict[str, list[tuple[str, str]]] | None = None,
    loners: tuple[str, ...] = ("loner0", "loner1"),
    parents: list[int] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """accounts, clusters and entity edges of a run whose cluster i holds ``groups[i]``;
    ``entities``: account -> [(kind, entity), ...]; ``loners`` are in no cluster; ``parents``:
    cluster i's pre-split community (clusters.parquet's column), else none recorded."""
    rows = [(a, i) for i, group in enumerate(groups) for a in group]
    rows += [(a, None) for a in loners]
    accounts = pl.DataFrame(rows, schema={ACC: pl.String, CID: pl.Int64}, orient="row")
    clusters = pl.DataFrame(
        {CID: list(range(len(groups))), rundir.SIZE: [len(g) for g in groups]},
        schema={CID: pl.Int64, rundir.SIZE: pl.Int64},
    )
    if parents is not None:
        clusters = clusters.with_columns(
            pl.Series(rundir.PRE_SPLIT_COMMUNITY, parents, dtype=pl.Int64)
        )
    edge_rows = [(a, kind, e) for a, pairs in (entities or {}).items() for kind, e in pairs]
    edges = pl.DataFrame(
        edge_rows, schema={ACC: pl.String, "kind": pl.String, "entity": pl.String}, orient="row"
    )
    return accounts, clusters, edges


def as_previous(result: Campaigns, edges: pl.DataFrame) -> PreviousRun:
    """A tracked run, as the next run sees it (`campaigns.previous.load_previous`)."""
    members = result.accounts.filter(pl.col(PID).is_not_null()).select(ACC, PID)
    parents = None
    if rundir.PRE_SPLIT_COMMUNITY in result.clusters.columns:
        parents = result.clusters.select(PID, rundir.PRE_SPLIT_COMMUNITY)
    return PreviousRun(
        path=Path("prev"),
        members=members,
        entities=edges,
        identity={"path": "prev"},
        parents=parents,
    )


def track(groups, entities=None, previous=None, parents=None) -> Campaigns:
    accounts, clusters, edges = run_of(groups, entities, parents=parents)
    return track_campaigns(accounts, clusters, edges, previous)


def chain(first, second, first_entities=None, second_entities=None) -> tuple[Campaigns, Campaigns]:
    """Track ``first`` alone, then ``second`` against it."""
    one = track(first, first_entities)
    _, _, edges = run_of(first, first_entities)
    return one, track(second, second_entities, as_previous(one, edges))


def row(result: Campaigns, cluster: int) -> dict:
    return result.clusters.filter(pl.col(CID) == cluster).to_dicts()[0]


def id_of(result: Campaigns, cluster: int) -> str:
    return row(result, cluster)[PID]


# --------------------------------------------------------------------------------------------
# Without a previous run


def test_every_reported_cluster_gets_a_new_hex_id_and_loners_none():
    result = track([names("a", 5), names("b", 4)])
    assert result.clusters.get_column(STATUS).to_list() == ["new", "new"]
    ids = result.clusters.get_column(PID).to_list()
    assert len(set(ids)) == 2 and all(CAMPAIGN_ID_PATTERN.fullmatch(i) for i in ids)
    loners = result.accounts.filter(pl.col(CID).is_null())
    assert loners.get_column(PID).null_count() == loners.height == 2
    assert result.section["previous"] is None
    assert result.section["counts"]["new"] == 2


def test_columns_follow_the_run_contract():
    result = track([names("a", 5)])
    for frame, name in (
        (result.accounts, rundir.ACCOUNTS_FILE),
        (result.clusters, rundir.CLUSTERS_FILE),
    ):
        declared = {c.name: c.dtype for c in rundir.TABLES[name]}
        for column in (PID, STATUS):
            assert frame.schema[column] == declared[column]
    declared = {c.name: c.dtype for c in rundir.CLUSTER_COLUMNS}
    for column in (rundir.PREVIOUS_CAMPAIGNS, rundir.CAMPAIGN_MATCH, rundir.PREVIOUS_SIZE):
        assert result.clusters.schema[column] == declared[column]
    assert result.clusters.columns[:4] == [CID, rundir.SIZE, PID, STATUS]


def test_ids_are_deterministic_and_come_from_the_members():
    first, again = track([names("a", 5), names("b", 4)]), track([names("a", 5), names("b", 4)])
    assert first.clusters.equals(again.clusters) and first.accounts.equals(again.accounts)
    # the same members in another cluster number, another order: the same id
    swapped = track([list(reversed(names("b", 4))), names("a", 5)])
    assert id_of(swapped, 1) == id_of(first, 0) and id_of(swapped, 0) == id_of(first, 1)
    # one member more: another campaign, another id
    assert id_of(track([names("a", 6)]), 0) != id_of(first, 0)


def test_hostile_account_ids_give_plain_distinct_ids():
    hostile = [*HOSTILE_ACCOUNTS, "a\n1:b", "", "\u202eevil", "x" * 5000]
    tricky = [["1:a", "b"], ["a\n1:b"], hostile]  # length prefixes keep encodings apart
    result = track(tricky)
    ids = result.clusters.get_column(PID).to_list()
    assert len(set(ids)) == 3 and all(CAMPAIGN_ID_PATTERN.fullmatch(i) for i in ids)
    _, again = chain(tricky, tricky)
    assert again.clusters.get_column(STATUS).to_list() == ["continuing"] * 3
    assert again.clusters.get_column(PID).to_list() == ids


def test_a_taken_content_id_is_salted():
    members = pl.DataFrame(
        {ACC: names("a", 3), CID: [0, 0, 0]}, schema={ACC: pl.String, CID: pl.Int64}
    )
    plain = content_ids(members).get_column(PID)[0]
    salted = content_ids(members, taken=[plain]).get_column(PID)[0]
    assert salted != plain and CAMPAIGN_ID_PATTERN.fullmatch(salted)


# --------------------------------------------------------------------------------------------
# Each status planted


def test_continuing_keeps_the_id():
    one, two = chain([names("a", 10), names("b", 6)], [names("b", 6), names("a", 10)])
    assert id_of(two, 0) == id_of(one, 1) and id_of(two, 1) == id_of(one, 0)
    assert row(two, 1)[STATUS] == "continuing"
    assert row(two, 1)[rundir.CAMPAIGN_MATCH] == "members"
    assert row(two, 1)[rundir.PREVIOUS_SIZE] == 10
    assert row(two, 1)[rundir.PREVIOUS_CAMPAIGNS] == [id_of(one, 0)]
    assert two.section["counts"]["continuing"] == 2


def test_a_small_change_or_rotated_half_is_still_continuing():
    # one member more (below 20%); half the members replaced (same size)
    one, two = chain(
        [names("a", 10), names("b", 10)],
        [names("a", 11), names("b", 5) + names("new-b", 5)],
    )
    assert [row(two, i)[STATUS] for i in (0, 1)] == ["continuing", "continuing"]
    assert [id_of(two, i) for i in (0, 1)] == [id_of(one, 0), id_of(one, 1)]


def test_grown():
    one, two = chain([names("a", 10)], [names("a", 10) + names("new", 5)])
    assert id_of(two, 0) == id_of(one, 0)
    assert row(two, 0)[STATUS] == "grown"
    assert (row(two, 0)[rundir.SIZE], row(two, 0)[rundir.PREVIOUS_SIZE]) == (15, 10)


def test_grown_several_fold_still_links():
    one, two = chain([names("a", 10)], [names("a", 10) + names("new", 35)])
    assert id_of(two, 0) == id_of(one, 0) and row(two, 0)[STATUS] == "grown"


def test_shrunk():
    one, two = chain([names("a", 10)], [names("a", 7)])
    assert id_of(two, 0) == id_of(one, 0) and row(two, 0)[STATUS] == "shrunk"


def test_split_the_larger_child_keeps_the_id():
    one, two = chain([names("a", 20)], [names("a", 8), names("a", 12, start=8)])
    parent = id_of(one, 0)
    assert id_of(two, 1) == parent  # 12 shared members beat 8
    assert id_of(two, 0) != parent
    assert [row(two, i)[STATUS] for i in (0, 1)] == ["split", "split"]
    assert row(two, 0)[rundir.PREVIOUS_CAMPAIGNS] == [parent]
    assert row(two, 0)[rundir.CAMPAIGN_MATCH] is None  # it carries no previous id
    assert two.section["split_into"] == {parent: sorted([id_of(two, 0), parent])}
    assert two.section["counts"]["split"] == 2


def test_merged_the_largest_contributor_survives():
    one, two = chain([names("a", 12), names("b", 8)], [names("a", 12) + names("b", 8)])
    big, small = id_of(one, 0), id_of(one, 1)
    assert id_of(two, 0) == big
    assert row(two, 0)[STATUS] == "merged"
    assert row(two, 0)[rundir.PREVIOUS_CAMPAIGNS] == [big, small]
    assert two.section["merged_from"] == {big: [small]}
    assert two.section["ended"] == []


def test_merged_equal_contributors_break_the_tie_by_id():
    one, two = chain([names("a", 10), names("b", 10)], [names("a", 10) + names("b", 10)])
    assert id_of(two, 0) == min(id_of(one, 0), id_of(one, 1))


def test_new_and_ended():
    one, two = chain([names("a", 10), names("gone", 6)], [names("a", 10), names("fresh", 6)])
    assert row(two, 1)[STATUS] == "new"
    assert row(two, 1)[rundir.PREVIOUS_CAMPAIGNS] == []
    # a new campaign's id is the one it would get without --previous
    assert id_of(two, 1) == id_of(track([names("fresh", 6)]), 0)
    assert two.section["ended"] == [id_of(one, 1)]


def test_a_small_ring_in_a_corner_of_a_large_community_gets_a_new_id():
    # the ring's 5 accounts were 5 of a 60-account community: 100% of the ring, 8% of it
    one, two = chain([names("ring", 5) + names("crowd", 55)], [names("ring", 5)])
    assert row(two, 0)[STATUS] == "new" and id_of(two, 0) != id_of(one, 0)


def test_one_shared_member_is_no_link():
    one, two = chain([["x", "a0"]], [["x", "b0"]])
    assert row(two, 0)[STATUS] == "new"


# --------------------------------------------------------------------------------------------
# Pieces: one large community cut into pieces differently by each run


def pieces(accounts: list[str], n: int, interleaved: bool) -> list[list[str]]:
    """``accounts`` cut into ``n`` pieces: consecutive runs, or every n-th account."""
    if interleaved:
        return [accounts[k::n] for k in range(n)]
    size = len(accounts) // n
    return [accounts[k * size : (k + 1) * size] for k in range(n)]


def test_pieces_cut_differently_keep_their_ids():
    # 90 accounts in 3 pieces, cut across the first run's pieces: each new piece shares a third
    # of its members with each old one, under the member rule's 50%, yet every id goes on
    farm = names("farm", 90)
    one, two = chain(pieces(farm, 3, interleaved=False), pieces(farm, 3, interleaved=True))
    old = {id_of(one, i) for i in range(3)}
    assert {id_of(two, i) for i in range(3)} == old
    assert [row(two, i)[rundir.CAMPAIGN_MATCH] for i in range(3)] == ["pieces"] * 3
    assert [row(two, i)[STATUS] for i in range(3)] == ["continuing"] * 3
    assert two.section["ended"] == []


def test_more_pieces_now_split_and_fewer_merge():
    # 3 pieces of 30, then 4 of 22-23 cut across them (a third of each new piece, a quarter of
    # each old one), then 3 again
    farm = names("farm", 90)
    three_pieces, four_pieces = pieces(farm, 3, interleaved=False), pieces(farm, 4, True)
    one, two = chain(three_pieces, four_pieces)
    old = {id_of(one, i) for i in range(3)}
    now = [id_of(two, i) for i in range(4)]
    assert old <= set(now)  # every old id goes on; the fourth piece has a new one
    assert [row(two, i)[rundir.PREVIOUS_CAMPAIGNS] != [] for i in range(4)] == [True] * 4
    assert "split" in {row(two, i)[STATUS] for i in range(4)}
    assert two.section["ended"] == []
    three = track(three_pieces, previous=as_previous(two, run_of(four_pieces)[2]))
    assert {id_of(three, i) for i in range(3)} <= set(now)
    assert three.section["ended"] == []  # the fourth old piece is linked too: merged
    assert "merged" in {row(three, i)[STATUS] for i in range(3)}


@pytest.mark.parametrize(("kept", "linked"), [(7, False), (8, True)])
def test_pieces_link_only_when_most_of_their_accounts_are_the_same(kept, linked):
    # each new piece of 30: ``kept`` accounts of each of two old pieces, the rest new accounts;
    # the pooled pieces share 42 of 90 accounts (under half: other accounts) or 48 (over half)
    farm = names("farm", 90)
    first = pieces(farm, 3, interleaved=False)
    second = [
        first[k][:kept] + first[(k + 1) % 3][kept : 2 * kept] + names(f"new{k}-", 30 - 2 * kept)
        for k in range(3)
    ]
    one, two = chain(first, second)
    statuses = {row(two, i)[STATUS] for i in range(3)}
    carried = {id_of(two, i) for i in range(3)} & {id_of(one, i) for i in range(3)}
    assert (statuses != {"new"}) is linked
    assert len(carried) == (3 if linked else 0)


def test_a_member_link_comes_before_a_piece_link():
    farm = names("farm", 90)
    first = pieces(farm, 3, interleaved=False)
    # piece 0 continues whole; pieces 1 and 2 are cut across each other
    second = [first[0], first[1][::2] + first[2][::2], first[1][1::2] + first[2][1::2]]
    one, two = chain(first, second)
    assert id_of(two, 0) == id_of(one, 0) and row(two, 0)[rundir.CAMPAIGN_MATCH] == "members"


# --------------------------------------------------------------------------------------------
# Rotated members: shared devices, IPs and targets


def ring_entities(accounts: list[str], devices=("farm-dev0", "farm-dev1")) -> dict:
    """Each account on one of the farm devices, the farm IP and three shared targets, plus a
    personal popular item."""
    return {
        a: [
            ("device", devices[i % len(devices)]),
            ("ip", "203.0.113.7"),
            *(("target", f"ring-target{k}") for k in range(3)),
            ("target", "popular-item"),
        ]
        for i, a in enumerate(accounts)
    }


def crowd(n_clusters: int, per: int = 4) -> tuple[list[list[str]], dict]:
    """Ordinary clusters that all like the popular item (a hub)."""
    groups = [names(f"c{k}-", per) for k in range(n_clusters)]
    entities = {a: [("device", f"dev-{a}"), ("target", "popular-item")] for g in groups for a in g}
    return groups, entities


def test_rotated_members_are_matched_through_shared_entities():
    old, new = names("old", 8), names("new", 8)
    groups, crowd_entities = crowd(5)
    one, two = chain(
        [old, *groups],
        [*groups, new],
        {**ring_entities(old), **crowd_entities},
        {**ring_entities(new), **crowd_entities},
    )
    ring = row(two, len(groups))
    assert ring[PID] == id_of(one, 0)
    assert ring[rundir.CAMPAIGN_MATCH] == "entities"
    assert ring[STATUS] == "continuing"
    # the ordinary clusters continue by members, unchanged
    assert all(row(two, i)[rundir.CAMPAIGN_MATCH] == "members" for i in range(len(groups)))


def test_rotated_members_on_new_devices_match_by_ip_and_targets():
    old, new = names("old", 8), names("new", 8)
    one, two = chain(
        [old], [new], ring_entities(old), ring_entities(new, devices=("fresh0", "fresh1"))
    )
    assert id_of(two, 0) == id_of(one, 0) and row(two, 0)[rundir.CAMPAIGN_MATCH] == "entities"


def farm_pieces(prefix: str, per_piece_devices: bool) -> tuple[list[list[str]], dict]:
    """One ring of 40 accounts cut into 4 pieces of 10 (as ``community.max_cluster_size`` cuts
    a community), every account on the ring's IP and three targets; on the farm's two devices
    shared by all pieces, or (``per_piece_devices``) each piece on devices of its own."""
    accounts = names(prefix, 40)
    groups = pieces(accounts, 4, interleaved=False)
    entities = {}
    for k, group in enumerate(groups):
        devices = (f"piece{k}-dev0", f"piece{k}-dev1") if per_piece_devices else None
        entities.update(ring_entities(group, devices) if devices else ring_entities(group))
    return groups, entities


def test_rotated_pieces_of_one_farm_keep_their_ids():
    """The pieces share the farm's devices, IP and targets: four clusters use each of them, so
    per cluster they would be hubs and no piece could link; one group of siblings (their
    devices and IP meet the entity rule with each other), they are not."""
    old, old_entities = farm_pieces("old", per_piece_devices=False)
    new, new_entities = farm_pieces("new", per_piece_devices=False)
    groups, crowd_entities = crowd(5)
    one, two = chain(
        [*old, *groups],
        [*new, *groups],
        {**old_entities, **crowd_entities},
        {**new_entities, **crowd_entities},
    )
    assert {id_of(two, i) for i in range(4)} == {id_of(one, i) for i in range(4)}
    assert {row(two, i)[rundir.CAMPAIGN_MATCH] for i in range(4)} == {"entities"}
    assert two.section["ended"] == []


@pytest.mark.parametrize("recorded", [True, False])
def test_pieces_cut_from_one_community_are_one_group(recorded):
    """Pieces on devices of their own share only the ring's IP and targets: siblings only by
    the community they were cut from (clusters' pre_split_community). Without it recorded
    (a run of an older graphguard), four clusters share each entity: hubs, no link."""
    old, old_entities = farm_pieces("old", per_piece_devices=True)
    new, new_entities = farm_pieces("new", per_piece_devices=True)
    parents = [7, 7, 7, 7] if recorded else None
    one = track(old, old_entities, parents=parents)
    previous = as_previous(one, run_of(old, old_entities)[2])
    two = track(new, new_entities, previous, parents=[3, 3, 3, 3] if recorded else None)
    carried = {id_of(two, i) for i in range(4)} & {id_of(one, i) for i in range(4)}
    assert len(carried) == (4 if recorded else 0)
    statuses = {row(two, i)[STATUS] for i in range(4)}
    assert ("new" not in statuses) if recorded else (statuses == {"new"})


def test_a_leftover_rotated_piece_splits_off_its_campaign_not_another_one():
    """Three old pieces of a farm, four new ones (rotated): three continue the old pieces, and
    the fourth, whose own campaign's pieces are all taken, is linked to them (split or merged)
    rather than continuing an ordinary cluster that liked the farm's three targets."""
    old_farm = pieces(names("old", 30), 3, interleaved=False)
    new_farm = pieces(names("new", 40), 4, interleaved=False)
    fans = names("fan", 8)
    fan_entities = {
        a: [("device", f"dev-{a}"), *(("target", f"ring-target{k}") for k in range(3))]
        for a in fans
    }
    one, two = chain(
        [*old_farm, fans],
        new_farm,
        {**ring_entities(names("old", 30)), **fan_entities},
        ring_entities(names("new", 40)),
    )
    farm_ids = {id_of(one, i) for i in range(3)}
    fan_id = id_of(one, 3)
    carried = [id_of(two, i) for i in range(4)]
    assert fan_id not in carried
    assert len(set(carried) & farm_ids) == 3
    leftover = next(i for i in range(4) if carried[i] not in farm_ids)
    assert row(two, leftover)[STATUS] in ("split", "merged")  # of the farm pieces only:
    assert set(row(two, leftover)[rundir.PREVIOUS_CAMPAIGNS]) <= farm_ids
    assert fan_id in two.section["ended"]


def test_hub_entities_alone_do_not_link():
    # the new ring shares only the popular item (in every cluster's footprint) and one IP
    old, new = names("old", 8), names("new", 8)
    groups, crowd_entities = crowd(5)
    shared_only_hub = {a: [("target", "popular-item"), ("ip", "203.0.113.7")] for a in new}
    one, two = chain(
        [old, *groups],
        [new, *groups],
        {**ring_entities(old), **crowd_entities},
        {**shared_only_hub, **crowd_entities},
    )
    assert row(two, 0)[STATUS] == "new"


def test_few_members_on_shared_entities_do_not_link():
    # 2 of 10 new accounts use the old ring's devices, IP and targets
    old, new = names("old", 8), names("new", 10)
    one, two = chain([old], [new], ring_entities(old), ring_entities(new[:2]))
    assert row(two, 0)[STATUS] == "new"


def test_member_links_come_before_entity_links():
    # cluster 0 continues the ring by members; cluster 1 (new accounts on the ring's devices)
    # is a piece of it: split, with a new id
    old = names("old", 10)
    new = names("new", 6)
    one, two = chain(
        [old], [old, new], ring_entities(old), {**ring_entities(old), **ring_entities(new)}
    )
    assert id_of(two, 0) == id_of(one, 0)
    assert id_of(two, 1) != id_of(one, 0)
    assert [row(two, i)[STATUS] for i in (0, 1)] == ["split", "split"]


# --------------------------------------------------------------------------------------------
# Chains


def test_ids_are_stable_across_a_three_run_chain():
    day1 = [names("a", 10), names("b", 6), names("c", 5)]
    day2 = [names("a", 12), names("b", 6), names("c", 3) + names("d", 2)]
    day3 = [names("a", 12), names("b", 4) + names("e", 3), names("c", 3) + names("d", 4)]
    one = track(day1)
    two = track(day2, previous=as_previous(one, run_of(day1)[2]))
    three = track(day3, previous=as_previous(two, run_of(day2)[2]))
    for cluster in range(3):
        assert id_of(one, cluster) == id_of(two, cluster) == id_of(three, cluster)
    assert [row(three, i)[STATUS] for i in range(3)] == ["continuing", "continuing", "grown"]


@pytest.mark.parametrize("seed", [0, 1])
def test_member_links_are_vectorised_and_agree_with_a_plain_count(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    accounts = [f"u{i}" for i in range(400)]
    first = [list(rng.choice(accounts, 30, replace=False)) for _ in range(6)]
    used: set[str] = set()
    first = [[a for a in g if not (a in used or used.add(a))] for g in first]
    second = [list(g[: len(g) // 2 + 3]) for g in first]
    one, two = chain(first, second)
    for i, group in enumerate(second):
        expected = max(range(len(first)), key=lambda j: len(set(group) & set(first[j])))
        assert id_of(two, i) == id_of(one, expected)


def test_a_run_without_clusters_ends_every_previous_campaign():
    assert track([]).clusters.height == 0
    one, two = chain([names("a", 5), names("b", 4)], [])
    assert two.clusters.height == 0
    assert two.section["ended"] == sorted([id_of(one, 0), id_of(one, 1)])
    assert sum(two.section["counts"].values()) == 0
    _, three = chain([], [names("a", 5)])
    assert row(three, 0)[STATUS] == "new"


@pytest.mark.parametrize("seed", range(6))
def test_invariants_on_random_partitions(seed):
    import numpy as np

    rng = np.random.default_rng(100 + seed)
    pool = np.array([f"u{i}" for i in range(300)])

    def partition() -> list[list[str]]:
        chosen = rng.permutation(pool)[: int(rng.integers(50, 300))]
        cuts = np.sort(rng.choice(np.arange(1, chosen.size), int(rng.integers(1, 15)), False))
        return [list(g) for g in np.split(chosen, cuts) if g.size]

    def evolve(groups: list[list[str]]) -> list[list[str]]:
        """Groups dropped, split, merged, thinned and grown with fresh accounts."""
        fresh = iter(f"new{i}" for i in range(10_000))
        out: list[list[str]] = []
        for group in groups:
            roll = rng.random()
            if roll < 0.15:
                continue
            kept = [a for a in group if rng.random() > 0.25] + [
                next(fresh) for _ in range(int(rng.integers(0, len(group) // 2 + 1)))
            ]
            if roll < 0.35 and len(kept) > 3:
                out += [kept[: len(kept) // 2], kept[len(kept) // 2 :]]
            elif roll < 0.5 and out:
                out[-1] = out[-1] + kept
            elif kept:
                out.append(kept)
        return out

    first = partition()
    second = evolve(first) + (partition() if seed % 2 else [])
    second_accounts: set[str] = set()
    second = [
        [a for a in g if not (a in second_accounts or second_accounts.add(a))] for g in second
    ]
    second = [g for g in second if g]
    entities = {a: [("device", f"d{int(a[1:]) // 4}")] for a in pool}
    entities.update({f"new{i}": [("device", f"d{i // 4}")] for i in range(10_000)})
    one, two = chain(first, second, entities, entities)
    before = set(one.clusters.get_column(PID))
    ids = two.clusters.get_column(PID).to_list()
    assert len(set(ids)) == len(ids)
    statuses = two.clusters.get_column(STATUS).to_list()
    parents = two.clusters.get_column(rundir.PREVIOUS_CAMPAIGNS).to_list()
    matches = two.clusters.get_column(rundir.CAMPAIGN_MATCH).to_list()
    carried = [i for i, m in zip(ids, matches, strict=True) if m]
    assert set(carried) <= before  # carried ids come from the previous run, once each
    for campaign, status, linked in zip(ids, statuses, parents, strict=True):
        assert (status == "new") == (linked == [])
        assert (status == "merged") == (len(linked) >= 2)
        if campaign in before:
            assert campaign in carried and linked[0] == campaign
        else:
            assert campaign not in linked
    assert sum(two.section["counts"].values()) == len(ids)
    linked_all = {p for ps in parents for p in ps}
    assert set(two.section["ended"]) == before - linked_all
