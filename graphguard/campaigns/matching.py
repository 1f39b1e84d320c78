"""Campaigns across runs: the one place of the rules that match a run's clusters to the previous
run's campaigns, give them ids and say how each one changed.

**Which clusters.** Every reported cluster (every row of clusters.parquet) is a campaign, flagged
or not: one below the flag threshold today may cross it tomorrow, and its id must already be
stable then. A queue filters on suspicion or ``flagged``; accounts outside a reported cluster get
no campaign.

**Ids.** ``"C-"`` and 16 hex digits. A campaign that continues one of the previous run keeps its
id. Any other gets a *content id*: a hash (BLAKE2b, 64 bits) of its sorted member account ids,
so the same input gives the same ids (runs are reproducible), and two runs without
``--previous`` give different campaigns different ids across days (a cluster with exactly the
same members gets the same id, which is the same campaign). In the rare case the hash is already
taken (by an id carried in this run or one of the previous run), it is salted with a counter
until it is not. Ids are hex: an attacker's account id never appears in one.

**Links.** A cluster Q of this run is *linked* to a campaign P of the previous run:

1. by members, when they share at least `MIN_SHARED_MEMBERS` accounts (or all of both: the same
   members, however few, are the same campaign), making up at least
   `MEMBER_LINK_SHARE` of one of the two and at least `MEMBER_LINK_OTHER_SHARE` of the other
   (so a campaign that grew to several times its size, or a sizeable piece split off one, still
   links, but a small ring that was a corner of a large community does not inherit its id);
2. by pieces, for a cluster with no member link: a large community is cut into pieces of at
   most ``community.max_cluster_size`` accounts, and two runs cut the same accounts
   differently, so a piece may share only a third of its members with each piece of the other
   run. Clusters and previous campaigns that share at least `MIN_SHARED_MEMBERS` accounts and
   at least `PIECE_LINK_SHARE` of both are grouped (connected components of those overlaps); a
   group whose pooled members are at least `MEMBER_LINK_SHARE` the same on both sides is one
   set of accounts cut twice. In such a group each cluster without a member link is linked to
   the previous piece it shares the most members with, and each previous piece left without
   any link to the cluster it shares the most with (so none of the pieces looks ended);
3. only for a cluster with no member or piece link (its accounts were rotated): by entities,
   when their *footprints* share at least `MIN_SHARED_ENTITIES` entities and, on both sides,
   at least `ENTITY_LINK_SHARE` of the members use one of them. A cluster's footprint is the
   devices and IPs its members use (a replacement account on one account's phone is the same
   infrastructure) and the targets at least `FOOTPRINT_MIN_TARGET_MEMBERS` of them engage with,
   less the hubs: an entity in the footprints of more than `HUB_CLUSTERS` sibling groups of its
   run (a popular post, a carrier NAT) says nothing about which campaign is which. Siblings are
   the pieces of one campaign, which share its devices, IPs and targets without making them
   hubs (`sibling_groups`): clusters cut from one Leiden community (clusters.parquet's
   ``pre_split_community``), and clusters whose devices and IPs meet this rule with each other.
   A cluster keeps only its entity links to the previous sibling group of its strongest one
   (`within_best_group`), so a piece left over once its siblings took its campaign's ids is a
   split of that campaign, not the continuation of another that shares a few of its targets.

**Whose id.** Links are taken greedily, strongest first (member links, then piece links, then
entity links; within each, more shared members or entities, a higher overlap, a larger
previous campaign, then the smaller id and cluster id, so ties are deterministic): a link
gives Q the id of P when neither Q nor P has been paired yet. So the child of a split that
shares the most members with its parent keeps the parent's id, and the cluster a merge forms
keeps the id of the previous campaign it shares the most members with; the other merged ids
are *absorbed* (run.json ``merged_from``).

**Status** of each cluster, first rule that applies:

- ``new``: no link.
- ``merged``: linked to two or more previous campaigns.
- ``split``: linked to one previous campaign that is linked to two or more clusters of this run
  (the child that kept the id and the ones that got new ids alike).
- ``grown`` / ``shrunk``: one link, one to one, and the size changed by at least
  `GROWTH_SHARE` of the previous size and at least `MIN_SIZE_CHANGE` accounts.
- ``continuing``: otherwise (one to one, about the same size; members may have rotated).

A previous campaign linked to no cluster has *ended* (run.json ``ended``). Only the previous run
is compared: a campaign missing for a day comes back with a new id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from graphguard import rundir, schema

if TYPE_CHECKING:
    from graphguard.campaigns.previous import PreviousRun

#: a link by members: at least this many shared accounts ...
MIN_SHARED_MEMBERS = 2
#: ... making up at least this share of the cluster or of the previous campaign ...
MEMBER_LINK_SHARE = 0.5
#: ... and at least this share of the other one
MEMBER_LINK_OTHER_SHARE = 0.2
#: a piece overlap: at least `MIN_SHARED_MEMBERS` shared accounts making up at least this share
#: of both the cluster and the previous campaign
PIECE_LINK_SHARE = 0.1
#: a target is in a cluster's footprint when at least this many members engage with it (one
#: account's device or IP is: a replacement account on it is the same infrastructure)
FOOTPRINT_MIN_TARGET_MEMBERS = 2
#: an entity in the footprints of more sibling groups than this (in its run) is a hub, left out
HUB_CLUSTERS = 3
#: sibling pieces (one group for the hub rule): clusters of one run whose footprints meet the
#: entity rule with each other, through entities in the footprints of at most this many
#: clusters (more than a community cut at ``community.max_cluster_size`` makes pieces)
SIBLING_MAX_CLUSTERS = 20
#: a link by entities (rotated members): at least this many shared footprint entities ...
MIN_SHARED_ENTITIES = 3
#: ... used by at least this share of the cluster's members and of the previous campaign's
ENTITY_LINK_SHARE = 0.5
#: grown/shrunk: the size changed by at least this share of the previous size ...
GROWTH_SHARE = 0.2
#: ... and by at least this many accounts
MIN_SIZE_CHANGE = 2

#: the version of the campaign columns and run.json section written here; a previous run
#: written with a higher one is refused (`graphguard.campaigns.previous.load_previous`)
CAMPAIGN_FORMAT = 1
ID_PREFIX = "C-"
ID_HEX_DIGITS = 16
#: what every campaign id looks like
CAMPAIGN_ID_PATTERN = re.compile(rf"{ID_PREFIX}[0-9a-f]{{{ID_HEX_DIGITS}}}")

NEW, CONTINUING, GROWN, SHRUNK, SPLIT, MERGED = rundir.CAMPAIGN_STATUSES
BY_MEMBERS, BY_PIECES, BY_ENTITIES = "members", "pieces", "entities"
#: the order in which links are taken (`track_campaigns`)
_TIERS = {BY_MEMBERS: 0, BY_PIECES: 1, BY_ENTITIES: 2}

#: the thresholds above, as run.json records them
RULES: dict[str, float | int] = {
    "min_shared_members": MIN_SHARED_MEMBERS,
    "member_link_share": MEMBER_LINK_SHARE,
    "member_link_other_share": MEMBER_LINK_OTHER_SHARE,
    "piece_link_share": PIECE_LINK_SHARE,
    "footprint_min_target_members": FOOTPRINT_MIN_TARGET_MEMBERS,
    "hub_clusters": HUB_CLUSTERS,
    "sibling_max_clusters": SIBLING_MAX_CLUSTERS,
    "min_shared_entities": MIN_SHARED_ENTITIES,
    "entity_link_share": ENTITY_LINK_SHARE,
    "growth_share": GROWTH_SHARE,
    "min_size_change": MIN_SIZE_CHANGE,
}

_CID, _PID, _ACC = rundir.CLUSTER_ID, rundir.CAMPAIGN_ID, schema.ACCOUNT
#: clusters.parquet's column of the Leiden community a cluster was cut from: its pieces share it
PRE_SPLIT = rundir.PRE_SPLIT_COMMUNITY
TARGET = "target"  # schema.ENTITY_KINDS: device, ip, target


@dataclass
class Campaigns:
    """A run's tables with their campaign columns, and run.json's campaigns section."""

    accounts: pl.DataFrame
    clusters: pl.DataFrame
    section: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Ids


def content_ids(members: pl.DataFrame, taken: Iterable[str] = ()) -> pl.DataFrame:
    """cluster_id -> campaign_id from each cluster's sorted member ids (``members``: account_id,
    cluster_id), none of them in ``taken``."""
    keyed = (
        members.select(
            _CID,
            _ACC,
            # length-prefixed, so no two member lists encode alike whatever the ids hold
            pl.format("{}:{}", pl.col(_ACC).str.len_bytes(), pl.col(_ACC)).alias("key"),
        )
        .sort(_CID, _ACC)
        .group_by(_CID, maintain_order=True)
        .agg(pl.col("key").str.join("\n"))
    )
    used = set(taken)
    ids = []
    for key in keyed.get_column("key"):  # one hash per cluster
        salt = 0
        while True:
            text = key if salt == 0 else f"{salt}\n{key}"
            digest = hashlib.blake2b(text.encode(), digest_size=ID_HEX_DIGITS // 2).hexdigest()
            campaign_id = ID_PREFIX + digest
            if campaign_id not in used:
                break
            salt += 1
        used.add(campaign_id)
        ids.append(campaign_id)
    return keyed.select(_CID, pl.Series(_PID, ids, dtype=pl.String))


# --------------------------------------------------------------------------------------------
# Links


def _overlaps(current: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Every (cluster, previous campaign) sharing an account (``current``: account_id,
    cluster_id; ``previous``: account_id, campaign_id): cluster_id, campaign_id, shared,
    size_q, size_p."""
    sizes_q = current.group_by(_CID).len("size_q")
    sizes_p = previous.group_by(_PID).len("size_p")
    return (
        current.join(previous, on=_ACC)
        .group_by(_CID, _PID)
        .len("shared")
        .join(sizes_q, on=_CID)
        .join(sizes_p, on=_PID)
    )


_SHARE_Q = pl.col("shared") / pl.col("size_q")
_SHARE_P = pl.col("shared") / pl.col("size_p")


def _as_links(overlaps: pl.DataFrame) -> pl.DataFrame:
    return overlaps.select(
        _CID,
        _PID,
        pl.col("shared").cast(pl.Int64),
        pl.min_horizontal(_SHARE_Q, _SHARE_P).alias("overlap"),
    )


def member_links(current: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """Links by shared members (``current``: account_id, cluster_id; ``previous``: account_id,
    campaign_id): cluster_id, campaign_id, shared (accounts), overlap (the smaller share)."""
    return _as_links(_member_overlaps(_overlaps(current, previous)))


def _member_overlaps(overlaps: pl.DataFrame) -> pl.DataFrame:
    return overlaps.filter(
        (pl.col("shared") >= MIN_SHARED_MEMBERS)
        | ((pl.col("shared") == pl.col("size_q")) & (pl.col("shared") == pl.col("size_p"))),
        pl.max_horizontal(_SHARE_Q, _SHARE_P) >= MEMBER_LINK_SHARE,
        pl.min_horizontal(_SHARE_Q, _SHARE_P) >= MEMBER_LINK_OTHER_SHARE,
    )


def piece_links(overlaps: pl.DataFrame, linked: pl.DataFrame) -> pl.DataFrame:
    """Links between pieces of one set of accounts cut differently by the two runs (the
    module's rule 2), for clusters without a member link (``overlaps``: `_overlaps` of the
    two runs; ``linked``: its member links, `_member_overlaps`): cluster_id, campaign_id,
    shared, overlap, as `member_links`."""
    strong = overlaps.filter(
        pl.col("shared") >= MIN_SHARED_MEMBERS,
        pl.min_horizontal(_SHARE_Q, _SHARE_P) >= PIECE_LINK_SHARE,
    )
    if strong.height == 0:
        return _as_links(strong)
    # groups: connected components of the overlaps, clusters and campaigns as one node set
    q_nodes = strong.get_column(_CID).unique().sort()
    p_nodes = strong.get_column(_PID).unique().sort()
    q_index = pl.DataFrame({_CID: q_nodes, "q": np.arange(q_nodes.len())})
    p_index = pl.DataFrame({_PID: p_nodes, "p": np.arange(p_nodes.len()) + q_nodes.len()})
    edges = strong.join(q_index, on=_CID).join(p_index, on=_PID)
    group = _components(
        edges.get_column("q").to_numpy(),
        edges.get_column("p").to_numpy(),
        q_nodes.len() + p_nodes.len(),
    )
    q_group = q_index.with_columns(pl.Series("group", group[: q_nodes.len()])).drop("q")
    p_group = p_index.with_columns(pl.Series("group", group[q_nodes.len() :])).drop("p")
    # every overlap inside a group (weak ones too) counts towards its pooled shared members
    inside = overlaps.join(q_group, on=_CID).join(p_group.rename({"group": "p_group"}), on=_PID)
    pooled_shared = (
        inside.filter(pl.col("group") == pl.col("p_group"))
        .group_by("group")
        .agg(pl.col("shared").sum())
    )
    pooled_q = (
        q_group.join(overlaps.select(_CID, "size_q").unique(), on=_CID)
        .group_by("group")
        .agg(pl.col("size_q").sum(), pl.len().alias("n_q"))
    )
    pooled_p = (
        p_group.join(overlaps.select(_PID, "size_p").unique(), on=_PID)
        .group_by("group")
        .agg(pl.col("size_p").sum(), pl.len().alias("n_p"))
    )
    cut_twice = (
        pooled_shared.join(pooled_q, on="group")
        .join(pooled_p, on="group")
        .filter(
            _SHARE_Q >= MEMBER_LINK_SHARE,
            _SHARE_P >= MEMBER_LINK_SHARE,
            (pl.col("n_q") >= 2) | (pl.col("n_p") >= 2),
        )
        .select("group")
    )
    candidates = (
        strong.join(q_group, on=_CID)
        .join(cut_twice, on="group", how="semi")
        .join(linked.select(_CID), on=_CID, how="anti")
        .sort(
            ["shared", pl.min_horizontal(_SHARE_Q, _SHARE_P), "size_p", _PID, _CID],
            descending=[True, True, True, False, False],
        )
    )
    # one to one first, strongest overlap first (as `_pair`), so pieces cut evenly each keep an
    # id; then a cluster left over (more pieces now) links to its strongest piece, and a previous
    # piece left over (fewer pieces now) to its strongest cluster
    paired = _pair(candidates)
    one_to_one = pl.DataFrame(
        {_CID: list(paired), _PID: list(paired.values())},
        schema={_CID: pl.Int64, _PID: pl.String},
    )
    first = candidates.join(one_to_one, on=[_CID, _PID], how="semi")
    spare_q = (
        candidates.join(one_to_one, on=_CID, how="anti").group_by(_CID, maintain_order=True).first()
    )
    spare_p = (
        candidates.join(linked.select(_PID), on=_PID, how="anti")
        .join(one_to_one, on=_PID, how="anti")
        .group_by(_PID, maintain_order=True)
        .first()
        .select(candidates.columns)
    )
    return _as_links(
        pl.concat([first, spare_q.select(candidates.columns), spare_p]).unique(
            [_CID, _PID], maintain_order=True
        )
    )


def footprints(
    members: pl.DataFrame,
    entities: pl.DataFrame,
    key: str,
    parents: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The members' devices and IPs, and the targets at least `FOOTPRINT_MIN_TARGET_MEMBERS` of
    a group ``key`` use, hubs (in the footprints of more than `HUB_CLUSTERS` sibling groups,
    `sibling_groups`; ``parents``: key, `PRE_SPLIT`) left out: key, account_id, kind, entity,
    sibling_group."""
    used = (
        entities.select(_ACC, "kind", "entity")
        .unique()
        .join(members.select(_ACC, key), on=_ACC)
        .filter(
            (pl.col("kind") != TARGET)
            | (pl.len().over(key, "kind", "entity") >= FOOTPRINT_MIN_TARGET_MEMBERS)
        )
    )
    groups = sibling_groups(used, members.group_by(key).len("size"), key, parents)
    return used.join(groups, on=key).filter(
        pl.col("sibling_group").n_unique().over("kind", "entity") <= HUB_CLUSTERS
    )


def sibling_groups(
    used: pl.DataFrame, sizes: pl.DataFrame, key: str, parents: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Which clusters of one run are pieces of one campaign for the hub rule (``used``: key,
    account_id, kind, entity, hubs still in; ``sizes``: key, size; ``parents``: key,
    `PRE_SPLIT`, or None): key, sibling_group, the connected components of two kinds of pairs:
    clusters cut from one Leiden community (``parents``), and clusters whose devices and IPs
    meet the entity rule (`entity_links`) with each other, through entities in the footprints of
    at most `SIBLING_MAX_CLUSTERS` clusters. A ring cut into pieces shares its devices, IPs and
    targets among them, so they count once, not as many unrelated clusters making each entity
    a hub. Targets alone do not make siblings: fans of one creator share its posts."""
    nodes = sizes.select(key).unique().sort(key).with_row_index("node")
    narrow = used.filter(
        pl.col("kind") != TARGET,
        pl.col(key).n_unique().over("kind", "entity") <= SIBLING_MAX_CLUSTERS,
    )
    pairs = entity_links(
        narrow.rename({key: _CID}),
        narrow.rename({key: _PID}),
        sizes.rename({key: _CID}),
        sizes.rename({key: _PID}),
    ).filter(pl.col(_CID) != pl.col(_PID))
    ends = pairs.join(nodes.rename({key: _CID, "node": "a"}), on=_CID).join(
        nodes.rename({key: _PID, "node": "b"}), on=_PID
    )
    a, b = ends.get_column("a").to_numpy(), ends.get_column("b").to_numpy()
    if parents is not None:
        # every piece to the first piece (in key order) of its community
        cut = nodes.join(parents.select(key, PRE_SPLIT), on=key).with_columns(
            pl.col("node").min().over(PRE_SPLIT).alias("first")
        )
        a = np.concatenate([a, cut.get_column("node").to_numpy()])
        b = np.concatenate([b, cut.get_column("first").to_numpy()])
    groups = _components(a.astype(np.int64), b.astype(np.int64), nodes.height)
    return nodes.select(key, pl.Series("sibling_group", groups))


def _components(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The connected component of each of ``n`` nodes under the edges ``a[i]``-``b[i]``."""
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def entity_links(
    current_fp: pl.DataFrame,
    previous_fp: pl.DataFrame,
    sizes_q: pl.DataFrame,
    sizes_p: pl.DataFrame,
) -> pl.DataFrame:
    """Links by shared footprint entities (`footprints` of this run, keyed by cluster_id, and
    of the previous, keyed by campaign_id; ``sizes_q``/``sizes_p``: cluster_id/campaign_id,
    size): cluster_id, campaign_id, shared (members using a shared entity, on the smaller
    side), overlap (the smaller share of members using one)."""
    places = ["kind", "entity"]
    shared = (
        current_fp.select(_CID, *places)
        .unique()
        .join(previous_fp.select(_PID, *places).unique(), on=places)
    )
    covered_q = (
        shared.join(current_fp, on=[_CID, *places])
        .group_by(_CID, _PID)
        .agg(pl.col(_ACC).n_unique().alias("covered_q"))
    )
    covered_p = (
        shared.join(previous_fp, on=[_PID, *places])
        .group_by(_CID, _PID)
        .agg(pl.col(_ACC).n_unique().alias("covered_p"))
    )
    share_q = pl.col("covered_q") / pl.col("size_q")
    share_p = pl.col("covered_p") / pl.col("size_p")
    return (
        shared.group_by(_CID, _PID)
        .len("n_entities")
        .join(covered_q, on=[_CID, _PID])
        .join(covered_p, on=[_CID, _PID])
        .join(sizes_q.rename({"size": "size_q"}), on=_CID)
        .join(sizes_p.rename({"size": "size_p"}), on=_PID)
        .filter(
            pl.col("n_entities") >= MIN_SHARED_ENTITIES,
            share_q >= ENTITY_LINK_SHARE,
            share_p >= ENTITY_LINK_SHARE,
        )
        .select(
            _CID,
            _PID,
            pl.min_horizontal("covered_q", "covered_p").cast(pl.Int64).alias("shared"),
            pl.min_horizontal(share_q, share_p).alias("overlap"),
        )
    )


def within_best_group(links: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Of each cluster's entity links, those to the previous sibling group (``groups``:
    campaign_id, sibling_group) of its strongest link: a rotated piece whose own campaign's
    previous pieces are all taken by its siblings is a ``split`` of them, not the continuation
    of another campaign that happens to share a few of its targets."""
    ranked = links.join(groups, on=_PID).with_columns(
        pl.col("sibling_group")
        .sort_by(["shared", "overlap", _PID], descending=[True, True, False])
        .first()
        .over(_CID)
        .alias("best_group")
    )
    return ranked.filter(pl.col("sibling_group") == pl.col("best_group")).select(links.columns)


# --------------------------------------------------------------------------------------------
# Assignment


def track_campaigns(
    accounts: pl.DataFrame,
    clusters: pl.DataFrame,
    entity_edges: rundir.Table,
    previous: PreviousRun | None = None,
) -> Campaigns:
    """Give every reported cluster its campaign id and status (the module's rules), against
    ``previous`` when given; every cluster is ``new`` without it.

    Args:
        accounts: accounts.parquet as the pipeline built it (account_id, cluster_id, ...).
        clusters: clusters.parquet as the pipeline built it.
        entity_edges: the account-entity edges around clustered accounts (account_id, kind,
            entity, ...), whole or a `rundir.ChunkedTable` (read only with ``previous``, and
            then only its reported members' account, kind and entity, a chunk at a time).
        previous: the previous run (`graphguard.campaigns.previous.load_previous`).

    Returns:
        The tables with the campaign columns (`rundir.CAMPAIGN_ID`, ... after the leading
        columns in clusters, last in accounts) and run.json's campaigns section.
    """
    members = accounts.select(_ACC, _CID).filter(pl.col(_CID).is_not_null())
    members = members.join(clusters.select(_CID), on=_CID, how="semi")
    sizes = members.group_by(_CID).len("size").sort(_CID)
    if previous is None:
        links = pl.DataFrame(
            schema={
                _CID: pl.Int64,
                _PID: pl.String,
                "shared": pl.Int64,
                "overlap": pl.Float64,
                "match": pl.String,
            }
        )
        previous_ids: list[str] = []
        previous_sizes = pl.DataFrame(schema={_PID: pl.String, "previous_size": pl.Int64})
    else:
        overlaps = _overlaps(members, previous.members)
        linked = _member_overlaps(overlaps)
        by_members = _as_links(linked).with_columns(pl.lit(BY_MEMBERS).alias("match"))
        by_pieces = piece_links(overlaps, linked).with_columns(pl.lit(BY_PIECES).alias("match"))
        rotated = (
            sizes.join(by_members, on=_CID, how="anti")
            .join(by_pieces, on=_CID, how="anti")
            .select(_CID)
        )
        parents = clusters.select(_CID, PRE_SPLIT) if PRE_SPLIT in clusters.columns else None
        current_fp = footprints(
            members, _member_entities(entity_edges, members), _CID, parents
        ).join(rotated, on=_CID, how="semi")
        previous_fp = footprints(previous.members, previous.entities, _PID, previous.parents)
        counts = previous.members.group_by(_PID).len("size")
        by_entities = within_best_group(
            entity_links(current_fp, previous_fp, sizes, counts),
            previous_fp.select(_PID, "sibling_group").unique(),
        ).with_columns(pl.lit(BY_ENTITIES).alias("match"))
        links = pl.concat([by_members, by_pieces, by_entities])
        previous_ids = previous.campaign_ids().to_list()
        previous_sizes = counts.select(_PID, pl.col("size").cast(pl.Int64).alias("previous_size"))
    links = links.join(previous_sizes, on=_PID, how="left").sort(
        [pl.col("match").replace_strict(_TIERS), "shared", "overlap", "previous_size", _PID, _CID],
        descending=[False, True, True, True, False, False],
    )
    carried = _pair(links)
    table = _statuses(sizes, links, carried, previous_sizes)
    fresh = content_ids(
        members.join(table.filter(pl.col(_PID).is_null()), on=_CID, how="semi"),
        taken=[*previous_ids, *carried.values()],
    )
    table = (
        table.join(fresh.rename({_PID: "fresh"}), on=_CID, how="left")
        .with_columns(pl.coalesce(_PID, "fresh").alias(_PID))
        .drop("fresh")
    )
    section = _section(table, links, previous, previous_ids)
    columns = [
        _PID,
        rundir.CAMPAIGN_STATUS,
        rundir.PREVIOUS_CAMPAIGNS,
        rundir.CAMPAIGN_MATCH,
        rundir.PREVIOUS_SIZE,
    ]
    base = clusters.drop([c for c in columns if c in clusters.columns])
    out_clusters = base.join(
        table.select(_CID, *columns), on=_CID, how="left", maintain_order="left"
    )
    # after the leading columns (rundir.CLUSTER_LEADING), before the evidence measures
    leading = [c for c in rundir.CLUSTER_LEADING if c in out_clusters.columns]
    out_clusters = out_clusters.select(*leading, *columns, pl.exclude(*leading, *columns))
    out_accounts = accounts.drop([c for c in columns[:2] if c in accounts.columns]).join(
        table.select(_CID, *columns[:2]), on=_CID, how="left", maintain_order="left"
    )
    return Campaigns(accounts=out_accounts, clusters=out_clusters, section=section)


def _member_entities(entity_edges: rundir.Table, members: pl.DataFrame) -> pl.DataFrame:
    """The account, kind and entity of ``members``' rows of ``entity_edges`` (what `footprints`
    reads), a chunk at a time for a `rundir.ChunkedTable`."""
    if isinstance(entity_edges, pl.DataFrame):
        return entity_edges
    ids = members.select(_ACC)
    return pl.concat(
        chunk.select(_ACC, "kind", "entity").join(ids, on=_ACC, how="semi")
        for chunk in entity_edges.chunks()
    )


def _pair(links: pl.DataFrame) -> dict[int, str]:
    """Greedy pairing of the sorted links: cluster_id -> the previous id it carries."""
    carried: dict[int, str] = {}
    taken: set[str] = set()
    for cluster, campaign in links.select(_CID, _PID).iter_rows():  # one row per link
        if cluster not in carried and campaign not in taken:
            carried[cluster] = campaign
            taken.add(campaign)
    return carried


def _statuses(
    sizes: pl.DataFrame,
    links: pl.DataFrame,
    carried: dict[int, str],
    previous_sizes: pl.DataFrame,
) -> pl.DataFrame:
    """cluster_id, campaign_id (carried, else null), status, previous campaigns, match, previous
    size: the module's status rules."""
    carry = pl.DataFrame(
        {_CID: list(carried), _PID: list(carried.values())},
        schema={_CID: pl.Int64, _PID: pl.String},
    )
    children = links.group_by(_PID).agg(pl.col(_CID).n_unique().alias("n_children"))
    # the links of each cluster in their strength order, the carried id first
    ranked = (
        links.with_row_index("rank")
        .join(carry.with_columns(pl.lit(True).alias("is_carried")), on=[_CID, _PID], how="left")
        .with_columns(pl.col("is_carried").fill_null(False))
        .join(children, on=_PID)
        .sort(_CID, pl.col("is_carried").not_(), "rank")
    )
    per_cluster = ranked.group_by(_CID, maintain_order=True).agg(
        pl.col(_PID).alias(rundir.PREVIOUS_CAMPAIGNS),
        pl.col("n_children").max().alias("n_children"),
        pl.col("match").filter("is_carried").first().alias(rundir.CAMPAIGN_MATCH),
    )
    table = (
        sizes.join(per_cluster, on=_CID, how="left")
        .join(carry, on=_CID, how="left")
        .join(previous_sizes.rename({"previous_size": rundir.PREVIOUS_SIZE}), on=_PID, how="left")
        .with_columns(
            pl.col(rundir.PREVIOUS_CAMPAIGNS).fill_null(pl.lit([], dtype=pl.List(pl.String)))
        )
    )
    n_parents = pl.col(rundir.PREVIOUS_CAMPAIGNS).list.len()
    change = pl.col("size").cast(pl.Int64) - pl.col(rundir.PREVIOUS_SIZE)
    enough = pl.max_horizontal(
        pl.lit(float(MIN_SIZE_CHANGE)), pl.col(rundir.PREVIOUS_SIZE) * GROWTH_SHARE
    )
    status = (
        pl.when(n_parents == 0)
        .then(pl.lit(NEW))
        .when(n_parents >= 2)
        .then(pl.lit(MERGED))
        .when(pl.col("n_children") >= 2)
        .then(pl.lit(SPLIT))
        .when(change >= enough)
        .then(pl.lit(GROWN))
        .when(-change >= enough)
        .then(pl.lit(SHRUNK))
        .otherwise(pl.lit(CONTINUING))
    )
    return table.select(
        _CID,
        _PID,
        status.alias(rundir.CAMPAIGN_STATUS),
        rundir.PREVIOUS_CAMPAIGNS,
        rundir.CAMPAIGN_MATCH,
        rundir.PREVIOUS_SIZE,
    )


def _section(
    table: pl.DataFrame,
    links: pl.DataFrame,
    previous: PreviousRun | None,
    previous_ids: list[str],
) -> dict[str, Any]:
    """run.json's campaigns section."""
    counts = table.get_column(rundir.CAMPAIGN_STATUS).value_counts()
    by_status = dict(zip(counts[rundir.CAMPAIGN_STATUS], counts["count"], strict=True))
    carried = set(table.get_column(_PID))
    linked = set(links.get_column(_PID))
    merged_from = {}
    for campaign_id, parents in (
        table.filter(pl.col(rundir.CAMPAIGN_STATUS) == MERGED)
        .select(_PID, rundir.PREVIOUS_CAMPAIGNS)
        .sort(_PID)
        .iter_rows()
    ):
        absorbed = [p for p in parents if p not in carried]
        if absorbed:
            merged_from[campaign_id] = absorbed
    split_into: dict[str, list[str]] = {}
    split = table.filter(pl.col(rundir.CAMPAIGN_STATUS) == SPLIT).sort(_PID)
    for campaign_id, parents in split.select(_PID, rundir.PREVIOUS_CAMPAIGNS).iter_rows():
        split_into.setdefault(parents[0], []).append(campaign_id)
    return {
        "format": CAMPAIGN_FORMAT,
        "previous": None if previous is None else dict(previous.identity),
        "counts": {status: int(by_status.get(status, 0)) for status in rundir.CAMPAIGN_STATUSES},
        "ended": sorted(set(previous_ids) - linked),
        "merged_from": merged_from,
        "split_into": {k: sorted(v) for k, v in sorted(split_into.items())},
        "rules": dict(RULES),
    }
