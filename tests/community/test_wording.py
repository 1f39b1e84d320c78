"""The evidence in words: one set of thresholds, the sentences of a case file and the
one-line summary of the terminal, Markdown and JSON reports."""

from __future__ import annotations

from graphguard.community.wording import evidence_facts, summary_line


def evidence_sentences(cluster: dict, meta: dict) -> list[tuple[str, str]]:
    graph = meta["config"]["graph"]
    facts = evidence_facts(
        cluster,
        sync_window_s=graph["sync"]["max_gap_s"],
        burst_window_s=6 * 3600.0,
        engagement_types=graph["engagement_types"],
    )
    return [(fact.sentence, fact.level) for fact in facts]


def test_evidence_sentences_name_the_numbers() -> None:
    cluster = {
        "size": 31,
        "n_events": 900,
        "n_devices": 4,
        "n_ips": 2,
        "n_targets": 40,
        "shared_device_event_share": 0.97,
        "accounts_per_device": 7.75,
        "sync_engagement_share": 0.92,
        "n_engagements": 600,
        "n_synced_targets": 25,
        "signup_burst_size": 31,
        "n_signups": 31,
        "creation_burst_share": 1.0,
    }
    meta = {"config": {"graph": {"sync": {"max_gap_s": 600}, "engagement_types": ["like"]}}}
    sentences = dict(evidence_sentences(cluster, meta))
    assert (
        sentences[
            "31 accounts made 900 events from 4 devices and 2 IPs on 40 targets, between - and -."
        ]
        == ""
    )
    device = (
        "97% of their events came from devices other members also used (7.8 accounts per device)."
    )
    assert sentences[device] == "strong"
    sync = next(s for s in sentences if s.startswith("92% of their 600 engagements (like)"))
    assert "within 10 minutes" in sync and sentences[sync] == "strong"
    assert (
        "31 of the 31 accounts signed up within 6 hours of each other (31 signups in the window)."
        in sentences
    )


def test_the_summary_line_and_the_sentences_come_from_the_same_facts() -> None:
    cluster = {
        "size": 12,
        "n_devices": 3,
        "shared_device_event_share": 0.08,  # below the threshold: in neither
        "shared_ip_event_share": 0.4,
        "single_use_device_event_share": 0.25,
        "dominant_relation": "ip",
    }
    facts = evidence_facts(
        cluster, sync_window_s=600.0, burst_window_s=21600.0, engagement_types=("like",)
    )
    line = summary_line(cluster, facts)
    assert line == (
        "40% of events from an IP another member used in the same hour; "
        "25% of events on single-session device fingerprints"
    )
    sentences = [fact.sentence for fact in facts]
    assert not any("devices other members also used" in s for s in sentences)
    assert any(s.startswith("40% of their events came from an IP") for s in sentences)
    assert summary_line({"size": 4, "dominant_relation": "dense"}, []) == (
        "4 accounts linked mainly by dense; no strong coordination evidence"
    )
