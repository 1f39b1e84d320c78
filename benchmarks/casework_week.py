"""The daily casework loop on a simulated week: does it close?

One simulated world is cut into days. Each campaign of the truth enters on a day of its own
(half of them on day 1, the others later) with 60% of its accounts, and the rest of its accounts
join over the next three days, so campaigns persist, grow and appear. Each day's run reads the
last ``--window`` days of events of the accounts that have joined.

Every day runs the documented workflow (README, "The daily casework loop") through the CLI:

    graphguard detect day_d/events.parquet --previous runs/day_{d-1} --model model_{d-1}.pt \
        --out runs/day_d
    graphguard cases sync runs/day_d
    (investigators decide the top-k open cases, simulated from the truth)
    graphguard cases labels --out labels_d.parquet
    graphguard train events_through_d.parquet --labels labels_d.parquet --out model_d.pt

Simulated investigators open the ``--top-k`` most suspicious open cases each day and confirm a
case when most of its members are truly abusive (with the benign members as exceptions, the
label the most common abusive label among them) and dismiss it otherwise.

Two arms share the worlds and the models: **with --previous** (campaign ids carried over, so a
known campaign is not queued again unless it grew) and **without** (every cluster of every day is
a new case). Reported per day: the campaigns caught (at least half of a campaign's accounts seen
so far labelled abusive by the decisions), the cases an investigator has to open (new plus
re-queued) in each arm, and the AUPRC of the model the day's detection used (trained on the
decisions so far) against the model trained on day 1's decisions only, on the day's accounts that
no decision has labelled yet.

Run: python benchmarks/casework_week.py [--accounts 3000] [--days 7] [--top-k 8]
Writes experiments/casework/week.md and week.json (the command is in them).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from graphguard import schema
from graphguard.casestore import CaseStore
from graphguard.cli import app
from graphguard.metrics import auprc
from graphguard.simulate import SimulationConfig, simulate

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: object) -> None:
    """Run one graphguard command in this process; a failure stops the benchmark."""
    words = [str(a) for a in args]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            code = app(words, standalone_mode=False)
        except SystemExit as exit_:
            code = exit_.code
    if code not in (None, 0):
        raise SystemExit(f"graphguard {' '.join(words)} failed ({code}):\n{sink.getvalue()}")


def schedule(truth: pl.DataFrame, days: int, seed: int) -> pl.DataFrame:
    """account_id -> join_day: benign accounts on day 1; a campaign's first 60% on its entry day
    (half the campaigns on day 1, the others on days 2..days-1), the rest over the next three."""
    rng = np.random.default_rng(seed)
    campaigns = sorted(truth.get_column("campaign_id").drop_nulls().unique().to_list())
    order = rng.permutation(len(campaigns))
    entry = {}
    for rank, index in enumerate(order):
        late = rank >= len(campaigns) // 2
        entry[campaigns[index]] = int(rng.integers(2, max(days, 3))) if late else 1
    rows = []
    for campaign in campaigns:
        members = truth.filter(pl.col("campaign_id") == campaign).get_column(schema.ACCOUNT)
        members = members.sort().to_numpy()[rng.permutation(len(members))]
        first = int(np.ceil(0.6 * len(members)))
        later = entry[campaign] + rng.integers(1, 4, size=len(members) - first)
        join = np.concatenate([np.full(first, entry[campaign]), later])
        rows.append(pl.DataFrame({schema.ACCOUNT: members, "join_day": join.astype(np.int64)}))
    joined = pl.concat(rows) if rows else pl.DataFrame(schema={schema.ACCOUNT: pl.String})
    return (
        truth.select(schema.ACCOUNT)
        .join(joined, on=schema.ACCOUNT, how="left")
        .with_columns(pl.col("join_day").fill_null(1))
    )


def investigate(store: CaseStore, truth: dict[str, str], top_k: int, actor: str) -> int:
    """Decide the ``top_k`` most suspicious open cases from the truth; returns how many."""
    queue = store.list_cases(status="open", sort="suspicion", limit=top_k)
    for case in queue:
        members = store.get_case(case.id).members
        labels = [truth.get(m, schema.BENIGN) for m in members]
        abusive = [label for label in labels if label != schema.BENIGN]
        if len(abusive) * 2 > len(labels):
            label = max(set(abusive), key=lambda name: (abusive.count(name), name))
            benign = [m for m, t in zip(members, labels, strict=True) if t == schema.BENIGN]
            store.decide(case.id, "confirmed", label=label, exceptions=benign, actor=actor)
        else:
            store.decide(case.id, "dismissed", actor=actor)
    return len(queue)


def caught(labels: pl.DataFrame, truth: pl.DataFrame, seen: pl.DataFrame) -> int:
    """Campaigns with at least half of their accounts seen so far labelled abusive."""
    abusive = labels.filter(pl.col(schema.LABEL) != schema.BENIGN).select(schema.ACCOUNT)
    members = truth.filter(pl.col("campaign_id").is_not_null()).join(seen, on=schema.ACCOUNT)
    marked = members.join(abusive.with_columns(hit=pl.lit(1)), on=schema.ACCOUNT, how="left")
    per = marked.group_by("campaign_id").agg(pl.col("hit").fill_null(0).mean().alias("share"))
    return int((per.get_column("share") >= 0.5).sum())


def model_auprc(run_dir: Path, truth: pl.DataFrame, decided: pl.DataFrame) -> dict[str, float]:
    accounts = pl.read_parquet(run_dir / "accounts.parquet").select(schema.ACCOUNT, "model_risk")
    scored = accounts.join(truth.select(schema.ACCOUNT, schema.LABEL), on=schema.ACCOUNT)
    fresh = scored.join(decided.select(schema.ACCOUNT), on=schema.ACCOUNT, how="anti")

    def value(frame: pl.DataFrame) -> float:
        positive = (frame.get_column(schema.LABEL) != schema.BENIGN).to_numpy()
        result = auprc(positive, frame.get_column("model_risk").to_numpy())
        return float("nan") if result is None else round(result, 4)

    return {"all": value(scored), "undecided": value(fresh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000, help="benign accounts")
    parser.add_argument("--campaign-scale", type=float, default=3.0, help="more campaigns")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--window", type=int, default=2, help="days of events per daily run")
    parser.add_argument("--top-k", type=int, default=10, help="cases decided per day and arm")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "casework")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    args = parser.parse_args()
    command = "python benchmarks/casework_week.py " + " ".join(sys.argv[1:])

    started = time.perf_counter()
    world = simulate(
        SimulationConfig(
            n_accounts=args.accounts,
            days=args.days,
            seed=args.seed,
            campaign_scale=args.campaign_scale,
        )
    )
    truth = world.truth
    truth_of = dict(
        zip(truth[schema.ACCOUNT].to_list(), truth[schema.LABEL].to_list(), strict=True)
    )
    joins = schedule(truth, args.days, args.seed)
    events = world.events.join(joins, on=schema.ACCOUNT)
    start = events.get_column(schema.TIME).min().replace(hour=0, minute=0, second=0, microsecond=0)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="casework-week-"))
    work.mkdir(parents=True, exist_ok=True)
    dbs = {"previous": work / "with_previous.db", "fresh": work / "without_previous.db"}
    days = []
    decided = pl.DataFrame(schema={schema.ACCOUNT: pl.String, schema.LABEL: pl.String})
    try:
        for day in range(1, args.days + 1):
            t0 = time.perf_counter()
            folder = work / f"day{day}"
            folder.mkdir()
            end = start + timedelta(days=day)
            window = events.filter(
                (pl.col(schema.TIME) >= end - timedelta(days=args.window))
                & (pl.col(schema.TIME) < end)
                & (pl.col("join_day") <= day)
            ).drop("join_day")
            through = events.filter((pl.col(schema.TIME) < end) & (pl.col("join_day") <= day))
            window.write_parquet(folder / "events.parquet")
            through.drop("join_day").write_parquet(folder / "events_through.parquet")
            seen = through.select(schema.ACCOUNT).unique()
            model = work / f"day{day - 1}" / "model.pt"
            with_model = ["--model", model] if day > 1 else []

            row: dict[str, object] = {
                "day": day,
                "events": window.height,
                "accounts": window.get_column(schema.ACCOUNT).n_unique(),
                "active_campaigns": window.join(truth, on=schema.ACCOUNT)
                .get_column("campaign_id")
                .drop_nulls()
                .n_unique(),
            }
            for arm, db in dbs.items():
                run = folder / f"run_{arm}"
                previous = (
                    ["--previous", work / f"day{day - 1}" / f"run_{arm}"]
                    if arm == "previous" and day > 1
                    else []
                )
                cli("detect", folder / "events.parquet", "--out", run, "-q", *with_model, *previous)
                with CaseStore.open(db) as store:
                    summary = store.sync_run(run, actor="benchmark")
                    row[f"to_open_{arm}"] = len(summary.to_review)
                    row[f"requeued_{arm}"] = len(summary.requeued)
                    row[f"kept_decided_{arm}"] = len(summary.kept_decided)
                    row[f"decided_{arm}"] = investigate(store, truth_of, args.top_k, "investigator")
                    row[f"backlog_{arm}"] = store.counts()["open"]
                    labels = store.labels()
                row[f"caught_{arm}"] = caught(labels, truth, seen)
                row[f"labels_{arm}"] = labels.height
                if arm == "previous" and day > 1:
                    row["auprc_accumulated"] = model_auprc(run, truth, decided)
                    if day > 2:
                        baseline = folder / "run_day1_model"
                        first = work / "day1" / "model.pt"
                        cli(
                            "detect",
                            folder / "events.parquet",
                            "--out",
                            baseline,
                            "-q",
                            "--model",
                            first,
                        )
                        row["auprc_day1_model"] = model_auprc(baseline, truth, decided)
                    else:
                        row["auprc_day1_model"] = row["auprc_accumulated"]
            # the loop: today's decisions train tomorrow's model (the with-previous arm's store)
            cli("cases", "labels", "--out", folder / "labels.parquet", "--db", dbs["previous"])
            decided = pl.read_parquet(folder / "labels.parquet")
            cli(
                "train", folder / "events_through.parquet", "--labels", folder / "labels.parquet",
                "--out", folder / "model.pt", "--epochs", args.epochs, "--seed", args.seed, "-q",
            )  # fmt: skip
            row["seconds"] = round(time.perf_counter() - t0, 1)
            days.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    total_campaigns = truth.get_column("campaign_id").drop_nulls().n_unique()
    result = {
        "command": command,
        "settings": {**vars(args), "out": str(args.out), "keep": None},
        "campaigns_in_truth": total_campaigns,
        "days": days,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "week.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (args.out / "week.md").write_text(render(result))
    print(render(result))


def render(result: dict) -> str:
    days = result["days"]
    s = result["settings"]
    lines = [
        "# The casework loop on a simulated week",
        "",
        f"Command: `{result['command']}` ({result['seconds']} s in all; timings under "
        "contention are noisy). Written by benchmarks/casework_week.py, which says how the week "
        "is built.",
        "",
        f"World: {s['accounts']:,} benign accounts and {result['campaigns_in_truth']} campaigns "
        f"(campaign_scale {s['campaign_scale']}) "
        f"over {s['days']} days (seed {s['seed']}); each daily run reads the last "
        f"{s['window']} days; investigators decide the top {s['top_k']} open cases a day in each "
        "arm. Caught: campaigns with at least half of their accounts seen so far labelled "
        "abusive by the decisions. To open: new plus re-queued cases of the day. AUPRC: "
        "model_risk of the day's detection against the truth, on the day's accounts no decision "
        "has labelled yet (in brackets: on all the day's accounts).",
        "",
        "| day | active campaigns | caught (with --previous) | caught (without) | to open with "
        "--previous | to open without | re-queued | decided and unchanged | labels | AUPRC, model "
        "of decisions so far | AUPRC, model of day 1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in days:
        acc, base = row.get("auprc_accumulated"), row.get("auprc_day1_model")
        lines.append(
            f"| {row['day']} | {row['active_campaigns']} | {row['caught_previous']} | "
            f"{row['caught_fresh']} | {row['to_open_previous']} | {row['to_open_fresh']} | "
            f"{row['requeued_previous']} | {row['kept_decided_previous']} | "
            f"{row['labels_previous']} | "
            + (f"{acc['undecided']} ({acc['all']})" if acc else "-")
            + " | "
            + (f"{base['undecided']} ({base['all']})" if base else "-")
            + " |"
        )
    lines += [
        "",
        f"Cases opened over the week: {sum(r['to_open_previous'] for r in days)} with "
        f"--previous, {sum(r['to_open_fresh'] for r in days)} without; open backlog on the "
        f"last day {days[-1]['backlog_previous']} with, {days[-1]['backlog_fresh']} without.",
        "",
        "Notes. Both arms detect with the same model (trained on the with-previous arm's "
        "decisions), so they differ only in how a run's clusters are matched to cases. Without "
        "--previous a cluster's campaign_id is derived from its sorted member ids: a cluster "
        "that comes back with exactly the same members keeps its case there too, and any change "
        "of membership makes it a new case. Re-queued (with --previous): decided cases with at "
        "least max(cases.requeue_min_new, ceil(cases.requeue_min_share x decided members)) "
        "members outside the snapshot they were decided on (defaults 3 and 10%): campaigns "
        "growing by design, and benign communities whose membership churns as the window moves. "
        "The AUPRC columns score the same accounts (the day's, less those any decision has "
        "labelled) with both models.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
