"""graphguard's command line: simulate, detect, dense, train, report, export, explain, evaluate,
config.

Results go to stdout, progress and narration to stderr. Exit codes: 0 ok, 1 bad input or a
runtime failure (one `Error: ...` line, no traceback unless GRAPHGUARD_DEBUG=1), 2 usage error.
Every flag is sugar for a Hydra override of conf/, and `--set key=value` takes any override, so
the CLI and `python -m graphguard.experiment` read the same settings the same way.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from graphguard import __version__
from graphguard.launch import STAGE_FILE_ENV
from graphguard.launch import main as launch_main

if TYPE_CHECKING:
    from graphguard.pipeline.stages import StageTimer

app = typer.Typer(
    name="graphguard",
    help=(
        "Find coordinated abuse (bot rings, fake engagement) in event logs.\n\n"
        "Example:\n\n"
        "  graphguard simulate data/demo && "
        "graphguard detect data/demo/events.parquet --out runs/demo && graphguard report runs/demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Off a terminal (pipes, CI logs) rich would assume 80 columns and fold every table cell.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Any config override, e.g. --set graph.sync.max_gap_s=300 "
        "(repeatable; see `graphguard config`).",
    ),
]


class UsageError(Exception):
    """A bad flag or override: exit code 2."""


@contextmanager
def _errors() -> Iterator[None]:
    """Turn known failures into one actionable line and the right exit code."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from graphguard.config import ConfigError
    from graphguard.errors import GraphguardError, OutputExistsError

    try:
        yield
    except typer.Exit:
        raise
    # a setting out of range or of the wrong type names its key: a usage error like a bad flag
    except (UsageError, ConfigError, HydraException, OmegaConfBaseException) as exc:
        _fail(exc, 2)
    except OutputExistsError as exc:  # the library names the path; the flag is the CLI's word
        _fail(exc, 1, hint="pass --overwrite to replace it")
    except (GraphguardError, FileNotFoundError, ValueError, OSError) as exc:
        _fail(exc, 1)
    except Exception as exc:  # a bug: still one line, but say how to see the traceback
        _fail(exc, 1, hint="set GRAPHGUARD_DEBUG=1 for the traceback")
    except BaseException as exc:
        # A panic inside Polars' Rust code (pyo3's PanicException, not an Exception): under a
        # memory limit, most often a thread or buffer it could not get. Still one line.
        if type(exc).__name__ != "PanicException":
            raise  # KeyboardInterrupt, SystemExit: theirs to handle
        _fail(
            exc,
            1,
            hint="a failure inside Polars, most likely out of memory or threads; "
            "set GRAPHGUARD_DEBUG=1 for the traceback",
        )


def _fail(exc: BaseException, code: int, hint: str | None = None) -> None:
    if os.environ.get("GRAPHGUARD_DEBUG"):
        raise exc
    from graphguard.report.text import PLAIN_TEXT_TABLE

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # inert: a message may quote data (a CSV header, an id) that must not drive the terminal
    line = f"Error: {message.translate(PLAIN_TEXT_TABLE)}"
    if hint:
        line += f" ({hint})"
    # soft_wrap: never wrap at the console width, so the line stays whole on a pipe or in a log.
    err.print(line, markup=False, emoji=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _output(path: Path, *, enabled: bool = True, **check: Any) -> Iterator[None]:
    """Check an output path before any work starts (`graphguard.outputs.check_output`: not an
    input, not the current directory, writable, ...) and hold its lock for the whole command,
    so a second run into the same place is refused."""
    if not enabled:
        yield
        return
    from graphguard.outputs import output_guard

    with output_guard(path, **check):
        yield


def _run_files(run_dir: Path) -> list[Path]:
    """The files of a run directory, inputs of the commands that read it."""
    from graphguard.rundir import META_FILE, REJECTED_FILE, TABLES

    return [run_dir / name for name in (*TABLES, REJECTED_FILE, META_FILE)]


def _overrides(pairs: dict[str, Any], extra: list[str] | None) -> list[str]:
    items = [f"{k}={_override_value(v)}" for k, v in pairs.items() if v is not None]
    for item in extra or []:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got {item!r}")
        items.append(item)
    return items


def _override_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


#: -q silences narration only: a warning changes what the result means (an empty relation,
#: labels left out), so an unattended pipeline's log must still show it
QUIET_HELP = "No progress on stderr (warnings are still printed, as 'graphguard: warning: ...')."


def _warn(warnings: list[str]) -> None:
    """The pipeline's warnings on stderr, one line each, printed whatever -q says."""
    for warning in warnings:
        err.print(f"graphguard: warning: {warning}", markup=False, soft_wrap=True)


def _timer() -> StageTimer:
    """A detection's stage timer, with each stage's own peak memory (this process runs one
    detection) and the ``start-up`` stage: from when this command began (in a supervised
    worker, when the supervising process did, `main`) to now."""
    import time

    import psutil

    from graphguard.pipeline.stages import StageTimer

    process = psutil.Process()
    parent = process.parent() if os.environ.get(STAGE_FILE_ENV) else None
    timer = StageTimer(stage_peaks=True)
    times = os.times()  # this process's own CPU (the supervisor's is small and not counted)
    timer.record(
        "start-up",
        max(0.0, time.time() - (parent or process).create_time()),
        cpu_seconds=times.user + times.system,
    )
    return timer


def _progress(quiet: bool) -> Callable[[str], None] | None:
    """Narrate each stage on stderr (not with -q); in a supervised worker, also record it for
    the supervisor, which names it if the process is killed (`main`)."""
    stage_file = os.environ.get(STAGE_FILE_ENV)
    if quiet and not stage_file:
        return None

    def progress(stage: str) -> None:
        if stage_file:
            Path(stage_file).write_text(stage, encoding="utf-8")
        if not quiet:
            err.print(f"[dim]graphguard:[/] {stage}…")

    return progress


def _version(value: bool) -> None:
    if value:
        out.print(f"graphguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Find coordinated abuse (bot rings, fake engagement) in event logs."""


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Directory for events/labels/truth.parquet.")],
    accounts: Annotated[
        int | None, typer.Option(help="Benign accounts (simulate.n_accounts).")
    ] = None,
    days: Annotated[int | None, typer.Option(help="Days of activity (simulate.days).")] = None,
    events_per_account: Annotated[
        float | None,
        typer.Option(help="Mean events per benign account (simulate.events_per_account)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (simulate.seed).")] = None,
    label_fraction: Annotated[
        float | None, typer.Option(help="Share of accounts with a label (simulate.label_fraction).")
    ] = None,
    label_noise: Annotated[
        float | None,
        typer.Option(
            help="Share of labelled abusive accounts labelled benign (simulate.label_noise)."
        ),
    ] = None,
    unlabeled_kinds: Annotated[
        str | None, typer.Option(help="Comma-separated campaign kinds left out of the labels.")
    ] = None,
    block_accounts: Annotated[
        int | None,
        typer.Option(
            help="Benign accounts per independent block; memory is that of one block "
            "(simulate.block_accounts; 0: one block).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes that simulate blocks (same world for any).")
    ] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    set_: SetOption = None,
) -> None:
    """Write a synthetic world with planted campaigns and hard negatives.

    Example: graphguard simulate data/demo --accounts 20000 --seed 7

    Large worlds are made in independent blocks of --block-accounts benign accounts (each with
    campaigns and hard negatives scaled to its size), written one at a time, so memory stays
    that of one block (about 2 GiB at the default 300,000) at any size.
    """
    with _errors(), _output(out_dir, kind="folder"):
        from graphguard.compose import compose_config, settings
        from graphguard.errors import OutputExistsError
        from graphguard.simulate import BlockDone, write_world_chunked
        from graphguard.simulate.blocks import block_sizes

        kinds = (
            None
            if unlabeled_kinds is None
            else [k.strip() for k in unlabeled_kinds.split(",") if k.strip()]
        )
        cfg = compose_config(
            _overrides(
                {
                    "simulate.n_accounts": accounts,
                    "simulate.days": days,
                    "simulate.events_per_account": events_per_account,
                    "simulate.seed": seed,
                    "simulate.label_fraction": label_fraction,
                    "simulate.label_noise": label_noise,
                    "simulate.unlabeled_kinds": kinds,
                    "simulate.block_accounts": block_accounts,
                },
                set_,
            )
        )
        sim_cfg = settings(cfg).simulate
        existing = [
            p
            for p in ("events.parquet", "labels.parquet", "truth.parquet")
            if (out_dir / p).exists()
        ]
        if existing and not overwrite:
            raise OutputExistsError(out_dir / existing[0])
        n_blocks = len(block_sizes(sim_cfg))
        if not quiet:
            blocks = f" in {n_blocks} blocks" if n_blocks > 1 else ""
            err.print(
                f"[dim]graphguard:[/] simulating {sim_cfg.n_accounts:,} accounts{blocks}, "
                f"seed {sim_cfg.seed}…"
            )
        written = [0]

        def progress(done: BlockDone) -> None:
            written[0] += done.events
            if not quiet and done.blocks > 1:
                err.print(
                    f"[dim]graphguard:[/] block {done.block + 1}/{done.blocks}: "
                    f"{done.events:,} events in {done.seconds:.1f} s ({written[0]:,} so far)"
                )

        world = write_world_chunked(sim_cfg, out_dir, workers=workers, progress=progress)
        out.print(
            f"{world.events:,} events, {world.accounts:,} accounts, {world.campaigns} campaigns, "
            f"{world.labels:,} labels -> {world.paths['events'].parent}",
            markup=False,
        )


@app.command()
def detect(
    events: Annotated[
        Path, typer.Argument(help="Event log: Parquet file/dir/glob, CSV or NDJSON.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")],
    labels: Annotated[Path | None, typer.Option(help="Labels file (account_id, label).")] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Data config name in conf/data (column mapping), e.g. talkingdata."),
    ] = None,
    graph: Annotated[str | None, typer.Option(help="Graph config name in conf/graph.")] = None,
    resolution: Annotated[
        float | None, typer.Option(help="Leiden resolution (community.resolution).")
    ] = None,
    objective: Annotated[
        str | None, typer.Option(help="Leiden objective: modularity or cpm (community.objective).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Leiden seed (community.seed).")] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Risk at which an account is flagged (scoring.risk_threshold)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run directory.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    top: Annotated[int, typer.Option(help="Clusters shown in the printed report.")] = 15,
    model: Annotated[
        Path | None,
        typer.Option(
            help="A model from `graphguard train`: class scores come from it, combined with the "
            "cluster evidence as scoring.fusion says (noisy_or or model)."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="With --model: auto (CUDA if present), cpu, cuda or cuda:N.")
    ] = "auto",
    previous: Annotated[
        Path | None,
        typer.Option(
            help="The previous run directory: clusters that continue its campaigns (shared "
            "members, or shared devices, IPs and targets) keep their campaign_id; each gets a "
            "campaign_status (new, continuing, grown, shrunk, split, merged)."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="local (default) or spark: the same run on Apache Spark "
            "(pip install graphguard[spark], Java 17)."
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(help="With --engine spark: local[2], spark://host:7077, yarn (spark.master)."),
    ] = None,
    set_: SetOption = None,
) -> None:
    """Detect coordinated clusters and write accounts/clusters Parquet, run.json and report.md.

    Example: graphguard detect data/demo/events.parquet --out runs/demo
    Example: graphguard detect data/new/events.parquet --model models/demo.pt --out runs/new
    Example: graphguard detect data/day2/events.parquet --previous runs/day1 --out runs/day2
    """
    inputs = [events, labels, model, previous]
    with (
        _errors(),
        _output(out_dir, kind="directory", inputs=inputs, overwrite=overwrite),
    ):
        from graphguard.compose import compose_config, settings
        from graphguard.models.params import check_device
        from graphguard.pipeline.detect import run_detection
        from graphguard.report.markdown import render_markdown
        from graphguard.rundir import REPORT_FILE

        check_device("--device", device)  # before any work; torch-free
        cfg = compose_config(
            _overrides(
                {
                    "data": data,
                    "graph": graph,
                    "community.resolution": resolution,
                    "community.objective": objective,
                    "community.seed": seed,
                    "scoring.risk_threshold": threshold,
                    "engine": engine,
                    # quoted: Hydra would read local[2] as a list
                    "spark.master": None if master is None else repr(master),
                },
                set_,
            )
        )
        config = settings(cfg).detect
        detector = None
        if model is not None:
            from graphguard.pipeline.train import config_drift, load_model

            detector = load_model(model, device=device)
            drift = config_drift(detector, config)
            if drift and not quiet:
                err.print(
                    f"[yellow]graphguard: the model was trained with other settings "
                    f"({'; '.join(drift[:3])}{'; ...' if len(drift) > 3 else ''}); "
                    "its features may mean something else here[/]",
                    soft_wrap=True,
                )
        result = run_detection(
            events,
            out_dir,
            config,
            labels_path=labels,
            model=detector,
            overwrite=overwrite,
            progress=_progress(quiet),
            extra_files={REPORT_FILE: render_markdown},
            previous=previous,
            timer=_timer(),
        )
        _warn(result.warnings)
        if as_json:
            meta = result.meta or {}
            out.print_json(json.dumps({k: meta[k] for k in ("summary", "ingest", "timings_s")}))
            return
        _print_report(out_dir, top)
        total = sum(result.timer.seconds().values())
        err.print(f"[dim]graphguard:[/] wrote {out_dir} in {total:.1f} s")


@app.command()
def dense(
    events: Annotated[
        Path, typer.Argument(help="Event log: Parquet file/dir/glob, CSV or NDJSON.")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write.")],
    blocks: Annotated[int | None, typer.Option(help="Blocks to peel (dense.blocks).")] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Data config name in conf/data (column mapping), e.g. talkingdata."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing directory.")] = False,
    set_: SetOption = None,
) -> None:
    """Dense account x target blocks (FRAUDAR-style peeling, configuration-model q-values,
    then local search against the Chung-Lu null: dense.refine), for logs with no device or IP
    (ratings, reviews, follows). Writes blocks.parquet, refined.parquet, accounts.parquet,
    report.md and dense.json; does not change `detect`.

    Example: graphguard dense ratings.csv --data ratings --set 'graph.engagement_types=[rate]'
    --out runs/dense --blocks 5
    """
    with _errors(), _output(out_dir, kind="directory", inputs=[events], overwrite=overwrite):
        from graphguard.compose import compose_config, settings
        from graphguard.dense.run import run_dense

        s = settings(compose_config(_overrides({"data": data, "dense.blocks": blocks}, set_)))
        result = run_dense(
            events,
            out_dir,
            s.dense,
            s.detect.data,
            s.detect.graph.engagement_types,
            overwrite=overwrite,
        )
        summary = result.summary
        out.print(
            f"{summary['blocks']} blocks, {summary['flagged_blocks']} flagged "
            f"({summary['flagged_accounts']:,} accounts) -> {out_dir}",
            markup=False,
        )


@app.command()
def train(
    events: Annotated[
        Path, typer.Argument(help="Event log: Parquet file/dir/glob, CSV or NDJSON.")
    ],
    labels: Annotated[Path, typer.Option(help="Labels file (account_id, label).")],
    model_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (.pt).")],
    epochs: Annotated[int | None, typer.Option(help="Most epochs (train.epochs).")] = None,
    device: Annotated[
        str | None,
        typer.Option(help="auto (CUDA if present), cpu, cuda or cuda:N (train.device)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Training seed (train.seed).")] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Data config name in conf/data (column mapping), e.g. talkingdata."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing model file.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)] = False,
    set_: SetOption = None,
) -> None:
    """Train the GraphSAGE account classifier on labelled events and write a model file.

    The model scores other logs' accounts (it is inductive): pass it to `detect --model`.
    Settings: the model (network), train (training) and features (feature set) groups; see
    `graphguard config`.

    Example: graphguard train data/demo/events.parquet --labels data/demo/labels.parquet
    --out models/demo.pt
    """
    inputs = [events, labels]
    with (
        _errors(),
        _output(model_path, kind="file", inputs=inputs, overwrite=overwrite),
    ):
        from dataclasses import asdict

        from graphguard.compose import compose_config, settings
        from graphguard.pipeline.train import run_training

        cfg = compose_config(
            _overrides(
                {"data": data, "train.epochs": epochs, "train.device": device, "train.seed": seed},
                set_,
            )
        )
        s = settings(cfg)
        names = s.feature_names
        result = run_training(
            events,
            labels,
            model_path,
            s.detect,
            asdict(s.params),
            feature_names=names,
            relations=s.features.relations,
            overwrite=overwrite,
            progress=_progress(quiet),
        )
        _warn(result.warnings)
        trained = result.detector.metadata_["trained"]
        counts = ", ".join(f"{n:,} {label}" for label, n in trained["labelled"].items())
        auprc = trained["best_val_auprc"]
        out.print(
            f"trained on {counts} of {trained['n_accounts']:,} accounts "
            f"({len(names)} features, {trained['device']}); best epoch {trained['best_epoch']} "
            f"of {trained['epochs_run']}, validation AUPRC "
            f"{'n/a' if auprc is None else f'{auprc:.4f}'}, {trained['train_seconds']:.1f} s "
            f"-> {model_path}",
            markup=False,
        )


def _print_report(run_dir: Path, top: int) -> None:
    from graphguard.rundir import load_run
    from graphguard.terminal import render_terminal

    render_terminal(load_run(run_dir), out, top=top)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `detect`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown report.")] = False,
    html: Annotated[
        bool,
        typer.Option(
            "--html",
            help="Write a self-contained HTML report plus case files of the top clusters next "
            "to it (replacing earlier ones); print their paths.",
        ),
    ] = False,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="HTML report file (default RUN_DIR/report.html)."),
    ] = None,
    cases: Annotated[
        int, typer.Option(help="With --html: case files for this many top clusters.")
    ] = 10,
    truth: Annotated[
        Path | None,
        typer.Option(help="With --html: truth or labels file for precision-recall curves."),
    ] = None,
    top: Annotated[int, typer.Option(help="Clusters to show.")] = 20,
) -> None:
    """Show a run's ranked clusters (terminal table, --json, --markdown or --html).

    Example: graphguard report runs/demo --top 10
    Example: graphguard report runs/demo --html --truth data/demo/truth.parquet
    """
    report_path = out_file if out_file is not None else run_dir / "report.html"
    inputs = [*_run_files(run_dir), truth]  # the report and its case files are replaced
    with (
        _errors(),
        _output(report_path, kind="file", inputs=inputs, overwrite=True, enabled=html),
    ):
        from graphguard.report import render_json, render_markdown
        from graphguard.rundir import load_run
        from graphguard.terminal import render_terminal

        if sum((as_json, markdown, html)) > 1:
            raise UsageError("choose one of --json, --markdown and --html")
        if not html and (out_file is not None or truth is not None):
            raise UsageError("--out and --truth go with --html")
        if cases < 0:
            raise UsageError(f"--cases must be 0 or more, got {cases}")
        if html:
            from graphguard.report.html import write_html_report

            err.print(f"[dim]graphguard:[/] writing the HTML report and top {cases} case files…")
            curves = []
            if truth is not None:  # the report draws curves; evaluation computes them
                from graphguard.evaluation.evaluate import read_truth, truth_curve

                curve = truth_curve(load_run(run_dir), read_truth(truth))
                curves = [curve] if curve else []
            paths = write_html_report(run_dir, out_file, cases=cases, top=top, curves=curves)
            sys.stdout.write("".join(f"{path}\n" for path in paths))
            return
        run = load_run(run_dir)
        if as_json:
            sys.stdout.write(json.dumps(render_json(run, top=top), indent=2, default=str) + "\n")
        elif markdown:
            sys.stdout.write(render_markdown(run, top=top))
        else:
            render_terminal(run, out, top=top)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `detect`.")],
    cluster: Annotated[
        list[int] | None,
        typer.Option("--cluster", "-c", help="Cluster id to export (repeatable)."),
    ] = None,
    top: Annotated[int | None, typer.Option(help="Export the N most suspicious clusters.")] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="graphml, gexf, cytoscape, parquet or html (repeatable; default graphml).",
        ),
    ] = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Directory for cluster-<id>.<ext> files (default RUN_DIR/exports); or a file "
            "name with the format's extension for one cluster in one format.",
        ),
    ] = None,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="Replace IPs and device ids by keyed hashes (HMAC-SHA256), e.g. ip_3f9a...",
        ),
    ] = False,
    pseudonymize_accounts: Annotated[
        bool,
        typer.Option(
            "--pseudonymize-accounts",
            help="Also replace account ids and targets (implies --pseudonymize).",
        ),
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            help="Pseudonym key; better set GRAPHGUARD_PSEUDONYM_KEY, which stays out of shell "
            "history. Never written to the output."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Export clusters' subgraphs (accounts, devices, IPs, targets) for Gephi, Cytoscape, ...

    Example: graphguard export runs/demo --top 5 --format graphml --format html
    """
    with _errors():
        import time

        from graphguard.export import FORMATS, Pseudonymizer, export_clusters
        from graphguard.export.pseudonym import MIN_KEY_LENGTH, resolve_key

        chosen = formats or ["graphml"]
        unknown = [f for f in chosen if f not in FORMATS]
        if unknown:
            raise UsageError(f"unknown --format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
        if not cluster and top is None:
            raise UsageError("choose clusters with --cluster ID or --top N")
        if top is not None and top < 1:
            raise UsageError(f"--top must be at least 1, got {top}")
        pseudonymizer = None
        if pseudonymize or pseudonymize_accounts:
            try:
                secret = resolve_key(key)
            except ValueError as exc:
                raise UsageError(f"{exc} (--key or the environment variable)") from exc
            if len(secret) < MIN_KEY_LENGTH and not quiet:
                err.print(
                    f"[yellow]graphguard: the pseudonym key is shorter than {MIN_KEY_LENGTH} "
                    "characters; a short key can be guessed[/]",
                    soft_wrap=True,
                )
            pseudonymizer = Pseudonymizer(secret, accounts=pseudonymize_accounts)
        elif key is not None:
            raise UsageError("--key goes with --pseudonymize")
        start = time.perf_counter()
        paths = export_clusters(
            run_dir,
            out_path if out_path is not None else run_dir / "exports",
            cluster_ids=cluster or [],
            top=top,
            formats=chosen,
            pseudonymizer=pseudonymizer,
            overwrite=overwrite,
            progress=_progress(quiet),
        )
        sys.stdout.write("".join(f"{path}\n" for path in paths))
        if not paths and not quiet:
            err.print("[dim]graphguard:[/] the run reported no clusters; nothing exported")
        elif not quiet:
            seconds = time.perf_counter() - start
            noun = "file" if len(paths) == 1 else "files"
            err.print(f"[dim]graphguard:[/] wrote {len(paths)} {noun} in {seconds:.1f} s")


@app.command()
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `detect`.")],
    account: Annotated[str, typer.Argument(help="The account id to explain.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
    ties: Annotated[int, typer.Option(help="Strongest ties to list.")] = 8,
    shared: Annotated[int, typer.Option(help="Shared devices, IPs and targets to list.")] = 10,
) -> None:
    """Why this account: its cluster, its part in the coordination, its ties, what drove its risk.

    Example: graphguard explain runs/demo u000500e323
    """
    with _errors():
        from graphguard.report.explain import explain_account, format_explanation

        if ties < 0 or shared < 0:
            raise UsageError("--ties and --shared must be 0 or more")
        explanation = explain_account(run_dir, account, ties=ties, shared=shared)
        if as_json:
            sys.stdout.write(json.dumps(explanation, indent=2, default=str) + "\n")
        else:
            sys.stdout.write(format_explanation(explanation))


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `detect`.")],
    truth: Annotated[Path, typer.Option(help="Truth table (simulate writes truth.parquet).")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Score a run against the truth: AUPRC/AUROC, campaigns caught, false-positive rates.

    Example: graphguard evaluate runs/demo --truth data/demo/truth.parquet
    """
    with _errors():
        from graphguard.evaluation.evaluate import evaluate_run, format_evaluation

        metrics = evaluate_run(run_dir, truth)
        if as_json:
            sys.stdout.write(json.dumps(metrics, indent=2, default=str) + "\n")
        else:
            sys.stdout.write(format_evaluation(metrics).rstrip() + "\n")


@app.command("config")
def show_config(set_: SetOption = None) -> None:
    """Print the resolved configuration (with any --set overrides) as YAML.

    Example: graphguard config --set data=talkingdata --set community.resolution=0.5
    """
    with _errors():
        from omegaconf import OmegaConf

        from graphguard.compose import compose_config, settings

        cfg = compose_config(_overrides({}, set_))
        settings(cfg)  # builds every section's dataclass, so each one's checks run
        sys.stdout.write(OmegaConf.to_yaml(cfg))


# --------------------------------------------------------------------------------------------
# Casework: the case store (graphguard.casestore) behind `graphguard cases ...`

cases_app = typer.Typer(
    name="cases",
    help=(
        "Work the queue of cases: one case per campaign, synced from runs, decided by "
        "investigators, and turned into labels for `graphguard train`.\n\n"
        "The database is --db, else $GRAPHGUARD_CASES_DB, else the config's cases.db "
        "(graphguard-cases.db; --set cases.db=...): a SQLite file or a URL such as "
        "postgresql://user@host/cases.\n\n"
        "Example:\n\n"
        "  graphguard cases sync runs/day2 && graphguard cases list --status open"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(cases_app, name="cases")

#: the case database when --db is not given (before the config's cases.db)
CASES_DB_ENV = "GRAPHGUARD_CASES_DB"
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Case database: a SQLite file or a database URL (default: $GRAPHGUARD_CASES_DB, "
        "else cases.db from the config).",
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(help="Who is acting, for the audit log (default: the OS user)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _actor(actor: str | None) -> str:
    if actor is not None:
        return actor
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@contextmanager
def _case_store(db: str | None, set_: list[str] | None) -> Iterator[Any]:
    """The case store the command works on, inside `_errors`; a refused request (unknown
    verdict, label, sort; an exception that is not a member) is a usage error."""
    with _errors():
        from graphguard.casestore import CaseStore, InvalidDecision
        from graphguard.compose import compose_config, settings

        config = settings(compose_config(_overrides({}, set_))).cases
        chosen = db or os.environ.get(CASES_DB_ENV) or config.db
        try:
            with CaseStore.open(chosen, config=config) as store:
                yield store
        except InvalidDecision as exc:
            raise UsageError(str(exc)) from exc


def _cell(value: object) -> Any:
    """A data value as a rich Text: never parsed for markup, control characters inert."""
    from rich.text import Text

    from graphguard.report.text import plain

    return Text(plain(value))


def _line(*parts: object) -> None:
    """One line of data on stdout, printed literally."""
    from rich.text import Text

    from graphguard.report.text import plain

    out.print(Text(" ".join(plain(p) if not isinstance(p, Text) else p.plain for p in parts)))


def _jsonable(value: Any) -> Any:
    import dataclasses
    from datetime import datetime

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(value), indent=2, ensure_ascii=True) + "\n")


@cases_app.command("sync")
def cases_sync(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by detect.")],
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
    set_: SetOption = None,
) -> None:
    """Open a case for each new campaign of a run, update the known ones, and re-queue decided
    ones that grew (cases.requeue_min_new / cases.requeue_min_share). Syncing a run twice
    changes nothing.

    Example: graphguard cases sync runs/day2 --db cases.db
    """
    with _case_store(db, set_) as store:
        summary = store.sync_run(run_dir, actor=_actor(actor))
        if as_json:
            _print_json({**_jsonable(summary), "to_review": summary.to_review})
            return
        if summary.already_synced:
            _line("run", summary.run, "was already synced: nothing changed")
            return
        _line(
            f"run {summary.run}: {summary.campaigns} campaigns, {len(summary.opened)} new, "
            f"{len(summary.updated)} known ({len(summary.requeued)} re-queued as grown, "
            f"{len(summary.kept_decided)} decided and unchanged); "
            f"{len(summary.to_review)} to review"
        )


@cases_app.command("list")
def cases_list(
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="Only cases in this status: open, in_review, confirmed, dismissed (repeatable)."
        ),
    ] = None,
    sort: Annotated[
        str, typer.Option(help="suspicion, size, growth, status or updated.")
    ] = "suspicion",
    limit: Annotated[int | None, typer.Option(min=0, help="At most this many cases.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    set_: SetOption = None,
) -> None:
    """The queue of cases, most suspicious first (or --sort).

    Example: graphguard cases list --status open --sort growth
    """
    with _case_store(db, set_) as store:
        cases = store.list_cases(status=status, sort=sort, limit=limit)
        if as_json:
            _print_json(cases)
            return
        if not cases:
            _line("no cases" + (f" with status {', '.join(status)}" if status else ""))
            return
        from rich.table import Table

        from graphguard.report.text import fixed

        table = Table(show_header=True, header_style="bold", caption=f"{len(cases)} cases")
        for name in (
            "case",
            "status",
            "suspicion",
            "size",
            "growth",
            "label",
            "assignee",
            "campaign",
            "last run",
        ):
            table.add_column(
                name,
                justify="right" if name in ("suspicion", "size", "growth") else "left",
                overflow="fold",
            )
        for c in cases:
            table.add_row(
                _cell(c.id),
                _cell(c.status),
                _cell(fixed(c.suspicion)),
                _cell(c.size),
                _cell(c.growth),
                _cell(c.label or (f"({c.predicted_label})" if c.predicted_label else None)),
                _cell(c.assignee),
                _cell(c.campaign_status),
                _cell(c.last_seen_run),
            )
        out.print(table)


@cases_app.command("show")
def cases_show(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case (its campaign_id).")],
    members: Annotated[int, typer.Option(min=0, help="Members listed (all with --json).")] = 50,
    db: DbOption = None,
    as_json: JsonOption = False,
    set_: SetOption = None,
) -> None:
    """A case: its status, verdict, members, exceptions, notes, runs and audit log.

    Example: graphguard cases show c-20261201-0003
    """
    with _case_store(db, set_) as store:
        case = store.get_case(case_id)
        if as_json:
            _print_json({**_jsonable(case), "summary": _jsonable(case.summary)})
            return
        from graphguard.report.text import fixed

        _line("case", case.id)
        _line(
            f"status {case.status} · verdict {case.verdict or '-'} · label "
            f"{case.label or '-'} · assignee {case.assignee or '-'}"
        )
        _line(
            f"suspicion {fixed(case.suspicion)} · size {case.size} · growth {case.growth} · "
            f"campaign {case.campaign_status or '-'} · predicted {case.predicted_label or '-'}"
        )
        _line(
            f"seen in {len(case.runs)} runs: first {case.first_seen_run}, last {case.last_seen_run}"
        )
        shown = case.members[:members]
        _line(
            f"members ({len(case.members)}):",
            ", ".join(shown)
            + (
                f", … {len(case.members) - len(shown)} more"
                if len(shown) < len(case.members)
                else ""
            ),
        )
        if case.decided_members:
            new = case.new_since_decision
            _line(f"decided on {len(case.decided_members)} members; {len(new)} new since")
        if case.exceptions:
            _line(f"exceptions ({len(case.exceptions)}):", ", ".join(case.exceptions))
        for note in case.notes:
            _line(f"note {note.id} by", note.author, f"at {note.at:%Y-%m-%d %H:%M}:", note.text)
        _line("audit:")
        for entry in case.audit:
            _line(
                f"  {entry.at:%Y-%m-%d %H:%M:%S}",
                entry.actor,
                entry.action,
                json.dumps(entry.detail, ensure_ascii=True, sort_keys=True),
            )


@cases_app.command("decide")
def cases_decide(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case (its campaign_id).")],
    verdict: Annotated[str, typer.Option(help="confirmed or dismissed.")],
    label: Annotated[
        str | None,
        typer.Option(
            help="With confirmed: bot_ring or fake_engagement (default: the case's "
            "predicted label)."
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note recorded with the decision.")] = None,
    except_: Annotated[
        list[str] | None,
        typer.Option(
            "--except",
            help="With confirmed: a member that is a real user, labelled benign (repeatable).",
        ),
    ] = None,
    db: DbOption = None,
    actor: ActorOption = None,
    set_: SetOption = None,
) -> None:
    """Decide a case: confirmed (its members get the label, exceptions benign) or dismissed
    (its members are benign).

    Example: graphguard cases decide c-0003 --verdict confirmed --label bot_ring --except u17
    """
    with _case_store(db, set_) as store:
        case = store.decide(
            case_id,
            verdict=verdict,
            label=label,
            note=note,
            exceptions=except_ or (),
            actor=_actor(actor),
        )
        _line(
            f"case {case.id}: {case.verdict}"
            + (f" as {case.label}" if case.verdict == "confirmed" else "")
            + f" on {len(case.decided_members)} members"
            + (f", {len(case.exceptions)} exceptions" if case.exceptions else "")
        )


@cases_app.command("assign")
def cases_assign(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case (its campaign_id).")],
    to: Annotated[str, typer.Option(help="The investigator (empty: unassign).")],
    db: DbOption = None,
    actor: ActorOption = None,
    set_: SetOption = None,
) -> None:
    """Give a case to an investigator.

    Example: graphguard cases assign c-20261201-0003 --to ana
    """
    with _case_store(db, set_) as store:
        case = store.assign(case_id, to, actor=_actor(actor))
        _line(f"case {case.id}: assigned to", case.assignee or "nobody")


@cases_app.command("note")
def cases_note(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case (its campaign_id).")],
    text: Annotated[str, typer.Argument(help="The note.")],
    db: DbOption = None,
    actor: ActorOption = None,
    set_: SetOption = None,
) -> None:
    """Add a note to a case.

    Example: graphguard cases note c-20261201-0003 "same device farm as last week"
    """
    with _case_store(db, set_) as store:
        note = store.add_note(case_id, text, actor=_actor(actor))
        _line(f"case {case_id}: note {note.id} added")


@cases_app.command("labels")
def cases_labels(
    out_path: Annotated[
        Path, typer.Option("--out", help="Labels file to write (.parquet or .csv).")
    ],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
    db: DbOption = None,
    set_: SetOption = None,
) -> None:
    """Write the decisions as a labels file (account_id, label) that `graphguard train
    --labels` reads: confirmed members get the verdict's label, dismissed members and
    exceptions benign; an account decided twice takes its latest decision.

    Example: graphguard cases labels --out labels/decided.parquet
    """
    with _case_store(db, set_) as store, _output(out_path, kind="file", overwrite=overwrite):
        path, counts = store.write_labels(out_path)
        err.print(
            f"{sum(counts.values()):,} labels ("
            + ", ".join(f"{n:,} {label}" for label, n in counts.items())
            + f") -> {path}",
            markup=False,
            highlight=False,
        )


# --------------------------------------------------------------------------------------------
# The review console (graphguard.console): the queue as a local web app

#: the access token when --token is not given (kept out of the process list)
REVIEW_TOKEN_ENV = "GRAPHGUARD_REVIEW_TOKEN"


@app.command()
def review(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to review (synced first).")],
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 8765,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Anything beyond loopback (127.0.0.1, ::1, localhost) "
            "needs --token."
        ),
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            envvar=REVIEW_TOKEN_ENV,
            show_envvar=True,
            help="Access token every request must carry (the printed link sets it as a "
            "cookie); 'generate' makes one. Required beyond loopback.",
        ),
    ] = None,
    db: DbOption = None,
    actor: ActorOption = None,
    set_: SetOption = None,
) -> None:
    """Serve the review console: the queue of cases (sortable by suspicion, size, growth,
    status), each case's file with decision forms (confirm with a label, dismiss, in review,
    assign, notes, per-member exceptions), bulk decisions, and the audit log. The run is synced
    into the case database first. Stop with Ctrl-C.

    Example: graphguard review runs/day2 --db cases.db
    Example: graphguard review runs/day2 --host 0.0.0.0 --token generate
    """
    from graphguard.console import new_token, open_console

    with _case_store(db, set_) as store:
        if token == "generate":
            token = new_token()
        who = _actor(actor)

        def synced(summary: Any) -> None:
            err.print(
                f"graphguard review: synced {summary.run}: {len(summary.to_review)} to review, "
                f"{summary.campaigns} campaigns",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

        console = open_console(
            store, run_dir, host=host, port=port, token=token, actor=who, on_sync=synced
        )
        # The link on stdout (a script can read it), the rest on stderr.
        sys.stdout.write(console.url + "\n")
        sys.stdout.flush()
        err.print(
            f"graphguard review: serving {console.base} as {who}"
            + (" (access token required)" if token else " (loopback only)")
            + "; Ctrl-C stops",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        try:
            console.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            console.shutdown()


# --------------------------------------------------------------------------------------------
# Supervision (`graphguard.launch`: the watching process never imports this module)

#: the console script of an installation made before it moved to `graphguard.launch.main`
main = launch_main


if __name__ == "__main__":
    main()
