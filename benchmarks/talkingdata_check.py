"""Run detection on the TalkingData click sample and compare flagged IPs with the rest.

TalkingData has no fraud label; `is_attributed` (the click led to a download) is the only
outcome. Clicks from coordinated click farms should rarely convert, so a weak sanity check is the
download rate of flagged and clustered IPs against all IPs. Reads ../shared/data, writes
experiments/talkingdata/summary.json.

    python benchmarks/talkingdata_check.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

from graphguard.compose import compose_config, settings
from graphguard.pipeline.detect import run_detection

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/talkingdata-adtracking-sample"


def main() -> None:
    source = DATA / "train_sample.csv"
    if not source.exists():
        sys.exit(f"{source} not found")
    out = Path("runs/talkingdata")
    config = settings(compose_config(["data=talkingdata", "graph=talkingdata"])).detect
    result = run_detection(source, out, config, overwrite=True)
    clicks = pl.read_csv(source, infer_schema=False).with_columns(
        pl.col("is_attributed").cast(pl.Int32)
    )
    per_ip = clicks.group_by("ip").agg(
        pl.len().alias("clicks"), pl.col("is_attributed").sum().alias("downloads")
    )
    accounts = result.accounts.join(per_ip, left_on="account_id", right_on="ip")

    def describe(frame: pl.DataFrame) -> dict:
        return {
            "ips": frame.height,
            "clicks_per_ip": round(frame["clicks"].mean(), 2) if frame.height else None,
            "downloads_per_click": round(
                frame["downloads"].sum() / max(frame["clicks"].sum(), 1), 4
            ),
            "share_of_ips_with_a_download": round((frame["downloads"] > 0).mean(), 4)
            if frame.height
            else None,
        }

    summary = {
        "command": "graphguard detect train_sample.csv --data talkingdata --graph talkingdata",
        "ingest": result.ingest.to_dict() if result.ingest else None,
        "clusters_reported": result.clusters.height,
        "all_ips": describe(accounts),
        "clustered_ips": describe(accounts.filter(pl.col("cluster_id").is_not_null())),
        "flagged_ips": describe(accounts.filter(pl.col("flagged"))),
        "top_clusters": result.clusters.head(5)
        .select("cluster_id", "size", "suspicion", "predicted_label", "evidence")
        .to_dicts(),
    }
    target = Path("experiments/talkingdata")
    target.mkdir(parents=True, exist_ok=True)
    (target / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
