"""From evidence to suspicion (per community) and risk (per account), without labels.

Two kinds of coordination make a community suspicious:

* behavioural: members' engagement lands in bursts with other members on the same targets
  (lockstep likes, pods, paid boosts, proxy-rotating rings);
* infrastructural: members' events come from devices other members also use, and that sharing
  goes with something families and kiosks do not show: engagement concentrated on targets the
  group has to itself, a burst of signups, or synchrony.

On a log without devices or IPs (ratings, reviews, follows) a third: the members' dense
account x target block against the configuration null (`community.blocks`, its score one half
at ``scoring.dense_lift``; ``scoring.dense_evidence``).

Each is mapped to [0, 1] with a logistic curve whose midpoint is a share a person can argue
about (a quarter of engagement in bursts is already far beyond what organic users show), and they
combine as a noisy-OR. An account's risk is its community's suspicion scaled by how much of
its own activity takes part in that coordination (for the dense block: its share of engaged
targets in the block, ``p_dense``), so a real user pulled into a ring's community by one shared
residential IP is not flagged with it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.community.blocks import dense_applies, dense_scores
from graphguard.community.calibration import calibrate
from graphguard.community.evidence import LOCKSTEP_MIN_TARGETS
from graphguard.config import ScoringConfig
from graphguard.scores import noisy_or, predicted_label

#: (midpoint, steepness) of the logistic curve for each evidence family.
BEHAVIOUR_CURVE = (0.25, 14.0)
INFRA_CURVE = (0.15, 14.0)
BOT_CURVE = (0.3, 10.0)


def _logistic(x: pl.Expr, curve: tuple[float, float]) -> pl.Expr:
    mid, steep = curve
    return 1.0 / (1.0 + (-(x - mid) * steep).exp())


def score_clusters(clusters: pl.DataFrame, cfg: ScoringConfig | None = None) -> pl.DataFrame:
    """Add ``behaviour_score``, ``infrastructure_score``, ``suspicion`` and ``bot_likeness`` to
    the community evidence table (`community.wording` puts them into words), with the
    calibration columns of `community.calibration.calibrate`.

    A family's score is its logistic effect size (how far past a share a person can argue
    about), times, with ``scoring.calibrated_weights``, its significance weight against the log's
    own communities of the same size and activity (one half at q = ``scoring.fdr``): a
    community must then be both strong and unusual for this platform."""
    cfg = cfg or ScoringConfig()
    fdr = cfg.fdr
    # the significance weights apply only where scoring.calibrated_weights asks for them
    weight = (
        (lambda family: pl.col(f"{family}_weight"))
        if cfg.calibrated_weights
        else (lambda family: pl.lit(1.0))
    )
    infra_signal = pl.max_horizontal(
        "shared_device_event_share", "shared_ip_event_share"
    ) * pl.max_horizontal("target_exclusivity", "creation_burst_share", "sync_engagement_share")
    scored = calibrate(clusters, fdr).with_columns(
        # Either most of the members' engagement lands in bursts with other members, or most
        # members repeatedly take part in such bursts (camouflage can dilute the first, not the
        # second).
        (
            _logistic(
                pl.max_horizontal("sync_engagement_share", "lockstep_member_share"),
                BEHAVIOUR_CURVE,
            )
            * weight("behaviour")
        ).alias("behaviour_score"),
        (_logistic(infra_signal, INFRA_CURVE) * weight("infrastructure")).alias(
            "infrastructure_score"
        ),
        # Bot rings either share hardware or burn a fresh fingerprint per session;
        # fake-engagement pods and boosts run from their members' own devices. (A kind, not
        # a suspicion: it splits risk between the two abuse classes, so it is not weighted.)
        _logistic(
            pl.max_horizontal("shared_device_event_share", "single_use_device_event_share"),
            BOT_CURVE,
        ).alias("bot_likeness"),
    )
    # the dense account x target block against the configuration null (`community.blocks`):
    # its own p-value, q over the communities and score, whatever calibrated_weights says
    scored = dense_scores(scored, fdr, cfg.dense_lift, dense_applies(clusters, cfg.dense_evidence))
    return scored.with_columns(
        noisy_or(
            pl.col("behaviour_score"), pl.col("infrastructure_score"), pl.col("dense_score")
        ).alias("suspicion")
    )


def score_accounts(
    n_accounts: int,
    account_ids: pl.Series,
    membership: np.ndarray,
    members: pl.DataFrame,
    clusters: pl.DataFrame,
    cfg: ScoringConfig,
) -> pl.DataFrame:
    """Contract columns for every account: cluster_id, class scores, risk, predicted_label.

    The one risk function of the project. An account's ``behaviour_part`` is its community's
    behaviour score times its own share in the synchronized engagement, its
    ``infrastructure_part`` the infrastructure score times its share of events on shared
    hardware (devices another member used, or an IP another member used in the same hour,
    whichever is larger: the community's infrastructure signal counts both); risk is their
    noisy-OR. Both parts are kept (accounts.parquet), so an explanation
    reports them instead of recomputing them. Accounts in no community carry no coordination
    evidence: risk 0, benign.
    """
    base = pl.DataFrame(
        {
            "account": np.arange(n_accounts, dtype=np.uint32),
            schema.ACCOUNT: account_ids,
            "cluster": membership,
        }
    )
    # An account carries its community's suspicion only as far as it takes part in the kind of
    # coordination that made the community suspicious: synchronized engagement for behavioural
    # evidence, shared hardware for infrastructural evidence (combined as a noisy-OR, like the
    # community's own suspicion). A family sharing a tablet inside a
    # pod's community is not made a pod member by the tablet. Shared hardware is a device or
    # an IP in the same hour, as in the community's infrastructure signal: a ring on one proxy
    # IP with devices of its own was scored by its IP and then carried none of it (seeds
    # 101-110: two tiny rings missed so). Exclusivity is left out on
    # purpose: it is a property of the group, and a real user who liked two of a pod's posts
    # has engaged "the pod's targets" too.
    saturation = cfg.participation_saturation

    def part(column: str) -> pl.Expr:
        return (pl.col(column).fill_null(0.0) / saturation).clip(0.0, 1.0)

    # synchronized engagement counts by share of the account's engagement or by repetition:
    # LOCKSTEP_MIN_TARGETS synchronized targets already make half a participant, and two more
    # make a full one, however much camouflage surrounds them.
    # (cast first: the count is unsigned and would wrap below zero)
    synced = pl.col("n_synced_targets").fill_null(0).cast(pl.Int64)
    repeated = ((synced - (LOCKSTEP_MIN_TARGETS - 2)) / 4).clip(0.0, 1.0)
    sync_part = pl.max_horizontal(part("p_sync"), repeated)

    table = (
        base.join(members.drop("cluster"), on="account", how="left")
        .join(
            clusters.select(
                "cluster", "behaviour_score", "infrastructure_score", "dense_score", "bot_likeness"
            ),
            on="cluster",
            how="left",
        )
        .with_columns(
            pl.col("behaviour_score").fill_null(0.0),
            pl.col("infrastructure_score").fill_null(0.0),
            pl.col("dense_score").fill_null(0.0),
            pl.col("bot_likeness").fill_null(0.0),
            pl.max_horizontal("p_shared_device", "p_sync").fill_null(0.0).alias("participation"),
        )
        .with_columns(
            (pl.col("behaviour_score") * sync_part).alias("behaviour_part"),
            (
                pl.col("infrastructure_score")
                * pl.max_horizontal(part("p_shared_device"), part("p_shared_ip"))
            ).alias("infrastructure_part"),
            (pl.col("dense_score") * part("p_dense")).alias("dense_part"),
            pl.col("n_synced_targets").fill_null(0),
        )
        .with_columns(
            noisy_or(pl.col("behaviour_part"), pl.col("infrastructure_part"), pl.col("dense_part"))
            .clip(0.0, 1.0)
            .alias("risk")
        )
        .with_columns(
            (1.0 - pl.col("risk")).alias("score_benign"),
            (pl.col("risk") * pl.col("bot_likeness")).alias("score_bot_ring"),
            (pl.col("risk") * (1.0 - pl.col("bot_likeness"))).alias("score_fake_engagement"),
        )
    )
    return table.with_columns(
        pl.when(pl.col("cluster") >= 0)
        .then(pl.col("cluster"))
        .otherwise(None)
        .cast(pl.Int64)
        .alias("cluster_id"),
        predicted_label().alias("predicted_label"),
        (pl.col("risk") >= cfg.risk_threshold).alias("flagged"),
    )


def label_clusters(clusters: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """A community's predicted label: the class with the highest mean score among members.

    The means are sums in account order (`numpy.bincount`): a parallel group-by adds floats
    in an order that changes from run to run, and its last bit with it."""
    members = accounts.filter(pl.col("cluster_id").is_not_null())
    cluster = members.get_column("cluster_id").to_numpy().astype(np.int64)
    n = int(cluster.max()) + 1 if cluster.size else 0
    counts = np.bincount(cluster, minlength=n)
    present = np.flatnonzero(counts)

    def mean(column: str) -> np.ndarray:
        values = members.get_column(column).to_numpy().astype(np.float64)
        return (np.bincount(cluster, weights=values, minlength=n) / np.maximum(counts, 1))[present]

    means = pl.DataFrame(
        {
            "cluster_id": present.astype(np.int64),
            **{c: mean(c) for c in schema.SCORE_COLUMNS},
            "n_flagged": np.bincount(
                cluster, weights=members.get_column("flagged").to_numpy(), minlength=n
            )[present].astype(np.uint32),
            "mean_risk": mean("risk"),
        },
        schema_overrides={"cluster_id": members.schema["cluster_id"]},
    )
    return clusters.join(
        means.with_columns(predicted_label().alias("predicted_label")).select(
            "cluster_id", "predicted_label", "n_flagged", "mean_risk"
        ),
        left_on="cluster",
        right_on="cluster_id",
        how="left",
    )
