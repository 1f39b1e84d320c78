"""Why this account: its cluster, its own part in the coordination, its ties, in plain words.

`explain_account` answers for one account of a run directory (`graphguard explain`);
`explain_members` answers for every member of a case at once (the case file's details panel).
Both read only what `detect` wrote and return JSON-ready dicts; `format_explanation` turns one into
text for a terminal.

How risk is read back: `detect` stores each account's two parts of its cluster's suspicion
(``behaviour_part``: the cluster's behaviour score times the account's share in the synchronized
engagement; ``infrastructure_part``: the infrastructure score times its share of events on
shared devices; `graphguard.community.scoring.score_accounts` is the one place that computes
them) and its evidence risk is their noisy-OR. `risk_drivers` puts the stored parts into words;
it computes no score of its own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

from graphguard.community.wording import RELATION_WORDS
from graphguard.report.text import plain as _plain
from graphguard.rundir import (
    ACCOUNT_EDGES_FILE,
    BEHAVIOUR_PART,
    CLUSTER_ID,
    EVIDENCE_RISK,
    INFRASTRUCTURE_PART,
    MODEL_RISK,
    N_SYNCED_TARGETS,
    Run,
    load_run,
    scan_table,
)
from graphguard.rundir.cases import Case, load_cases, strongest_relation
from graphguard.schema import ACCOUNT, ENTITY_KINDS, RELATIONS, SCORE_COLUMNS

#: Participation columns of accounts.parquet and what each says about the account.
PARTICIPATION: dict[str, str] = {
    "p_sync": "of its engagement landed in a burst with other members on the same target",
    "p_shared_device": "of its events came from devices other members also used",
    "p_shared_ip": "of its events came from an IP another member used in the same hour",
    "p_exclusive": "of its engagement went to targets mostly engaged by this group",
    "p_single_use_device": "of its events were on single-session device fingerprints",
}
__all__ = ["RELATION_WORDS", "explain_account", "explain_members", "format_explanation"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _config(meta: dict[str, Any], section: str, key: str, default: Any) -> Any:
    config = meta.get("config")
    part = config.get(section) if isinstance(config, dict) else None
    value = part.get(key) if isinstance(part, dict) else None
    return default if value is None else value


def _threshold(meta: dict[str, Any]) -> float | None:
    summary = meta.get("summary")
    return _number(summary.get("risk_threshold")) if isinstance(summary, dict) else None


# --------------------------------------------------------------------------------------------
# Vectorised pieces, for one account or every member of a case


def strongest_ties(account_edges: pl.DataFrame, k: int) -> pl.DataFrame:
    """Each account's ``k`` heaviest account-account edges, seen from both ends.

    Returns account_id, other_id, weight, relation, internal (both in one cluster), and the
    per-relation weights and supports, heaviest first per account.
    """
    relation_columns = [
        f"{r}_{m}"
        for r in RELATIONS
        for m in ("weight", "support")
        if f"{r}_{m}" in account_edges.columns
    ]
    internal = (
        pl.col("internal") if "internal" in account_edges.columns else pl.lit(None, pl.Boolean)
    )
    common = [pl.col("weight"), pl.col("relation"), internal.alias("internal"), *relation_columns]
    both = pl.concat(
        [
            account_edges.select(
                pl.col("src_id").alias(ACCOUNT), pl.col("dst_id").alias("other_id"), *common
            ),
            account_edges.select(
                pl.col("dst_id").alias(ACCOUNT), pl.col("src_id").alias("other_id"), *common
            ),
        ]
    )
    return (
        both.sort([ACCOUNT, "weight", "other_id"], descending=[False, True, False])
        .group_by(ACCOUNT, maintain_order=True)
        .head(k)
    )


def shared_entities(entity_edges: pl.DataFrame, k: int) -> pl.DataFrame:
    """Each account's devices, IPs and targets that other accounts of ``entity_edges`` also
    used: kind, entity, n_events (its own), other_members, first/last seen; devices, then IPs,
    then targets, most shared first, at most ``k`` per account."""
    reach = entity_edges.group_by("kind", "entity").agg(
        (pl.col(ACCOUNT).n_unique() - 1).alias("other_members")
    )
    return (
        entity_edges.join(reach, on=["kind", "entity"])
        .filter(pl.col("other_members") > 0)
        # Devices and IPs first: sharing hardware says more than liking the same post.
        .with_columns(
            pl.col("kind")
            .replace_strict(list(ENTITY_KINDS), list(range(len(ENTITY_KINDS))), default=9)
            .alias("_kind_order")
        )
        .sort(
            [ACCOUNT, "_kind_order", "other_members", "n_events", "entity"],
            descending=[False, False, True, True, False],
        )
        .group_by(ACCOUNT, maintain_order=True)
        .head(k)
        .select(ACCOUNT, "kind", "entity", "n_events", "other_members", "first_seen", "last_seen")
    )


def entity_counts(entity_edges: pl.DataFrame) -> pl.DataFrame:
    """Per account: how many devices, IPs and targets it used (n_device, n_ip, n_target)."""
    return entity_edges.group_by(ACCOUNT).agg(
        (pl.col("kind") == kind).sum().cast(pl.Int64).alias(f"n_{kind}") for kind in ENTITY_KINDS
    )


# --------------------------------------------------------------------------------------------
# Plain words


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def participation(account: dict[str, Any]) -> list[dict[str, Any]]:
    """The account's participation figures with a sentence each."""
    rows = []
    for column, words in PARTICIPATION.items():
        value = _number(account.get(column))
        if value is not None:
            rows.append({"name": column, "value": value, "text": f"{_pct(value)} {words}"})
    return rows


def risk_drivers(
    account: dict[str, Any], cluster: dict[str, Any] | None, meta: dict[str, Any]
) -> dict[str, Any]:
    """What made the account's risk what it is, from the parts `detect` stored.

    Returns {"behaviour": part or None, "infrastructure": part or None, "model": the model's
    abuse probability or None (runs without a model), "main": one of "behaviour",
    "infrastructure", "model", "none", "sentences": [str, ...]}, where a part is the cluster
    score times the account's share of it (None when the run predates stored parts).
    """
    risk = _number(account.get("risk")) or 0.0
    model_risk = _number(account.get(MODEL_RISK))
    # with a model, the evidence below explains the evidence part of the fused risk
    evidence_risk = _number(account.get(EVIDENCE_RISK)) if model_risk is not None else risk
    evidence_risk = evidence_risk or 0.0
    threshold = _threshold(meta)
    flagged = account.get("flagged")
    if flagged is None and threshold is not None:
        flagged = risk >= threshold
    flag_words = (
        f"Risk {risk:.2f} is "
        + ("at or above" if flagged else "below")
        + (f" the flag threshold {threshold:g}" if threshold is not None else " the flag threshold")
        + (": flagged." if flagged else ": not flagged.")
    )
    model_words = [] if model_risk is None else _model_sentences(model_risk, evidence_risk, meta)
    if cluster is None:
        return {
            "behaviour": None,
            "infrastructure": None,
            "main": "model" if model_risk is not None and model_risk >= 0.1 else "none",
            "model": model_risk,
            "sentences": [
                "It is in no cluster: no devices, IPs or engagement tie it to other accounts "
                "strongly enough, so it carries no coordination evidence.",
                *model_words,
                flag_words,
            ],
        }
    behaviour = _number(cluster.get("behaviour_score"))
    infra = _number(cluster.get("infrastructure_score"))
    b_part = _number(account.get(BEHAVIOUR_PART))
    i_part = _number(account.get(INFRASTRUCTURE_PART))
    p_sync = _number(account.get("p_sync")) or 0.0
    p_device = _number(account.get("p_shared_device")) or 0.0
    p_ip = _number(account.get("p_shared_ip")) or 0.0
    n_synced = _number(account.get(N_SYNCED_TARGETS))
    sentences = []
    if behaviour is not None and infra is not None:
        sentences.append(
            f"Its cluster scores {behaviour:.2f} for coordinated behaviour (members' engagement "
            f"landing in bursts on the same targets) and {infra:.2f} for shared infrastructure "
            "(devices or IPs shared alongside exclusive targets, signup bursts or synchrony)."
        )
    if b_part is None or i_part is None:
        sentences.append(
            "This run directory does not store the parts of the account's risk (it was written "
            "by an older graphguard); run detection again to see them."
        )
    else:
        if p_sync > 0 or n_synced:
            on_targets = f" on {n_synced:.0f} distinct targets" if n_synced else ""
            sentences.append(
                f"{_pct(p_sync)} of this account's engagement was in such bursts{on_targets}, "
                f"so it takes on {_pct(_share(b_part, behaviour))} of the behavioural score: "
                f"{b_part:.2f}."
            )
        else:
            sentences.append(
                "None of its engagement landed in a burst with other members, so the "
                "behavioural score does not pass to it."
            )
        if p_device > 0 or p_ip > 0:
            # the larger share is the one its infrastructure part follows (community.scoring)
            shared = (
                f"{_pct(p_device)} of its events came from devices other members also used"
                if p_device >= p_ip
                else f"{_pct(p_ip)} of its events came from an IP another member used in the "
                "same hour"
            )
            sentences.append(
                f"{shared}, so it takes on {_pct(_share(i_part, infra))} of the infrastructure "
                f"score: {i_part:.2f}."
            )
        else:
            sentences.append(
                "It used no device another member used, nor an IP another member used in the "
                "same hour, so the infrastructure score does not pass to it."
            )
    parts = {"behaviour": b_part or 0.0, "infrastructure": i_part or 0.0}
    main = max(parts, key=lambda name: parts[name])
    if parts[main] < 0.1:
        main = "none"
        sentences.append(
            "Neither part is large: it sits in the cluster without taking part in what makes "
            "the cluster suspicious (a bystander linked by a shared IP or a few common targets)."
        )
    else:
        words = {
            "behaviour": "synchronized engagement with other members",
            "infrastructure": "devices or IPs shared with other members",
        }
        other = "infrastructure" if main == "behaviour" else "behaviour"
        if parts[other] >= 0.5:
            mainly = " (mainly the first)" if parts[main] - parts[other] >= 0.05 else ""
            sentences.append(f"What drove its risk: both {words[main]} and {words[other]}{mainly}.")
        else:
            sentences.append(f"What drove its risk: mainly {words[main]}.")
    sentences += model_words
    if model_risk is not None and model_risk >= 0.1 and model_risk >= evidence_risk:
        main = "model"  # the model, more than the coordination evidence, made it risky
    sentences.append(flag_words)
    return {
        "behaviour": b_part,
        "infrastructure": i_part,
        "main": main,
        "model": model_risk,
        "sentences": sentences,
    }


def _share(part: float, whole: float | None) -> float | None:
    """What share of a cluster score an account's part is (None when the score is 0)."""
    return part / whole if whole else None


def _model_sentences(model_risk: float, evidence_risk: float, meta: dict[str, Any]) -> list[str]:
    """How a supervised model's score entered the account's risk (runs of detect --model)."""
    fusion = _config(meta, "scoring", "fusion", "noisy_or")
    words = (
        f"The GraphSAGE model, which learnt from labelled accounts and reads this account's own "
        f"features and its neighbours', gives it an abuse probability of {model_risk:.2f}."
    )
    if fusion == "model":
        return [words, "The run scores accounts by the model alone (scoring.fusion=model)."]
    return [
        words,
        f"The coordination evidence alone gives {evidence_risk:.2f}; the risk combines both "
        "(abusive if either says so: 1 - (1 - model) x (1 - evidence)).",
    ]


def _cluster_summary(case: Case) -> dict[str, Any]:
    cluster = case.cluster
    keep = (
        CLUSTER_ID,
        "rank",
        "size",
        "suspicion",
        "predicted_label",
        "n_flagged",
        "evidence",
        "dominant_relation",
        "behaviour_score",
        "infrastructure_score",
    )
    return {key: cluster.get(key) for key in keep if key in cluster}


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(
        pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%SZ"),
        pl.col(pl.Float64).fill_nan(None),
    ).to_dicts()


def _describe_tie(tie: dict[str, Any]) -> str:
    relation = tie.get("relation")
    support = tie.get(f"{relation}_support")
    words = RELATION_WORDS.get(str(relation), str(relation))
    count = f" ({support} times)" if isinstance(support, int | float) and support else ""
    return f"{words}{count}"


def _account_summary(account_id: str, account: dict[str, Any]) -> dict[str, Any]:
    """The account's own row in an explanation: scores and labels, before cluster context."""
    return {
        "account_id": account_id,
        "found": True,
        "risk": _number(account.get("risk")),
        "flagged": account.get("flagged"),
        "predicted_label": account.get("predicted_label"),
        "known_label": account.get("known_label"),
        "scores": {c: _number(account.get(c)) for c in SCORE_COLUMNS if c in account},
        "n_events": account.get("n_events"),
    }


def explain_members(case: Case, *, ties: int = 5, shared: int = 8) -> dict[str, dict[str, Any]]:
    """An explanation for every member of ``case``, keyed by account id."""
    tie_rows = strongest_ties(case.account_edges, ties)
    shared_rows = shared_entities(case.entity_edges, shared)
    counts = entity_counts(case.entity_edges)
    ties_by = {key[0]: part for key, part in tie_rows.partition_by(ACCOUNT, as_dict=True).items()}
    shared_by = {
        key[0]: part for key, part in shared_rows.partition_by(ACCOUNT, as_dict=True).items()
    }
    counts_by = {row[ACCOUNT]: row for row in counts.to_dicts()}
    cluster = _cluster_summary(case)
    out: dict[str, dict[str, Any]] = {}
    for account in case.members.to_dicts():
        account_id = account[ACCOUNT]
        account_ties = _json_rows(ties_by[account_id]) if account_id in ties_by else []
        for tie in account_ties:
            tie.pop(ACCOUNT, None)
            tie["text"] = _describe_tie(tie)
        account_shared = _json_rows(shared_by[account_id]) if account_id in shared_by else []
        for entity in account_shared:
            entity.pop(ACCOUNT, None)
        used = counts_by.get(account_id, {})
        out[account_id] = {
            **_account_summary(account_id, account),
            "n_devices": used.get("n_device", 0),
            "n_ips": used.get("n_ip", 0),
            "n_targets": used.get("n_target", 0),
            "cluster": cluster,
            "participation": participation(account),
            "ties": account_ties,
            "shared_entities": account_shared,
            "drivers": risk_drivers(account, case.cluster, case.meta),
        }
    return out


def explain_account(
    run: Run | str | Path, account_id: str, *, ties: int = 8, shared: int = 10
) -> dict[str, Any]:
    """Explain one account of a run directory.

    Raises:
        ValueError: the account is not in accounts.parquet.
    """
    run = run if isinstance(run, Run) else load_run(run)
    rows = run.accounts.filter(pl.col(ACCOUNT) == account_id)
    if rows.height == 0:
        raise ValueError(f"account {account_id!r} is not in accounts.parquet")
    account = rows.row(0, named=True)
    cluster_id = account.get(CLUSTER_ID)
    if cluster_id is not None and run.clusters.filter(pl.col(CLUSTER_ID) == cluster_id).height:
        case = load_cases(run, [cluster_id])[0]
        return explain_members(case, ties=ties, shared=shared)[account_id]
    # In no reported cluster: no case to cut, but its edges (if any) still say who it is near.
    edges = (
        scan_table(run, ACCOUNT_EDGES_FILE)
        .filter((pl.col("src_id") == account_id) | (pl.col("dst_id") == account_id))
        .collect()
        if (run.path / ACCOUNT_EDGES_FILE).is_file()
        else pl.DataFrame()
    )
    tie_rows: list[dict[str, Any]] = []
    if edges.height:
        edges = edges.with_columns(
            *[
                pl.lit(0.0).alias(f"{r}_weight")
                for r in RELATIONS
                if f"{r}_weight" not in edges.columns
            ]
        ).with_columns(strongest_relation().alias("relation"))
        tie_rows = _json_rows(
            strongest_ties(edges, ties).filter(pl.col(ACCOUNT) == account_id).drop(ACCOUNT)
        )
        for tie in tie_rows:
            tie["text"] = _describe_tie(tie)
    return {
        **_account_summary(account_id, account),
        "cluster": None,
        "participation": participation(account),
        "ties": tie_rows,
        "shared_entities": [],
        "drivers": risk_drivers(account, None, run.meta),
    }


# --------------------------------------------------------------------------------------------
# Terminal text


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def format_explanation(explanation: dict[str, Any]) -> str:
    """Plain text for a terminal; every data string is made inert (no control characters, no
    line breaks), so a hostile id cannot move the cursor or fake a line of the output."""
    lines = []
    risk = explanation.get("risk")
    label = _plain(explanation.get("predicted_label"))
    account = _plain(explanation["account_id"])
    flagged = "flagged" if explanation.get("flagged") else "not flagged"
    lines.append(
        f"Account {account}: risk {risk:.2f} ({flagged}), predicted {label}"
        if risk is not None
        else f"Account {account}"
    )
    if explanation.get("known_label"):
        lines.append(f"  known label: {_plain(explanation['known_label'])}")
    cluster = explanation.get("cluster")
    lines.append("")
    if cluster:
        suspicion = _number(cluster.get("suspicion"))
        lines.append(
            f"Cluster {cluster.get(CLUSTER_ID)} (rank {cluster.get('rank')}): "
            f"{cluster.get('size')} accounts, suspicion "
            + ("-" if suspicion is None else f"{suspicion:.2f}")
            + f", predicted {_plain(cluster.get('predicted_label'))}, "
            f"{cluster.get('n_flagged')} flagged"
        )
        if cluster.get("evidence"):
            lines.append(f"  evidence: {_plain(cluster['evidence'])}")
    else:
        lines.append("Cluster: none")
    lines += ["", "Why (what drove its risk):"]
    lines += [f"  - {s}" for s in explanation["drivers"]["sentences"]]
    lines += ["", "Its part in the coordination:"]
    lines += [
        f"  {p['name']:<20} {p['value']:>6.1%}  {p['text']}" for p in explanation["participation"]
    ]
    ties = explanation.get("ties") or []
    lines += ["", f"Strongest ties ({len(ties)}):" if ties else "Strongest ties: none"]
    for tie in ties:
        where = "" if tie.get("internal") in (True, None) else "  [outside its cluster]"
        lines.append(
            f"  {tie['weight']:>6.2f}  {_plain(tie['other_id'])}  via {tie['text']}{where}"
        )
    shared = explanation.get("shared_entities") or []
    lines += [
        "",
        f"Devices, IPs and targets shared with other members ({len(shared)}):"
        if shared
        else "Devices, IPs and targets shared with other members: none",
    ]
    for entity in shared:
        lines.append(
            f"  {entity['kind']:<7} {_plain(entity['entity'])}  "
            f"{_plural(entity['n_events'], 'event')}, also used by "
            f"{_plural(entity['other_members'], 'other member')}"
        )
    return "\n".join(lines) + "\n"
