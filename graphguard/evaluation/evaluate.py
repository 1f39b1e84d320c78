"""Score a detection run against a truth table of planted campaigns and hard negatives.

The truth table is the simulator's (`schema.TRUTH_SCHEMA`): every account's label, the campaign it
belongs to, and which benign accounts are hard negatives (NAT, campus wifi, shared devices, ...)
that naive rules flag. A plain labels file (account_id, label) also works; campaign and
hard-negative metrics then come out empty.

Metrics are grouped the way the question is asked:
- accounts: does risk rank abusive accounts above benign ones, and how good is the flag?
- campaigns: is each planted operation caught (enough of its accounts flagged), and does one
  reported cluster cover it?
- false_positive_rate: how often benign accounts are flagged, separately for each hard-negative
  kind, since those are where a detector that merely counts shared IPs fails;
- clusters_vs_campaigns: agreement of the community partition with the planted one;
- classes: whether flagged abusive accounts get the right kind of abuse.

Every value is a plain int, float, bool, str, None, list or dict, so the result goes straight to
`json.dumps`. A metric that is undefined for the data (no benign accounts, no campaigns, ...) is
None rather than an exception or a NaN.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from graphguard import metrics as ranking
from graphguard.errors import InputError
from graphguard.io import read_table
from graphguard.rundir import (
    ACCOUNTS_FILE,
    CLUSTER_ID,
    FLAGGED,
    PREDICTED_LABEL,
    RISK,
    Run,
    load_run,
)
from graphguard.schema import ACCOUNT, BENIGN, BOT_RING, FAKE_ENGAGEMENT, LABEL, LABELS

CAMPAIGN_ID = "campaign_id"
CAMPAIGN_KIND = "campaign_kind"
HARD_NEGATIVE = "hard_negative"

#: Truth columns without which nothing can be scored.
REQUIRED_TRUTH_COLUMNS: tuple[str, ...] = (ACCOUNT, LABEL)
#: Truth columns that only the simulator writes; absent ones are read as all-null.
OPTIONAL_TRUTH_COLUMNS: tuple[str, ...] = (CAMPAIGN_ID, CAMPAIGN_KIND, HARD_NEGATIVE)

#: The false-positive budget for `recall_at_1pct_fpr`.
FPR_BUDGET = ranking.FPR_BUDGET
#: Flag threshold on risk when neither a threshold nor a `flagged` column is given.
DEFAULT_THRESHOLD = 0.5
#: Group name for campaigns whose kind the truth table leaves null.
UNKNOWN_KIND = "unknown"

_ABUSIVE = "_abusive"
_IN_RUN = "_in_run"


# --------------------------------------------------------------------------------------------
# Input checks


def _require_columns(frame: pl.DataFrame, columns: tuple[str, ...], source: str) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ValueError(f"{source}: missing column{plural} {names}")


def _reject_duplicates(frame: pl.DataFrame, source: str) -> None:
    duplicated = frame.filter(pl.col(ACCOUNT).is_duplicated())
    if not duplicated.is_empty():
        example = duplicated[ACCOUNT][0]
        raise ValueError(
            f"{source}: column {ACCOUNT!r} has {duplicated[ACCOUNT].n_unique()} duplicated "
            f"value(s), e.g. {example!r}"
        )


def _reject_nulls(frame: pl.DataFrame, column: str, source: str) -> None:
    values = frame[column]
    # NaN is a missing score too, and sklearn refuses it with a message naming no column.
    n_null = values.null_count() + (int(values.is_nan().sum()) if values.dtype.is_float() else 0)
    if n_null:
        raise ValueError(f"{source}: column {column!r} has {n_null} null or NaN value(s)")


def _require_text(frame: pl.DataFrame, column: str, source: str) -> None:
    """Check that a column can be read as text; integer ids are accepted and become strings."""
    dtype = frame.schema[column]
    textual = dtype in (pl.String, pl.Null) or isinstance(dtype, (pl.Categorical, pl.Enum))
    if not (textual or dtype.is_integer()):
        raise ValueError(f"{source}: column {column!r} must be text, got {dtype}")


def _prepare_truth(truth: pl.DataFrame, source: str) -> pl.DataFrame:
    """Truth with all five columns as strings, checked for the mistakes that skew every metric."""
    _require_columns(truth, REQUIRED_TRUTH_COLUMNS, source)
    for name in (*REQUIRED_TRUTH_COLUMNS, *OPTIONAL_TRUTH_COLUMNS):
        if name in truth.columns:
            _require_text(truth, name, source)
    truth = truth.select(
        *(pl.col(name).cast(pl.String) for name in REQUIRED_TRUTH_COLUMNS),
        *(
            pl.col(name).cast(pl.String)
            if name in truth.columns
            else pl.lit(None, pl.String).alias(name)
            for name in OPTIONAL_TRUTH_COLUMNS
        ),
    )
    for column in REQUIRED_TRUTH_COLUMNS:
        _reject_nulls(truth, column, source)
    unknown = truth.filter(~pl.col(LABEL).is_in(list(LABELS)))
    if not unknown.is_empty():
        raise ValueError(
            f"{source}: column {LABEL!r} has values outside {list(LABELS)}, "
            f"e.g. {unknown[LABEL][0]!r}"
        )
    _reject_duplicates(truth, source)
    return truth.with_columns((pl.col(LABEL) != BENIGN).alias(_ABUSIVE))


def _prepare_accounts(
    accounts: pl.DataFrame, threshold: float | None, source: str
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Run accounts reduced to id, cluster, risk, flag (and predicted label), plus the flag rule."""
    _require_columns(accounts, (ACCOUNT, RISK), source)
    _require_text(accounts, ACCOUNT, source)
    if not accounts.schema[RISK].is_numeric():
        raise ValueError(f"{source}: column {RISK!r} must be numeric, got {accounts.schema[RISK]}")
    if threshold is None and FLAGGED in accounts.columns:
        flag = pl.col(FLAGGED).cast(pl.Boolean).fill_null(False)
        rule: dict[str, Any] = {"source": f"{FLAGGED} column", "threshold": None}
    else:
        cut = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        flag = pl.col(RISK) >= cut
        rule = {"source": f"{RISK} >= threshold", "threshold": cut}
    cluster = (
        pl.col(CLUSTER_ID).cast(pl.Int64)
        if CLUSTER_ID in accounts.columns
        else pl.lit(None, pl.Int64)
    )
    extra = [pl.col(PREDICTED_LABEL).cast(pl.String)] if PREDICTED_LABEL in accounts.columns else []
    prepared = accounts.select(
        pl.col(ACCOUNT).cast(pl.String),
        cluster.alias(CLUSTER_ID),
        pl.col(RISK).cast(pl.Float64),
        flag.alias(FLAGGED),
        *extra,
    )
    _reject_nulls(prepared, RISK, source)
    _reject_duplicates(prepared, source)
    return prepared, rule


# --------------------------------------------------------------------------------------------
# Metric groups


def _share(numerator: int | float, denominator: int | float) -> float | None:
    """numerator / denominator, or None when the denominator is empty."""
    return float(numerator) / float(denominator) if denominator else None


def _finite(value: Any) -> float | None:
    """A float for JSON, with NaN (polars' and sklearn's 'undefined') mapped to None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _account_metrics(scored: pl.DataFrame) -> dict[str, Any]:
    is_abusive = scored[_ABUSIVE].to_numpy()
    risk = scored[RISK].to_numpy()
    n_abusive = int(is_abusive.sum())
    n_benign = int(is_abusive.size - n_abusive)
    n_flagged = int(scored[FLAGGED].sum())
    true_positives = int((scored[FLAGGED] & scored[_ABUSIVE]).sum())
    return {
        "auprc": ranking.auprc(is_abusive, risk),
        "auroc": ranking.auroc(is_abusive, risk),
        "recall_at_1pct_fpr": ranking.recall_at_fpr(is_abusive, risk, FPR_BUDGET),
        "precision": _share(true_positives, n_flagged),
        "recall": _share(true_positives, n_abusive),
        "n_abusive": n_abusive,
        "n_benign": n_benign,
        "n_flagged": n_flagged,
    }


def _campaign_table(scored: pl.DataFrame, run: pl.DataFrame, catch_share: float) -> pl.DataFrame:
    """One row per campaign: size, recall, caught, and the reported cluster that best covers it."""
    campaign_members = scored.filter(pl.col(CAMPAIGN_ID).is_not_null())
    campaigns = campaign_members.group_by(CAMPAIGN_ID).agg(
        pl.col(CAMPAIGN_KIND).drop_nulls().first().alias(CAMPAIGN_KIND),
        pl.len().alias("size"),
        pl.col(FLAGGED).mean().alias("recall"),
    )
    # Cluster sizes count every member in the run, labelled or not: an unlabelled account in a
    # cluster still dilutes how well that cluster matches the campaign.
    cluster_sizes = (
        run.filter(pl.col(CLUSTER_ID).is_not_null())
        .group_by(CLUSTER_ID)
        .agg(pl.len().alias("cluster_size"))
    )
    best_match = (
        campaign_members.filter(pl.col(CLUSTER_ID).is_not_null())
        .group_by(CAMPAIGN_ID, CLUSTER_ID)
        .agg(pl.len().alias("overlap"))
        .join(cluster_sizes, on=CLUSTER_ID)
        .join(campaigns.select(CAMPAIGN_ID, "size"), on=CAMPAIGN_ID)
        .with_columns(
            (
                pl.col("overlap") / (pl.col("size") + pl.col("cluster_size") - pl.col("overlap"))
            ).alias("best_cluster_jaccard")
        )
        # Ties go to the lowest cluster id so the answer does not depend on hash order.
        .sort([CAMPAIGN_ID, "best_cluster_jaccard", CLUSTER_ID], descending=[False, True, False])
        .group_by(CAMPAIGN_ID, maintain_order=True)
        .first()
        .select(CAMPAIGN_ID, pl.col(CLUSTER_ID).alias("best_cluster_id"), "best_cluster_jaccard")
    )
    return (
        campaigns.join(best_match, on=CAMPAIGN_ID, how="left")
        .with_columns(
            (pl.col("recall") >= catch_share).alias("caught"),
            # A campaign none of whose accounts sit in a cluster overlaps no cluster at all.
            pl.col("best_cluster_jaccard").fill_null(0.0),
        )
        .select(
            CAMPAIGN_ID,
            CAMPAIGN_KIND,
            "size",
            "recall",
            "caught",
            "best_cluster_id",
            "best_cluster_jaccard",
        )
        .sort(CAMPAIGN_ID)
    )


def _campaign_metrics(campaigns: pl.DataFrame) -> dict[str, Any]:
    by_kind = (
        campaigns.group_by(pl.col(CAMPAIGN_KIND).fill_null(UNKNOWN_KIND))
        .agg(
            pl.len().alias("n"),
            pl.col("caught").sum().alias("n_caught"),
            pl.col("recall").mean().alias("mean_recall"),
        )
        .with_columns((pl.col("n_caught") / pl.col("n")).alias("caught_share"))
        .sort(CAMPAIGN_KIND)
    )
    n_caught = int(campaigns["caught"].sum())
    return {
        "caught_share": _share(n_caught, campaigns.height),
        "n": campaigns.height,
        "n_caught": n_caught,
        "by_kind": {
            row[CAMPAIGN_KIND]: {
                "n": row["n"],
                "n_caught": row["n_caught"],
                "caught_share": _finite(row["caught_share"]),
                "mean_recall": _finite(row["mean_recall"]),
            }
            for row in by_kind.to_dicts()
        },
        "list": campaigns.to_dicts(),
    }


def _false_positive_metrics(scored: pl.DataFrame) -> dict[str, Any]:
    benign = scored.filter(~pl.col(_ABUSIVE))
    population = benign.filter(pl.col(HARD_NEGATIVE).is_null())
    by_kind = (
        benign.filter(pl.col(HARD_NEGATIVE).is_not_null())
        .group_by(HARD_NEGATIVE)
        .agg(pl.len().alias("n"), pl.col(FLAGGED).mean().alias("fpr"))
        .sort(HARD_NEGATIVE)
    )
    return {
        "benign_population": _finite(population[FLAGGED].mean()),
        "hard_negatives": {
            row[HARD_NEGATIVE]: {"n": row["n"], "fpr": _finite(row["fpr"])}
            for row in by_kind.to_dicts()
        },
        "all_benign": _finite(benign[FLAGGED].mean()),
        "n_benign_population": population.height,
        "n_all_benign": benign.height,
    }


def _partition_codes(column: str) -> pl.Expr:
    """Integer group codes for a partition, with each null as a group of its own.

    Positive dense ranks for the non-null values and distinct negative numbers for the nulls, so
    an account in no cluster (or an abusive account with no campaign) never joins another group.
    """
    return (
        pl.when(pl.col(column).is_null())
        .then(-(pl.int_range(pl.len(), dtype=pl.Int64) + 1))
        .otherwise(pl.col(column).rank("dense").cast(pl.Int64))
    )


def _partition_metrics(
    scored: pl.DataFrame, run: pl.DataFrame, campaigns: pl.DataFrame
) -> dict[str, Any]:
    abusive = scored.filter(pl.col(_ABUSIVE)).select(
        _partition_codes(CAMPAIGN_ID).alias("planted"),
        _partition_codes(CLUSTER_ID).alias("found"),
    )
    ari = nmi = None
    if not abusive.is_empty():
        planted, found = abusive["planted"].to_numpy(), abusive["found"].to_numpy()
        ari = _finite(adjusted_rand_score(planted, found))
        nmi = _finite(normalized_mutual_info_score(planted, found))
    # A reported cluster counts as flagged when most of its members (labelled or not) are;
    # purity is then judged on its labelled members, since unlabelled ones are neither right
    # nor wrong.
    flagged_clusters = (
        run.filter(pl.col(CLUSTER_ID).is_not_null())
        .group_by(CLUSTER_ID)
        .agg(pl.col(FLAGGED).mean().alias("flagged_share"))
        .filter(pl.col("flagged_share") > 0.5)
    )
    members = scored.join(flagged_clusters.select(CLUSTER_ID), on=CLUSTER_ID, how="semi")
    return {
        "ari": ari,
        "nmi": nmi,
        "mean_best_jaccard": _finite(campaigns["best_cluster_jaccard"].mean()),
        "reported_cluster_purity": _finite(members[_ABUSIVE].mean()),
        "n_flagged_clusters": flagged_clusters.height,
    }


def _class_metrics(scored: pl.DataFrame) -> dict[str, Any]:
    """Kind-of-abuse accuracy among flagged abusive accounts.

    A flagged abusive account predicted benign counts as wrong: the investigator it reaches is
    told nothing about which operation it belongs to.
    """
    caught = scored.filter(pl.col(_ABUSIVE) & pl.col(FLAGGED))
    counts = caught.group_by(LABEL, pl.col(PREDICTED_LABEL).fill_null(UNKNOWN_KIND)).agg(
        pl.len().alias("n")
    )
    observed = {(row[LABEL], row[PREDICTED_LABEL]): row["n"] for row in counts.to_dicts()}
    predicted = list(LABELS) + sorted({pred for _, pred in observed} - set(LABELS))
    confusion = {
        true: {pred: observed.get((true, pred), 0) for pred in predicted}
        for true in (BOT_RING, FAKE_ENGAGEMENT)
    }
    correct = int((caught[LABEL] == caught[PREDICTED_LABEL]).sum())
    return {
        "accuracy": _share(correct, caught.height),
        "n": caught.height,
        "confusion": confusion,
    }


# --------------------------------------------------------------------------------------------
# Public API


def _evaluate(
    accounts: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    threshold: float | None,
    catch_share: float,
    accounts_source: str,
    truth_source: str,
) -> dict[str, Any]:
    if not 0.0 < catch_share <= 1.0:
        raise ValueError(f"catch_share must be in (0, 1], got {catch_share}")
    labelled = _prepare_truth(truth, truth_source)
    run, flag_rule = _prepare_accounts(accounts, threshold, accounts_source)
    # Truth decides who is scored: an account the run never saw was not detected, so it counts
    # as risk 0 and unflagged rather than silently dropping out of recall.
    scored = labelled.join(
        run.with_columns(pl.lit(True).alias(_IN_RUN)), on=ACCOUNT, how="left"
    ).with_columns(
        pl.col(RISK).fill_null(0.0),
        pl.col(FLAGGED).fill_null(False),
        pl.col(_IN_RUN).fill_null(False),
    )
    campaigns = _campaign_table(scored, run, catch_share)
    metrics: dict[str, Any] = {
        "flag_rule": flag_rule,
        "catch_share": catch_share,
        "coverage": {
            "truth_accounts": labelled.height,
            "run_accounts": run.height,
            "missing_from_run": int((~scored[_IN_RUN]).sum()),
            "unlabelled_in_run": run.join(labelled, on=ACCOUNT, how="anti").height,
        },
        "accounts": _account_metrics(scored),
        "campaigns": _campaign_metrics(campaigns),
        "false_positive_rate": _false_positive_metrics(scored),
        "clusters_vs_campaigns": _partition_metrics(scored, run, campaigns),
        "classes": _class_metrics(scored) if PREDICTED_LABEL in run.columns else None,
    }
    return metrics


def evaluate(
    accounts: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    threshold: float | None = None,
    catch_share: float = 0.5,
) -> dict[str, Any]:
    """Score a run's accounts against truth.

    Args:
        accounts: a run's accounts (account_id, risk; optionally cluster_id, flagged,
            predicted_label), as in accounts.parquet.
        truth: account_id and label, plus the simulator's campaign_id, campaign_kind and
            hard_negative where available.
        threshold: flag accounts with risk >= threshold. None uses the run's `flagged` column if
            it has one, else risk >= 0.5.
        catch_share: a campaign is caught when at least this share of its accounts is flagged.

    Returns:
        A JSON-serialisable dict with the groups flag_rule, catch_share, coverage, accounts,
        campaigns, false_positive_rate, clusters_vs_campaigns and classes (None without
        predicted_label); see the module docstring.

    Raises:
        ValueError: a required column is missing, labels are null, unknown or duplicated, or
            risk is null; the message names the frame and column.
    """
    return _evaluate(
        accounts,
        truth,
        threshold=threshold,
        catch_share=catch_share,
        accounts_source="accounts",
        truth_source="truth",
    )


def truth_curve(
    run: Run, truth: pl.DataFrame, *, source: str = "truth file"
) -> dict[str, Any] | None:
    """The precision-recall curve of a run's risk against a truth or labels table, and the
    precision and recall of its flag, for a report to draw (`metrics.flag_curve`); None when
    the truth holds one class only. Accounts the run never saw count as risk 0, unflagged.

    Raises:
        ValueError: the truth lacks account_id or label, naming the column.
    """
    _require_columns(truth, REQUIRED_TRUTH_COLUMNS, source)
    flagged = pl.col(FLAGGED) if FLAGGED in run.accounts.columns else pl.lit(False)
    scored = (
        truth.select(pl.col(ACCOUNT).cast(pl.String), pl.col(LABEL).cast(pl.String))
        .join(run.accounts.select(ACCOUNT, RISK, flagged.alias(FLAGGED)), on=ACCOUNT, how="left")
        .select(
            pl.col(RISK).fill_null(0.0),
            pl.col(FLAGGED).fill_null(False),
            (pl.col(LABEL) != BENIGN).alias(_ABUSIVE),
        )
    )
    return ranking.flag_curve(
        scored[_ABUSIVE].to_numpy(),
        scored[RISK].to_numpy(),
        scored[FLAGGED].to_numpy(),
        source=source,
    )


def read_truth(path: str | Path) -> pl.DataFrame:
    """Read a truth or labels table from Parquet, CSV or NDJSON (by extension), ids as strings.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file cannot be read (not UTF-8, broken NDJSON, corrupt Parquet) or has
            no rows; the message names the file.
    """
    truth_path = Path(path)
    if not truth_path.is_file():
        raise FileNotFoundError(f"{truth_path}: no such file")
    try:
        truth = read_table(truth_path)
    except InputError as error:
        raise ValueError(str(error)) from error
    if truth.height == 0:
        raise ValueError(f"{truth_path}: no rows: the truth file has a header but no accounts")
    return truth


def evaluate_run(
    run_dir: str | Path,
    truth_path: str | Path,
    *,
    threshold: float | None = None,
    catch_share: float = 0.5,
) -> dict[str, Any]:
    """Load a run directory and a truth file and `evaluate` them.

    Without a `flagged` column and an explicit threshold, the run's own threshold from
    run.json (summary.risk_threshold) decides the flag, so the score matches what the run reported.

    Raises:
        FileNotFoundError: the run directory, one of its files, or the truth file is missing.
        ValueError: as `evaluate`, with messages naming the file.
    """
    run = load_run(run_dir)
    truth = read_truth(truth_path)
    if threshold is None and FLAGGED not in run.accounts.columns:
        summary = run.meta.get("summary")
        run_threshold = summary.get("risk_threshold") if isinstance(summary, dict) else None
        if isinstance(run_threshold, (int, float)) and not isinstance(run_threshold, bool):
            threshold = float(run_threshold)
    return _evaluate(
        run.accounts,
        truth,
        threshold=threshold,
        catch_share=catch_share,
        accounts_source=ACCOUNTS_FILE,
        truth_source=Path(truth_path).name,
    )


# --------------------------------------------------------------------------------------------
# Text summary


def _fmt(value: Any, *, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    if percent:
        return f"{value:.1%}"
    return f"{value:.3f}"


def format_evaluation(metrics: dict[str, Any]) -> str:
    """A compact multi-line summary of `evaluate`'s result, for a terminal or a log."""
    accounts = metrics["accounts"]
    campaigns = metrics["campaigns"]
    fp = metrics["false_positive_rate"]
    partition = metrics["clusters_vs_campaigns"]
    rule = metrics.get("flag_rule", {})
    flag_rule = (
        f"risk >= {rule['threshold']:g}" if rule.get("threshold") is not None else "flagged column"
    )
    lines = [
        f"accounts   AUPRC {_fmt(accounts['auprc'])}  AUROC {_fmt(accounts['auroc'])}"
        f"  recall@1%FPR {_fmt(accounts['recall_at_1pct_fpr'])}",
        f"           flag ({flag_rule}): precision {_fmt(accounts['precision'])}"
        f"  recall {_fmt(accounts['recall'])}  ({accounts['n_flagged']:,} flagged;"
        f" {accounts['n_abusive']:,} abusive, {accounts['n_benign']:,} benign)",
        f"campaigns  caught {campaigns['n_caught']}/{campaigns['n']}"
        f" ({_fmt(campaigns['caught_share'], percent=True)})"
        f" with >= {metrics.get('catch_share', 0.5):.0%} of accounts flagged",
    ]
    width = max((len(kind) for kind in campaigns["by_kind"]), default=0)
    lines += [
        f"  {kind:<{width}}  {group['n_caught']}/{group['n']} caught"
        f"  mean recall {_fmt(group['mean_recall'])}"
        for kind, group in campaigns["by_kind"].items()
    ]
    lines.append(
        f"FPR        benign population {_fmt(fp['benign_population'], percent=True)}"
        f"  all benign {_fmt(fp['all_benign'], percent=True)}"
    )
    width = max((len(kind) for kind in fp["hard_negatives"]), default=0)
    lines += [
        f"  {kind:<{width}}  {_fmt(group['fpr'], percent=True)} of {group['n']:,}"
        for kind, group in fp["hard_negatives"].items()
    ]
    lines.append(
        f"clusters   ARI {_fmt(partition['ari'])}  NMI {_fmt(partition['nmi'])}"
        f"  mean best Jaccard {_fmt(partition['mean_best_jaccard'])}"
        f"  purity {_fmt(partition['reported_cluster_purity'])}"
    )
    classes = metrics.get("classes")
    if classes is not None:
        lines.append(
            f"classes    accuracy {_fmt(classes['accuracy'])} over {classes['n']:,}"
            " flagged abusive accounts"
        )
    coverage = metrics.get("coverage")
    if coverage and (coverage["missing_from_run"] or coverage["unlabelled_in_run"]):
        lines.append(
            f"coverage   {coverage['missing_from_run']:,} truth accounts missing from the run"
            f" (scored as risk 0); {coverage['unlabelled_in_run']:,} run accounts unlabelled"
        )
    return "\n".join(lines)
