"""Typed settings for each pipeline stage: the one place their fields and defaults are written.

These dataclasses are what library code receives. `graphguard.compose` registers them as
Hydra structured configs, so conf/ only holds named alternatives that change a few of these
fields; composing checks every key and type against them, and one conversion there turns a
composed config into these objects. `to_dict` gives the plain-dict form that run.json and
checkpoints record.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
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


class ConfigError(ValueError):
    """A setting out of its range or of the wrong kind: names the key as a user writes it
    (``community.resolution``, ``graph.sync.max_gap_s``, ``train.epochs``). The CLI makes it a
    usage error (exit 2). Here, not in `graphguard.errors`: the base modules are independent."""

    def __init__(self, key: str, problem: str, *, message: str | None = None) -> None:
        self.key = key
        self.problem = problem
        super().__init__(message if message is not None else f"{key} {problem}")

    def within(self, prefix: str) -> ConfigError:
        """The same error with ``prefix`` (e.g. ``graph.sync.``) before a key that lacks it."""
        if self.key.startswith(prefix):
            return self
        return type(self)(f"{prefix}{self.key}", self.problem)


# --- range checks, shared by every settings dataclass (their ``__post_init__``), so the CLI,
# Hydra and the Python API get the same ones. Each raises `ConfigError` naming ``key`` as a user
# writes it; OmegaConf has already checked the type where a config was composed.


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def check_positive(key: str, value: Any) -> None:
    """A finite number above 0."""
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise ConfigError(key, f"must be a positive number, got {value!r}")


def check_non_negative(key: str, value: Any) -> None:
    """A finite number, 0 or more."""
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        raise ConfigError(key, f"must be a number 0 or more, got {value!r}")


def check_share(key: str, value: Any, *, below_one: bool = False) -> None:
    """A share: within [0, 1], or [0, 1) with ``below_one``."""
    high_ok = _is_number(value) and (value < 1.0 if below_one else value <= 1.0)
    if not (high_ok and value >= 0.0):
        interval = "[0, 1)" if below_one else "[0, 1]"
        raise ConfigError(key, f"must be a share within {interval}, got {value!r}")


def check_int_at_least(key: str, value: Any, low: int) -> None:
    """An integer, ``low`` or more."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {value!r}")
    if value < low:
        raise ConfigError(key, f"must be at least {low}, got {value!r}")


def check_choice(key: str, value: Any, choices: Iterable[str]) -> None:
    """One of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(choices)}, got {value!r}")


def check_names(key: str, values: tuple[Any, ...]) -> None:
    """A list of non-empty strings (event types, patterns)."""
    bad = [v for v in values if not isinstance(v, str) or not v]
    if bad:
        raise ConfigError(key, f"must be a list of names, got {bad[0]!r} in it")


#: input formats `DataConfig.format` names (None: from the file extension)
FORMATS = ("parquet", "csv", "ndjson")
#: units of integer event times
EPOCH_UNITS = ("s", "ms")
#: Leiden objectives
OBJECTIVES = ("modularity", "cpm")


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

    def __post_init__(self) -> None:
        _as_tuples(self, "event_years")  # a composed config hands over a list
        if self.format is not None:
            check_choice("data.format", self.format, FORMATS)
        check_choice("data.epoch_unit", self.epoch_unit, EPOCH_UNITS)
        check_share("data.max_rejected_share", self.max_rejected_share)


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
    #: pairs one entity may yield, about: an entity with k occurrences pairs each only with the
    #: next max(1, pair_budget // k) (at most window_rows), so a target a hundred accounts
    #: engage still takes part, and a hub of k occurrences yields about k pairs, not
    #: k * window_rows; None = window_rows for every entity.
    pair_budget: int | None = None
    #: weight of this relation in the combined graph used for community detection.
    weight: float = 1.0

    def __post_init__(self) -> None:
        # bare field names: `GraphConfig` and `graphguard.compose` put ``graph.<relation>.``
        # before them
        if self.max_gap_s is not None:
            check_non_negative("max_gap_s", self.max_gap_s)
        check_int_at_least("window_rows", self.window_rows, 1)
        check_int_at_least("min_support", self.min_support, 1)
        if self.max_accounts is not None:
            check_int_at_least("max_accounts", self.max_accounts, 1)
        check_share("min_overlap", self.min_overlap)
        if self.pair_budget is not None:
            check_int_at_least("pair_budget", self.pair_budget, 1)
        check_non_negative("weight", self.weight)


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
    #: targets engaged by more than max_accounts (50) accounts are skipped where the log has
    #: devices or IPs (`dense_cap`); without them the cap is lifted and a target engaged by k
    #: accounts pairs each with its next 2,000 // k (pair_budget: 50 engagers x 40 rows, what
    #: the cap allowed), weighted 1 / log2(2 + popularity), so a dense block's moderately
    #: popular targets are projected and a hub costs about one pair per engager
    dense: RelationConfig = RelationConfig(
        window_rows=40, min_support=3, weight=1.0, max_accounts=50, pair_budget=2000
    )
    #: when graph.dense.max_accounts applies: "auto" where some event has a device or an IP (on
    #: the simulator's worlds lifting it cost 3 of 190 campaigns, seeds 101-110: organic
    #: interest communities around popular creators absorb small rings), "always", "never"
    #: (the pair budget then bounds the hubs)
    dense_cap: str = "auto"
    #: graph.dense.min_support where the cap is lifted (a log without devices or IPs): two
    #: shared targets, so a sparse block's accounts (each pair shares one or two of the
    #: block's targets) are clustered (MovieLens, seed 12: sparse blocks 70% -> 95-99% caught)
    dense_uncapped_support: int = 2
    #: an edge must carry at least this much combined weight to enter community detection.
    min_edge_weight: float = 0.0

    def __post_init__(self) -> None:
        _as_tuples(self, "engagement_types")
        check_names("graph.engagement_types", self.engagement_types)
        if not self.engagement_types:
            raise ConfigError("graph.engagement_types", "must name at least one event type")
        for name in ("device", "ip", "sync", "dense"):
            if not isinstance(getattr(self, name), RelationConfig):
                raise ConfigError(f"graph.{name}", "must be a RelationConfig")
        check_non_negative("graph.min_edge_weight", self.min_edge_weight)
        check_choice("graph.dense_cap", self.dense_cap, DENSE_CAPS)
        check_int_at_least("graph.dense_uncapped_support", self.dense_uncapped_support, 1)


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
    #: 0 turns refinement off. "auto" (`community.leiden.max_cluster_size`): 50 where some event
    #: has a device or an IP (simulated worlds, seeds 101-110: 185 -> 189 of 190 campaigns, tiny
    #: rings no longer absorbed by organic communities of 77-153 accounts; the 10M world 259 ->
    #: 263 of 265), 300 where none has (MovieLens-100k: at 50 its injected 100-account blocks are
    #: split below the dense lift, held-out runs caught 49 -> 29 of 55). An integer applies as is.
    max_cluster_size: Any = "auto"
    #: how many times an oversized community may be split again.
    refine_depth: int = 2
    #: the refined dense blocks that `graphguard dense` flags (`dense.seeded`: lift >= 4.75,
    #: share >= 0.25, DenseConfig's defaults) made communities of their own after Leiden:
    #: "auto" where no event has a device or an IP (the dense block is then the coordination
    #: left to see, and Leiden spreads a sparse camouflaged block over organic communities),
    #: "on", "off". MovieLens-100k, held-out seeds 3-7: detect caught 49 -> 54 of 55 injected
    #: blocks, population FPR 0.0% (experiments/dense_blocks/held_out.md). Costs two peelings
    #: of the account x target graph (MovieLens-100k: detect ~0.9 s -> ~2.1 s).
    dense_blocks: str = "auto"

    def __post_init__(self) -> None:
        check_choice("community.method", self.method, ("leiden",))
        check_choice("community.objective", self.objective, OBJECTIVES)
        check_positive("community.resolution", self.resolution)
        check_positive("community.beta", self.beta)
        check_int_at_least("community.n_iterations", self.n_iterations, -(2**31))
        if self.n_iterations == 0:
            raise ConfigError(
                "community.n_iterations",
                "must be a number of passes, or negative for until stable; got 0",
            )
        check_int_at_least("community.seed", self.seed, 0)
        check_int_at_least("community.min_cluster_size", self.min_cluster_size, 1)
        # 0 is documented: refinement off; "auto" is resolved against the log
        if self.max_cluster_size != "auto":
            value = self.max_cluster_size
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)  # a str-typed source (an environment variable, YAML quoted)
                object.__setattr__(self, "max_cluster_size", value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(
                    "community.max_cluster_size",
                    f"must be an integer or auto, got {self.max_cluster_size!r}",
                )
            check_int_at_least("community.max_cluster_size", value, 0)
        check_int_at_least("community.refine_depth", self.refine_depth, 0)
        check_choice("community.dense_blocks", self.dense_blocks, DENSE_EVIDENCE)


#: when the dense projection's engager cap applies (GraphConfig.dense_cap)
DENSE_CAPS = ("auto", "always", "never")
#: when the dense-block evidence enters the scores (ScoringConfig.dense_evidence)
DENSE_EVIDENCE = ("auto", "on", "off")
#: ways a model's probabilities and the cluster evidence combine (ScoringConfig.fusion)
FUSIONS = ("noisy_or", "model")
#: what a model's operating point does where its FPR check fires
#: (ScoringConfig.unreliable_threshold; `models.calibration.UNRELIABLE`)
UNRELIABLE_THRESHOLDS = ("keep", "bracket")


@dataclass(frozen=True)
class ScoringConfig:
    """Unsupervised evidence -> suspicion -> account risk."""

    #: accounts with risk at or above this are flagged.
    risk_threshold: float = 0.5
    #: window (seconds) of the densest creation burst inside a cluster.
    creation_burst_window_s: float = 6 * 3600.0
    #: event types that mark an account's creation.
    signup_types: tuple[str, ...] = ("signup",)
    #: the dense-block evidence (`community.blocks`) is one half at this lift: a community's
    #: block (targets at least two members engaged, improbably many for the configuration
    #: null of the accounts outside it) holds this many times the engagements that null allows
    #: it (its expectation, at least one member a target). MovieLens-100k's own communities
    #: reach 6.0 on the clean log and 6.3 in an injected one (a cohort of new users rating
    #: the same popular films: the null does not model it), its injected blocks 11 and more;
    #: chosen on the control and the seed-12 scenarios (experiments/dense_blocks/results.md),
    #: held out on seeds 1-7 (held_out.md).
    dense_lift: float = 8.0
    #: whether the dense-block score enters suspicion and risk: "auto" when no community member
    #: used a device or an IP (a ratings, reviews or follows log: the dense block is then the
    #: only coordination left to see), "on", "off". Its columns and q are computed either way.
    #: Not on by default where hardware is logged: on the simulator's worlds organic interest
    #: communities (members liking the same creators) reach lifts up to 34, and forced on it
    #: flagged 8.3% of ordinary accounts and 17% of the fan communities (seed 101, 20k
    #: accounts): the configuration null does not explain interest structure.
    dense_evidence: str = "auto"
    #: event types by which an account authors their target (a post): the dense-block evidence
    #: (`community.blocks`) counts an authored target as its author, so fans of one creator
    #: share one target, not thirty.
    post_types: tuple[str, ...] = ("post",)
    #: a member's engagement occasion of a target (its first, or a return to it after more than
    #: two graph.sync.max_gap_s) is synchronized when at least this share of the other members
    #: who engaged the same target had one within graph.sync.max_gap_s of it (and at least two).
    sync_min_share: float = 0.25
    #: share of its own activity an account must put into the cluster's coordinated behaviour
    #: to carry the cluster's full suspicion (camouflaged accounts spend the rest elsewhere).
    participation_saturation: float = 0.4
    #: how a supervised model's class probabilities meet the cluster evidence (detect --model):
    #: "noisy_or": an account is abusive when the model or its community's coordination evidence
    #: says so (the evidence moves part of the model's benign probability to the abuse classes);
    #: "model": the model's probabilities alone.
    fusion: str = "noisy_or"
    #: false-discovery rate of the community evidence against the log's own communities of
    #: the same size and activity (`community.calibration`): a family whose Benjamini-Hochberg
    #: q-value equals it keeps half its score, one ten times smaller keeps 99%. The null
    #: model's operating point counts a flagged account by its community's q only where the q
    #: is at most this (and the account a full participant); any other as a false positive.
    fdr: float = 0.01
    #: multiply each family's score by its significance weight against the log's own
    #: communities (above). Off by default: on the 10M-event simulated world, where campaigns are
    #: a large share of the small communities, the weighting cut AUPRC from 0.993 to 0.908 and
    #: campaigns caught from 258 to 178 of 265 (the stratum medians are not organic there).
    #: The q-values and their plain words are computed either way.
    calibrated_weights: bool = False
    #: operating point: flag at the threshold whose expected population false-positive rate is
    #: this share (from a model's validation split, or the null model without one); None: use
    #: risk_threshold. At most one of target_fpr and target_precision is set.
    target_fpr: float | None = None
    #: operating point: flag at the smallest threshold whose validation precision reaches this
    #: share (needs a model trained with labels); None: use risk_threshold or target_fpr.
    target_precision: float | None = None
    #: with the null model's operating point (scoring.target_fpr, no model): flag an account
    #: at that threshold only when its community's evidence_q (`community.calibration`) is at
    #: most scoring.fdr as well, so a community the log's own null does not single out
    #: (families on one tablet, kiosks: q around 0.5) is not flagged for its risk alone. The
    #: threshold is the one the null picks without the gate (which only removes flags); run.json
    #: operating_point records it as q_gate.
    q_gate: bool = False
    #: with a model's ``log`` operating point (scoring.target_fpr, detect --model) whose check
    #: fires (`models.calibration.log_check`: run.json operating_point.reliable false):
    #: "keep" the threshold the estimate chose (it is only flagged as unreliable, its interval
    #: widened); "bracket": move it to where the mean of the estimate and its isotonic twin
    #: meets the target (on the simulator's hard worlds 0.27-0.73% at 0.5% and 0.73-1.37% at 1%
    #: instead of 1.27-1.97% and 3.08-4.23%; experiments/operating_points/reliability11/).
    unreliable_threshold: str = "keep"

    def __post_init__(self) -> None:
        _as_tuples(self, "signup_types")
        _as_tuples(self, "post_types")
        for key in ("target_fpr", "target_precision"):
            value = getattr(self, key)
            if value is not None and not (_is_number(value) and 0.0 < value < 1.0):
                raise ConfigError(
                    f"scoring.{key}", f"must be a share strictly within (0, 1), got {value!r}"
                )
        if self.target_fpr is not None and self.target_precision is not None:
            raise ConfigError(
                "scoring.target_fpr",
                "and scoring.target_precision are both set; set at most one of them, got "
                f"{self.target_fpr!r} and {self.target_precision!r}",
            )
        check_share("scoring.fdr", self.fdr)
        if self.fdr == 0:
            raise ConfigError("scoring.fdr", f"must be a share above 0, got {self.fdr!r}")
        check_share("scoring.risk_threshold", self.risk_threshold)
        check_positive("scoring.creation_burst_window_s", self.creation_burst_window_s)
        check_names("scoring.signup_types", self.signup_types)
        check_names("scoring.post_types", self.post_types)
        check_positive("scoring.dense_lift", self.dense_lift)
        check_choice("scoring.dense_evidence", self.dense_evidence, DENSE_EVIDENCE)
        check_share("scoring.sync_min_share", self.sync_min_share)
        check_share("scoring.participation_saturation", self.participation_saturation)
        if self.participation_saturation == 0:
            raise ConfigError(
                "scoring.participation_saturation",
                f"must be a share above 0 and at most 1, got {self.participation_saturation!r}",
            )
        check_choice("scoring.fusion", self.fusion, FUSIONS)
        check_choice(
            "scoring.unreliable_threshold", self.unreliable_threshold, UNRELIABLE_THRESHOLDS
        )


#: the engines a detection run can run on (DetectConfig.engine)
ENGINES = ("local", "spark")


@dataclass(frozen=True)
class SparkConfig:
    """The Spark session of ``engine: spark`` (`graphguard.spark.session`). spark-submit's own
    settings (``--conf``, ``--executor-memory``) apply on top; these are what graphguard sets."""

    #: where the driver connects: local[N], spark://host:port, yarn, k8s://...; None leaves it
    #: to spark-submit (``--master``) or the cluster's spark-defaults.conf.
    master: str | None = "local[2]"
    app_name: str = "graphguard"
    #: driver JVM heap (spark.driver.memory); it holds the collected run directory tables.
    driver_memory: str = "2g"
    #: spark.sql.shuffle.partitions: about 2-3 per executor core on a cluster.
    shuffle_partitions: int = 8
    #: where the connected-components iterations checkpoint (an HDFS/S3 path on a cluster);
    #: None: a temporary local directory, removed afterwards.
    checkpoint_dir: str | None = None
    #: connected-components iterations between checkpoints (cuts the query plan's lineage).
    checkpoint_every: int = 4
    #: accounts a component may have to be partitioned on one executor (applyInPandas); larger
    #: ones are partitioned on the driver.
    executor_component_limit: int = 2_000_000
    #: accounts a component may have to be partitioned on the driver; past it the run stops
    #: with an error naming the component (raise the driver's memory and this limit, or cut the
    #: graph: graph.*.max_accounts, graph.min_edge_weight).
    driver_component_limit: int = 20_000_000
    #: entities with more occurrences than this are split into salted buckets in the
    #: projections, so one hub IP is not one executor's task.
    salt_above: int = 100_000

    def __post_init__(self) -> None:
        check_int_at_least("spark.shuffle_partitions", self.shuffle_partitions, 1)
        check_int_at_least("spark.checkpoint_every", self.checkpoint_every, 1)
        check_int_at_least("spark.executor_component_limit", self.executor_component_limit, 1)
        check_int_at_least("spark.driver_component_limit", self.driver_component_limit, 1)
        check_int_at_least("spark.salt_above", self.salt_above, 1)
        if not self.app_name:
            raise ConfigError("spark.app_name", "must not be empty")


@dataclass(frozen=True)
class LocalConfig:
    """How the local (one-machine) engine bounds its memory: by these settings, not by the
    size of the log. Results do not depend on them."""

    #: partitions of each relation's account pairs (a power of two; more is rounded up);
    #: 0 = as many as ``memory_budget_mib`` needs.
    partitions: int = 0
    #: memory (MiB) one relation's pairs may hold at once; past it they are split into
    #: partitions that spill to ``work_dir`` and are aggregated one at a time. The evidence
    #: and subgraph stages are cut into chunks that hold about as much over what the run
    #: already holds (the events, the graph: ~0.8 GiB at 10M events), so 1024 keeps the
    #: 10M-event world under 2 GiB (1536 peaked at 2.14 GiB: one chunk of 6.06M member events)
    memory_budget_mib: int = 1024
    #: folder for spilled partitions (a temporary folder inside it, removed afterwards; a
    #: folder a killed run left there is removed by the next run, with a note);
    #: None = the system's temporary directory.
    work_dir: str | None = None

    def __post_init__(self) -> None:
        check_int_at_least("local.partitions", self.partitions, 0)
        check_int_at_least("local.memory_budget_mib", self.memory_budget_mib, 64)


@dataclass(frozen=True)
class DetectConfig:
    """Everything a detection run needs; what run.json records."""

    data: DataConfig = DataConfig()
    graph: GraphConfig = GraphConfig()
    community: CommunityConfig = CommunityConfig()
    scoring: ScoringConfig = ScoringConfig()
    local: LocalConfig = LocalConfig()
    #: local (Polars and igraph on this machine, the default) or spark (`graphguard.spark`:
    #: the same stages as DataFrame code; needs ``pip install graphguard[spark]`` and Java 17).
    engine: str = "local"
    spark: SparkConfig = SparkConfig()

    def __post_init__(self) -> None:
        check_choice("engine", self.engine, ENGINES)


DENSE_OBJECTIVES = ("density", "excess")


@dataclass(frozen=True)
class DenseConfig:
    """`graphguard dense`: blocks of the account x target graph, for logs without devices or
    IPs (`graphguard.dense`). Not part of `graphguard detect`."""

    #: blocks to peel, each after the edges of the ones before are removed.
    blocks: int = 10
    #: "excess": density less what the configuration model predicts (a log's organic dense
    #: core does not outweigh a planted block); "density": FRAUDAR's g(S) as published.
    objective: str = "density"
    #: c in the target weight 1 / log(c + degree) (FRAUDAR uses 5).
    log_offset: float = 5.0
    #: a block with fewer accounts ends the search.
    min_accounts: int = 2
    #: a block is flagged at Benjamini-Hochberg q-value at most this (false-discovery rate)
    #: under the configuration-model null ...
    fdr: float = 0.01
    #: ... and when its members share at least this many times the co-engagement the null
    #: expects (real logs beat the null too: taste; see graphguard.dense.significance; 4 was
    #: chosen by looking at the MovieLens benchmark, not on held-out seeds).
    min_ratio: float = 4.0
    #: refine every block of both peelings by local search against the Chung-Lu null
    #: (`graphguard.dense.refine`): members of a refined block with lift >= min_lift and
    #: share >= min_share are flagged as well, and refined.parquet is written.
    refine: bool = True
    #: a refined block's edges over what its members' activity and its targets' popularity
    #: predict, at least this ... (4.75 and 0.25 were chosen on MovieLens-100k benchmark seeds
    #: 1-2 and reported on seeds 3-7: experiments/dense_blocks/held_out.md)
    min_lift: float = 4.75
    #: ... and at least this share of its members' engagements inside it.
    min_share: float = 0.25
    #: the refinement's level: Bonferroni alpha / n per account and target in its rounds,
    #: Benjamini-Hochberg q <= alpha for the final members.
    refine_alpha: float = 0.01

    def __post_init__(self) -> None:
        check_int_at_least("dense.blocks", self.blocks, 1)
        check_non_negative("dense.min_lift", self.min_lift)
        check_share("dense.min_share", self.min_share)
        if not _is_number(self.refine_alpha) or not 0 < self.refine_alpha < 1:
            raise ConfigError(
                "dense.refine_alpha", f"must be a number in (0, 1), got {self.refine_alpha!r}"
            )
        check_choice("dense.objective", self.objective, DENSE_OBJECTIVES)
        if not _is_number(self.log_offset) or self.log_offset <= 1:
            raise ConfigError(
                "dense.log_offset", f"must be a number above 1, got {self.log_offset!r}"
            )
        check_int_at_least("dense.min_accounts", self.min_accounts, 1)
        check_share("dense.fdr", self.fdr)
        check_non_negative("dense.min_ratio", self.min_ratio)


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
        check_names("features.exclude", self.exclude)
        if not self.relations:  # none named: all of them, apart
            object.__setattr__(self, "relations", RELATIONS)
        known = (*RELATIONS, ANY_RELATION)
        unknown = [r for r in self.relations if r not in known]
        if unknown:
            raise ConfigError(
                "features.relations",
                f"names an unknown relation {unknown[0]!r}; choose from {', '.join(known)}",
            )


@dataclass(frozen=True)
class CasesConfig:
    """The case store (`graphguard cases ...`, `graphguard review`)."""

    #: the case database: a SQLite file (created if absent) or a SQLAlchemy URL such as
    #: ``postgresql://user@host/db``. `graphguard cases --db` wins over the
    #: GRAPHGUARD_CASES_DB environment variable, which wins over this setting.
    db: str = "graphguard-cases.db"
    #: a decided case seen again is re-queued when at least
    #: max(requeue_min_new, ceil(requeue_min_share * D)) of its members in the new run are not
    #: among the D members its verdict was taken on
    requeue_min_new: int = 3
    requeue_min_share: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.db, str) or not self.db.strip():
            raise ConfigError("cases.db", f"must name a file or a database URL, got {self.db!r}")
        check_int_at_least("cases.requeue_min_new", self.requeue_min_new, 1)
        check_share("cases.requeue_min_share", self.requeue_min_share)
