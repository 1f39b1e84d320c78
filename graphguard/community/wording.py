"""The evidence of a community in plain words: one set of thresholds, one wording.

Every report shows the same facts: the one-line ``evidence`` summary (terminal, Markdown, JSON)
and the sentences of a case file are both made here, from the same evidence columns with the same
thresholds, and `detect` stores both in clusters.parquet (``evidence``, ``evidence_facts``), so
no renderer decides what counts as evidence. A fact is mentioned when its share reaches
``shown_at``; its level (``strong``, ``notable`` or plain) says how a case file highlights it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: How each kind of tie between two accounts reads.
RELATION_WORDS: dict[str, str] = {
    "device": "shared devices",
    "ip": "shared IPs in the same hour",
    "sync": "synchronized engagement on the same targets",
    "dense": "engagement on the same rare targets",
}


@dataclass(frozen=True)
class Threshold:
    """When a share is mentioned at all, and when it is notable or strong."""

    shown_at: float
    notable: float
    strong: float

    def level(self, share: float) -> str:
        return "strong" if share >= self.strong else ("notable" if share >= self.notable else "")


#: the one set of thresholds, by the evidence column they read
THRESHOLDS: dict[str, Threshold] = {
    "shared_device_event_share": Threshold(0.1, 0.2, 0.5),
    "shared_ip_event_share": Threshold(0.1, 0.2, 0.5),
    "sync_engagement_share": Threshold(0.05, 0.1, 0.3),
    "target_exclusivity": Threshold(0.1, 0.15, 0.4),
    "creation_burst_share": Threshold(0.2, 0.2, 0.5),
    "single_use_device_event_share": Threshold(0.2, 0.2, 0.5),
}
#: fewest members signing up together that make a creation burst worth a word
MIN_BURST = 3


@dataclass(frozen=True)
class Fact:
    """One piece of evidence: a clause for the one-line summary (None for context that only a
    case file tells), the sentence of a case file, and its level."""

    summary: str | None
    sentence: str
    level: str = ""


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)


def _count(n: Any, noun: str) -> str:
    text = "-" if n is None else f"{n:,}"
    return f"{text} {noun}" + ("" if n == 1 else "s")


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "-" if value is None else str(value)


def evidence_facts(
    row: Mapping[str, Any],
    *,
    sync_window_s: float,
    burst_window_s: float,
    engagement_types: Sequence[str],
) -> list[Fact]:
    """The facts of one community (a clusters row), context first and last."""
    size = row.get("size") or 0
    facts = [
        Fact(
            None,
            f"{_count(size, 'account')} made {_count(row.get('n_events'), 'event')} from "
            f"{_count(row.get('n_devices'), 'device')} and {_count(row.get('n_ips'), 'IP')} on "
            f"{_count(row.get('n_targets'), 'target')}, between {_when(row.get('first_seen'))} "
            f"and {_when(row.get('last_seen'))}.",
        )
    ]

    def shown(column: str) -> float | None:
        share = _number(row.get(column))
        return share if share >= THRESHOLDS[column].shown_at else None

    def level(column: str) -> str:
        return THRESHOLDS[column].level(_number(row.get(column)))

    n_devices = row.get("n_devices") or 0
    shared_device = shown("shared_device_event_share")
    if n_devices and shared_device is not None:
        per_device = _number(row.get("accounts_per_device"))
        extra = f" ({per_device:.1f} accounts per device)" if per_device >= 1.5 else ""
        facts.append(
            Fact(
                f"{size} accounts used {n_devices} devices ({shared_device:.0%} of their events "
                "on devices other members also used)",
                f"{shared_device:.0%} of their events came from devices other members also "
                f"used{extra}.",
                level("shared_device_event_share"),
            )
        )
    shared_ip = shown("shared_ip_event_share")
    if shared_ip is not None:
        facts.append(
            Fact(
                f"{shared_ip:.0%} of events from an IP another member used in the same hour",
                f"{shared_ip:.0%} of their events came from an IP another member used in the "
                "same hour.",
                level("shared_ip_event_share"),
            )
        )
    sync = shown("sync_engagement_share")
    if sync is not None:
        minutes = max(1, math.ceil(sync_window_s / 60))
        n_synced = row.get("n_synced_targets") or 0
        what = "/".join(engagement_types) or "engagement"
        sentence = (
            f"{sync:.0%} of their {_count(row.get('n_engagements'), 'engagement')} ({what}) "
            f"landed within {minutes} minutes of another member's on the same target "
            f"({n_synced:,} targets hit that way)."
        )
        lockstep = _number(row.get("lockstep_member_share"))
        if lockstep:
            sentence += f" {lockstep:.0%} of the members did so on at least 3 targets."
        facts.append(
            Fact(
                f"{sync:.0%} of their engagement landed within {minutes} min of other members on "
                f"the same target ({n_synced} targets)",
                sentence,
                level("sync_engagement_share"),
            )
        )
    exclusive = shown("target_exclusivity")
    if exclusive is not None:
        facts.append(
            Fact(
                f"{exclusive:.0%} of engagement on targets mostly engaged by this group",
                f"{exclusive:.0%} of their engagement went to targets that mostly this group "
                "engages.",
                level("target_exclusivity"),
            )
        )
    burst = row.get("signup_burst_size") or 0
    if burst >= MIN_BURST and shown("creation_burst_share") is not None:
        hours = max(1, round(burst_window_s / 3600))
        facts.append(
            Fact(
                f"{burst} of them signed up within {hours} h",
                f"{burst} of the {size} accounts signed up within {hours} hours of each other "
                f"({_count(row.get('n_signups'), 'signup')} in the window).",
                level("creation_burst_share"),
            )
        )
    single = shown("single_use_device_event_share")
    if single is not None:
        facts.append(
            Fact(
                f"{single:.0%} of events on single-session device fingerprints",
                f"{single:.0%} of their events came from device fingerprints seen in a single "
                "session (a fresh fingerprint per session).",
                level("single_use_device_event_share"),
            )
        )
    facts += _dense_facts(row)
    facts += _calibration_facts(row)
    if row.get("internal_edges") is not None:
        relation = row.get("dominant_relation")
        facts.append(
            Fact(
                None,
                f"{row['internal_edges']:,} ties link the members (density "
                f"{_number(row.get('internal_density')):.2f}); "
                f"{_number(row.get('internal_weight_share')):.0%} of their tie weight stays "
                f"inside the cluster, mostly through "
                f"{RELATION_WORDS.get(str(relation), str(relation))}.",
            )
        )
    return facts


#: a dense block is put into words when its score (`community.blocks`) reaches this
DENSE_SHOWN_AT = 0.1


def _dense_facts(row: Mapping[str, Any]) -> list[Fact]:
    """The dense account x target block against the configuration null, when its score
    counts (it is 0 where ``scoring.dense_evidence`` leaves the family out)."""
    score = _number(row.get("dense_score"))
    if score < DENSE_SHOWN_AT:
        return []
    size = row.get("size") or 0
    edges = int(_number(row.get("dense_block_edges")))
    targets = int(_number(row.get("dense_block_targets")))
    allowed = _number(row.get("dense_block_expected"))
    lift = _number(row.get("dense_lift"))
    q = _q_words(_number(row.get("dense_q")))
    reach = int(_number(row.get("dense_block_reach")))
    share = edges / reach if reach else 0.0
    return [
        Fact(
            f"{size} accounts put {edges:,} engagements on {_count(targets, 'target')}; the "
            f"null expects {allowed:,.0f} ({lift:.0f}x, {q})",
            f"{size} accounts put {edges:,} engagements on {_count(targets, 'target')} that "
            "improbably many of them engaged for their own activity and the targets' "
            f"popularity: the configuration null expects {allowed:,.0f} of them, counting at "
            f"least one member a target ({lift:.1f}x; {share:.0%} of those targets' engagement "
            f"is theirs; co-engagement {_number(row.get('dense_ratio')):.1f} times the null's, "
            f"z {_number(row.get('dense_z')):.1f}, {q} after Benjamini-Hochberg over all "
            "communities).",
            "strong" if score >= 0.5 else "notable",
        )
    ]


#: what each calibrated family measures, in words (`community.calibration.FAMILIES`)
FAMILY_WORDS: dict[str, str] = {
    "behaviour": "synchronized engagement",
    "infrastructure": "shared hardware with exclusive targets, bursts or synchrony",
}


def _q_words(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _calibration_facts(row: Mapping[str, Any]) -> list[Fact]:
    """How unusual the community is for this log, per family (`community.calibration`): only
    families whose statistic beats the null of communities of its size and activity at q <=
    0.05, so an ordinary community gains no words."""
    facts = []
    for family, words in FAMILY_WORDS.items():
        q = row.get(f"{family}_q")
        if q is None or _number(q) > 0.05:
            continue
        q = _number(q)
        stat = _number(row.get(f"{family}_stat"))
        null = _number(row.get(f"{family}_null"))
        times = f"{stat / null:.0f}x, " if null > 0 and stat / null >= 2 else ""
        facts.append(
            Fact(
                f"{words} {stat:.0%} against {null:.0%} for communities of its size and "
                f"activity ({times}{_q_words(q)})",
                f"Its {words} ({stat:.0%}) stands out against the log's own communities of the "
                f"same size and activity (their median {null:.0%}; {times}z "
                f"{_number(row.get(f'{family}_z')):.1f}; {_q_words(q)} after Benjamini-Hochberg "
                "over all communities).",
                "strong" if q <= 0.001 else "notable",
            )
        )
    return facts


def summary_line(row: Mapping[str, Any], facts: Sequence[Fact]) -> str:
    """The one-line evidence of a community: its facts' summary clauses."""
    parts = [fact.summary for fact in facts if fact.summary is not None]
    if not parts:
        parts.append(
            f"{row.get('size')} accounts linked mainly by {row.get('dominant_relation')}; "
            "no strong coordination evidence"
        )
    return "; ".join(parts)
