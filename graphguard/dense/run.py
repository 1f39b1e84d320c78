"""`graphguard dense`: dense blocks as a method of its own, for logs with no device or IP.

Reads the log as `graphguard detect` does (`graphguard.io.load_events`, the same column
mapping), peels ``dense.blocks`` blocks (`fraudar.find_blocks`), measures each against the
configuration-model null (`significance.block_significance`) and writes, all or nothing
(`graphguard.outputs.atomic_directory`), a directory of:

- ``blocks.parquet``: `fraudar.BLOCK_COLUMNS` plus the null's ``ratio``, ``z``, ``p_value``,
  ``q_value``, ``flagged`` (q <= ``dense.fdr`` and ratio >= ``dense.min_ratio``) and
  ``evidence`` (the sentence for a person);
- ``accounts.parquet``: every account: ``account_id``, ``block``, ``block_share``, ``flagged``;
- ``report.md``: the flagged blocks in words; ``dense.json``: settings and counts;
- with ``dense.refine``: ``refined.parquet``, `refine.REFINED_COLUMNS` plus ``flagged`` (lift
  >= ``dense.min_lift`` and share >= ``dense.min_share``); an account in a flagged refined block
  is flagged too (``accounts.parquet`` gains ``refined_block``, the highest-lift one it is in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from graphguard import schema
from graphguard.config import DataConfig, DenseConfig
from graphguard.dense.bipartite import Bipartite, bipartite
from graphguard.dense.fraudar import find_blocks
from graphguard.dense.refine import flag_refined, peeled_seeds, refine_blocks
from graphguard.dense.significance import block_significance, describe_block
from graphguard.errors import InputError
from graphguard.io import load_events
from graphguard.outputs import (
    atomic_directory,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

BLOCKS_FILE = "blocks.parquet"
ACCOUNTS_FILE = "accounts.parquet"
REPORT_FILE = "report.md"
META_FILE = "dense.json"
REFINED_FILE = "refined.parquet"


@dataclass(frozen=True)
class DenseResult:
    blocks: pl.DataFrame
    accounts: pl.DataFrame
    summary: dict
    refined: pl.DataFrame | None = None  # with dense.refine


def block_outsiders(graph: Bipartite, blocks: pl.DataFrame) -> pl.DataFrame:
    """Per block: ``outside_engagers``, the accounts outside it that engage any of its
    targets."""
    edges = pl.DataFrame(
        {
            schema.ACCOUNT: graph.account_ids.gather(graph.account),
            schema.TARGET: graph.target_ids.gather(graph.target),
        }
    )
    members = blocks.select("block", pl.col("accounts").alias(schema.ACCOUNT)).explode(
        schema.ACCOUNT
    )
    return (
        blocks.select("block", pl.col("targets").alias(schema.TARGET))
        .explode(schema.TARGET)
        .join(edges, on=schema.TARGET)
        .join(members, on=["block", schema.ACCOUNT], how="anti")
        .group_by("block")
        .agg(pl.col(schema.ACCOUNT).n_unique().alias("outside_engagers"))
        .join(blocks.select("block"), on="block", how="right")
        .with_columns(pl.col("outside_engagers").fill_null(0))
    )


def dense_blocks(
    events: pl.DataFrame, config: DenseConfig, engagement_types: Sequence[str]
) -> DenseResult:
    """Blocks, their evidence and the accounts' membership, from a validated event frame."""
    graph = bipartite(events, engagement_types)
    blocks, accounts = find_blocks(
        graph,
        config.blocks,
        offset=config.log_offset,
        min_accounts=config.min_accounts,
        objective=config.objective,
    )
    groups = blocks.select(pl.col("accounts").alias(schema.ACCOUNT), pl.col("block").alias("group"))
    groups = groups.explode(schema.ACCOUNT)
    sig = block_significance(graph, groups, offset=config.log_offset)
    # the sentence names the block's own targets and who else engages them; the ratio, z and q
    # are the null's, over everything the members engaged
    own = blocks.select(
        pl.col("block").alias("group"),
        pl.col("n_targets").alias("n_shared_targets"),
        pl.col("block").alias("_b"),
    ).join(block_outsiders(graph, blocks), left_on="_b", right_on="block", how="left")
    words = sig.drop("n_shared_targets", "outside_engagers").join(own, on="group", how="left")
    evidence = [describe_block(row) for row in words.iter_rows(named=True)]
    sig = sig.with_columns(
        pl.Series("evidence", evidence, dtype=pl.String),
        ((pl.col("q_value") <= config.fdr) & (pl.col("ratio") >= config.min_ratio)).alias(
            "flagged"
        ),
    )
    blocks = blocks.join(
        sig.select(
            pl.col("group").alias("block"),
            "ratio",
            "z",
            "p_value",
            "q_value",
            "flagged",
            "evidence",
        ),
        on="block",
        how="left",
        maintain_order="left",
    ).with_columns(pl.col("flagged").fill_null(False))
    # flagged when in any flagged block (``block`` is the first block an account is in)
    in_flagged = groups.join(
        blocks.filter(pl.col("flagged")).select(pl.col("block").alias("group")), on="group"
    ).get_column(schema.ACCOUNT)
    accounts = accounts.with_columns(
        pl.col(schema.ACCOUNT).is_in(in_flagged.implode()).alias("flagged")
    )
    refined = None
    if config.refine:
        seeds = peeled_seeds(graph, config.blocks, offset=config.log_offset)
        refined = refine_blocks(graph, seeds, alpha=config.refine_alpha)
        refined = refined.with_columns(flag_refined(config.min_lift, config.min_share))
        members = refined.select("block", "flagged", pl.col("accounts").alias(schema.ACCOUNT))
        members = members.explode(schema.ACCOUNT)
        # rows are sorted by lift: an account's first refined block is its highest-lift one
        first = members.unique(schema.ACCOUNT, keep="first", maintain_order=True)
        hit = members.filter(pl.col("flagged")).get_column(schema.ACCOUNT)
        accounts = accounts.join(
            first.select(schema.ACCOUNT, pl.col("block").alias("refined_block")),
            on=schema.ACCOUNT,
            how="left",
            maintain_order="left",
        ).with_columns(pl.col("flagged") | pl.col(schema.ACCOUNT).is_in(hit.implode()))
    summary = {
        "accounts": graph.n_accounts,
        "targets": graph.n_targets,
        "engagements": graph.n_edges,
        "blocks": blocks.height,
        "flagged_blocks": int(blocks.get_column("flagged").sum()),
        "flagged_accounts": int(accounts.get_column("flagged").sum()),
    }
    if refined is not None:
        summary["refined_blocks"] = refined.height
        summary["flagged_refined_blocks"] = int(refined.get_column("flagged").sum())
    return DenseResult(blocks, accounts, summary, refined)


def render_report(result: DenseResult, config: DenseConfig) -> str:
    """A short Markdown report: the counts, then each block, flagged first, in words."""
    s = result.summary
    lines = [
        "# Dense blocks",
        "",
        f"{s['accounts']:,} accounts, {s['targets']:,} targets, {s['engagements']:,} "
        f"engagements; {s['blocks']} blocks peeled ({config.objective}), "
        f"{s['flagged_blocks']} flagged (q <= {config.fdr}, at least {config.min_ratio:g} "
        "times the expected co-engagement) "
        f"({s['flagged_accounts']:,} accounts).",
        "",
    ]
    if result.refined is not None:
        lines += [
            f"Refined by local search against the Chung-Lu null: {s['refined_blocks']} distinct "
            f"blocks, {s['flagged_refined_blocks']} flagged (lift >= {config.min_lift:g}, share "
            f">= {config.min_share:g}); their members are flagged too.",
            "",
            "| refined block | accounts | targets | lift | share | flagged |",
            "|---|---|---|---|---|---|",
        ]
        for row in result.refined.iter_rows(named=True):
            lines.append(
                f"| {row['block']} | {row['n_accounts']:,} | {row['n_targets']:,} | "
                f"{row['lift']:.1f} | {row['share']:.2f} | {'yes' if row['flagged'] else 'no'} |"
            )
        lines.append("")
    lines += [
        "| block | accounts | targets | flagged | evidence |",
        "|---|---|---|---|---|",
    ]
    ordered = result.blocks.sort(["flagged", "block"], descending=[True, False])
    for row in ordered.iter_rows(named=True):
        # ids never reach the report: a block is named by its number, its members are data
        lines.append(
            f"| {row['block']} | {row['n_accounts']:,} | {row['n_targets']:,} | "
            f"{'yes' if row['flagged'] else 'no'} | {row['evidence']} |"
        )
    return "\n".join(lines) + "\n"


def run_dense(
    events_path: str | Path,
    out_dir: str | Path,
    config: DenseConfig,
    data: DataConfig,
    engagement_types: Sequence[str],
    *,
    overwrite: bool = False,
) -> DenseResult:
    """Read ``events_path``, find and measure the blocks, write ``out_dir`` atomically."""
    events, _, ingest = load_events(events_path, data)
    try:
        result = dense_blocks(events, config, engagement_types)
    except InputError as exc:
        raise InputError(str(exc), path=str(events_path), column=schema.TARGET) from None
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        write_parquet_atomic(result.blocks, tmp / BLOCKS_FILE)
        write_parquet_atomic(result.accounts, tmp / ACCOUNTS_FILE)
        write_text_atomic(render_report(result, config), tmp / REPORT_FILE)
        if result.refined is not None:
            write_parquet_atomic(result.refined, tmp / REFINED_FILE)
        write_json_atomic(
            {
                "events": str(events_path),
                "ingest": ingest.to_dict(),
                "settings": asdict(config),
                "engagement_types": list(engagement_types),
                "summary": result.summary,
            },
            tmp / META_FILE,
        )
    return result
