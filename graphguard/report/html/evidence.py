"""The evidence of a cluster in plain words: one sentence per signal that is present.

`evidence_sentences` turns the evidence columns of clusters.parquet (and the graph and scoring
settings of run.json, for windows and event types) into the sentences of the case file's "Why
this cluster is suspicious" list, each with a level the stylesheet highlights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphguard.report.explain import RELATION_WORDS
from graphguard.report.html.escape import display, fixed, number, pct, plural, when
from graphguard.report.html.page import meta_section
from graphguard.rundir import DOMINANT_RELATION, SIZE


def evidence_sentences(
    cluster: Mapping[str, Any], meta: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The cluster's evidence columns as sentences, each with a level (strong, notable, plain)."""

    def level(share: float | None, strong: float = 0.5, notable: float = 0.2) -> str:
        share = share or 0.0
        return "strong" if share >= strong else ("notable" if share >= notable else "")

    size = cluster.get(SIZE) or 0
    out: list[tuple[str, str]] = []
    n_events, n_devices = cluster.get("n_events"), cluster.get("n_devices")
    n_ips, n_targets = cluster.get("n_ips"), cluster.get("n_targets")
    first, last = cluster.get("first_seen"), cluster.get("last_seen")
    if n_events is not None:
        out.append(
            (
                f"{plural(size, 'account')} made {plural(n_events, 'event')} from "
                f"{plural(n_devices, 'device')} and {plural(n_ips, 'IP')} on "
                f"{plural(n_targets, 'target')}, between {when(first)} and {when(last)}.",
                "",
            )
        )
    shared_dev = number(cluster.get("shared_device_event_share"))
    if shared_dev and shared_dev >= 0.05:
        per_device = number(cluster.get("accounts_per_device"))
        extra = f" ({per_device:.1f} accounts per device)" if (per_device or 0) >= 1.5 else ""
        out.append(
            (
                f"{shared_dev:.0%} of their events came from devices other members also "
                f"used{extra}.",
                level(shared_dev),
            )
        )
    shared_ip = number(cluster.get("shared_ip_event_share"))
    if shared_ip and shared_ip >= 0.05:
        out.append(
            (
                f"{shared_ip:.0%} of their events came from an IP another member used in the "
                "same hour.",
                level(shared_ip),
            )
        )
    sync = number(cluster.get("sync_engagement_share"))
    if sync and sync >= 0.05:
        gap = number(meta_section(meta, "config", "graph", "sync").get("max_gap_s")) or 600.0
        kinds = meta_section(meta, "config", "graph").get("engagement_types")
        what = (
            "/".join(str(k) for k in kinds) if isinstance(kinds, list) and kinds else "engagement"
        )
        n_eng = cluster.get("n_engagements")
        sentence = (
            f"{sync:.0%} of their {display(n_eng)} engagements ({what}) landed within "
            f"{max(1, math.ceil(gap / 60))} minutes of another member's on the same target "
            f"({display(cluster.get('n_synced_targets'))} targets hit that way)."
        )
        lockstep = number(cluster.get("lockstep_member_share"))
        if lockstep:
            sentence += f" {lockstep:.0%} of the members did so on at least 3 targets."
        out.append((sentence, level(sync, 0.3, 0.1)))
    exclusive = number(cluster.get("target_exclusivity"))
    if exclusive and exclusive >= 0.1:
        out.append(
            (
                f"{exclusive:.0%} of their engagement went to targets that mostly this group "
                "engages.",
                level(exclusive, 0.4, 0.15),
            )
        )
    burst = cluster.get("signup_burst_size") or 0
    if burst >= 3:
        window = number(meta_section(meta, "config", "scoring").get("creation_burst_window_s"))
        hours = max(1, round((window or 21600.0) / 3600))
        share = number(cluster.get("creation_burst_share"))
        out.append(
            (
                f"{burst} of the {size} accounts signed up within {hours} hours of each other "
                f"({display(cluster.get('n_signups'))} signups in the window).",
                level(share, 0.5, 0.2),
            )
        )
    single = number(cluster.get("single_use_device_event_share"))
    if single and single >= 0.1:
        out.append(
            (
                f"{single:.0%} of their events came from device fingerprints seen in a single "
                "session (a fresh fingerprint per session).",
                level(single),
            )
        )
    edges = cluster.get("internal_edges")
    if edges is not None:
        relation = cluster.get(DOMINANT_RELATION)
        words = RELATION_WORDS.get(str(relation), display(relation))
        out.append(
            (
                f"{edges:,} ties link the members (density "
                f"{fixed(cluster.get('internal_density'))}); "
                f"{pct(cluster.get('internal_weight_share'))} of their tie weight stays "
                f"inside the cluster, mostly through {words}.",
                "",
            )
        )
    return out
