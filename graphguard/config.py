"""Typed settings for each pipeline stage: the one place their fields and defaults are written.

These dataclasses are what library code receives. `graphguard.compose` registers them as
Hydra structured configs, so conf/ only holds named alternatives that change a few of these
fields; composing checks every key and type against them, and one conversion there turns a
composed config into these objects. `to_dict` gives the plain-dict form that run.json and
checkpoints record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from graphguard.schema import ANY_RELATION, RELATIONS


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain, JSON-serialisable dict of a config dataclass."""
    out = dataclasses.asdict(obj)
    return _jsonable(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _as_tuples(obj: Any, *names: str) -> None:
    """Store the sequence fields ``names`` of a frozen dataclass as tuples (a composed config
    hands them over as lists)."""
    for name in names:
        value = getattr(obj, name)
        object.__setattr__(obj, name, (value,) if isinstance(value, str) else tuple(value))


@dataclass(frozen=True)
class DataConfig:
    """How to read an event log and map its columns onto the canonical ones."""

    #: parquet, csv or ndjson; None takes it from the file extension.
    format: str | None = None
    #: canonical name -> source column, or a list of source columns joined with ':' (for
    #: composite keys such as device = device + os).
    columns: dict[str, Any] = field(default_factory=dict)
    #: canonical name -> fixed value, for logs without that column (e.g. event_type: click).
    constants: dict[str, str] = field(default_factory=dict)
    #: unit of integer event_time values: s or ms.
    epoch_unit: str = "s"
    #: drop exact duplicate events (same time, account, type, device, ip, target).
    drop_duplicates: bool = True
    #: write unusable rows to rejected_rows.parquet in the run directory.
    keep_rejected: bool = False
    #: above this share of unusable rows the input is taken as malformed and the run stops.
    max_rejected_share: float = 0.1
    #: plausible years of an event_time, first and last inclusive (UTC); times outside are
    #: unusable rows (reason event_time_out_of_range): epoch milliseconds read as seconds,
    #: corrupted timestamps, 0 used as "unknown".
    event_years: tuple[int, int] = (1990, 2100)


@dataclass(frozen=True)
class RelationConfig:
    """One account-account projection through a shared entity.

    Pairs are made inside each entity (device, IP, target) between an occurrence and the next
    ``window_rows`` occurrences in time order, so one entity with k occurrences yields at most
    k * window_rows pairs: a hub never goes quadratic.
    """

    enabled: bool = True
    #: how far apart in time two occurrences may be to count as shared; None = any time.
    max_gap_s: float | None = None
    #: neighbours in time order each occurrence is paired with (the hub bound).
    window_rows: int = 10
    #: a pair is kept when it is supported by at least this many distinct entities/hours.
    min_support: int = 1
    #: entities used by more distinct accounts than this are not identifying (a phone model,
    #: not a phone) and are skipped by this relation; None = no limit.
    max_accounts: int | None = None
    #: a pair is kept only when its support is at least this share of the smaller of the two
    #: accounts' own entity counts (distinct devices, IP-hours, targets): strangers behind one
    #: NAT IP share a few of their many hours there, a ring shares most of them.
    min_overlap: float = 0.0
    #: weight of this relation in the combined graph used for community detection.
    weight: float = 1.0


@dataclass(frozen=True)
class GraphConfig:
    """Which events count as engagement and how the four projections are built."""

    engagement_types: tuple[str, ...] = ("like", "comment", "share", "follow")
    device: RelationConfig = RelationConfig(
        window_rows=20, min_support=1, weight=1.0, max_accounts=200
    )
    ip: RelationConfig = RelationConfig(
        max_gap_s=3600.0, window_rows=10, min_support=3, weight=0.5, min_overlap=0.5
    )
    sync: RelationConfig = RelationConfig(
        max_gap_s=600.0, window_rows=10, min_support=2, weight=1.0
    )
    dense: RelationConfig = RelationConfig(
        window_rows=40, min_support=3, weight=1.0, max_accounts=50
    )
    #: an edge must carry at least this much combined weight to enter community detection.
    min_edge_weight: float = 0.0

    def __post_init__(self) -> None:
        _as_tuples(self, "engagement_types")


@dataclass(frozen=True)
class CommunityConfig:
    """Leiden on the combined account graph."""

    method: str = "leiden"
    #: modularity or cpm (igraph's default is CPM with resolution 1, rarely what one means).
    objective: str = "modularity"
    resolution: float = 1.0
    beta: float = 0.01
    #: Leiden passes; negative = until the partition is stable (often 4x slower for <0.5%
    #: modularity on large graphs).
    n_iterations: int = 2
    seed: int = 0
    #: communities smaller than this are not reported and their accounts get cluster_id null.
    min_cluster_size: int = 3
    #: communities larger than this are partitioned again on their own subgraph (modularity's
    #: resolution limit merges a 6-account ring into a 800-account neighbourhood on big graphs);
    #: 0 turns refinement off.
    max_cluster_size: int = 300
    #: how many times an oversized community may be split again.
    refine_depth: int = 2


#: ways a model's probabilities and the cluster evidence combine (ScoringConfig.fusion)
FUSIONS = ("noisy_or", "model")


@dataclass(frozen=True)
class ScoringConfig:
    """Unsupervised evidence -> suspicion -> account risk."""

    #: accounts with risk at or above this are flagged.
    risk_threshold: float = 0.5
    #: window (seconds) of the densest creation burst inside a cluster.
    creation_burst_window_s: float = 6 * 3600.0
    #: event types that mark an account's creation.
    signup_types: tuple[str, ...] = ("signup",)
    #: an engagement is synchronized when at least this share of the other members who engaged
    #: the same target did so within graph.sync.max_gap_s of it (and at least two did).
    sync_min_share: float = 0.25
    #: share of its own activity an account must put into the cluster's coordinated behaviour
    #: to carry the cluster's full suspicion (camouflaged accounts spend the rest elsewhere).
    participation_saturation: float = 0.4
    #: how a supervised model's class probabilities meet the cluster evidence (detect --model):
    #: "noisy_or": an account is abusive when the model or its community's coordination evidence
    #: says so (the evidence moves part of the model's benign probability to the abuse classes);
    #: "model": the model's probabilities alone.
    fusion: str = "noisy_or"

    def __post_init__(self) -> None:
        _as_tuples(self, "signup_types")
        if self.fusion not in FUSIONS:
            raise ValueError(
                f"scoring.fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}"
            )


@dataclass(frozen=True)
class DetectConfig:
    """Everything a detection run needs; what run.json records."""

    data: DataConfig = DataConfig()
    graph: GraphConfig = GraphConfig()
    community: CommunityConfig = CommunityConfig()
    scoring: ScoringConfig = ScoringConfig()


@dataclass(frozen=True)
class FeatureConfig:
    """What the supervised models read (`graphguard train`, the experiments)."""

    #: feature names or fnmatch patterns left out of `graphguard.features.FEATURE_NAMES`
    #: (e.g. ``cluster_*`` for an ablation); `graphguard.features.select_features` applies it.
    exclude: tuple[str, ...] = ()
    #: the account-graph relations GraphSAGE keeps apart (each gets its own weights);
    #: ``("any",)`` merges them into one homogeneous graph.
    relations: tuple[str, ...] = RELATIONS

    def __post_init__(self) -> None:
        _as_tuples(self, "exclude", "relations")
        if not self.relations:  # none named: all of them, apart
            object.__setattr__(self, "relations", RELATIONS)
        known = (*RELATIONS, ANY_RELATION)
        unknown = [r for r in self.relations if r not in known]
        if unknown:
            raise ValueError(
                f"features.relations: unknown relation {unknown[0]!r}; "
                f"choose from {', '.join(known)}"
            )
