"""Per-cluster subgraph exports for investigators: GraphML, GEXF, Cytoscape.js, Parquet, HTML.

`export_clusters` is the one call the CLI makes: cut the cases out of a run directory, optionally
pseudonymise them, and write each in each requested format.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from graphguard.errors import OutputError, OutputExistsError
from graphguard.export.case import ACCOUNT_NODE, NODE_TYPES, case_tables
from graphguard.export.formats import (
    FORMATS,
    ID_ESCAPING,
    cytoscape_elements,
    output_paths,
    to_networkx,
    write_case,
    write_format,
    xml_escape,
    xml_unescape,
)
from graphguard.export.pseudonym import KEY_ENV, Pseudonymizer, resolve_key
from graphguard.outputs import output_guard
from graphguard.rundir import META_FILE, REJECTED_FILE, TABLES, Run, load_run
from graphguard.rundir.cases import Case, entity_nodes, load_cases, top_cluster_ids
from graphguard.schema import ACCOUNT, ENTITY_KINDS

__all__ = [
    "ACCOUNT_NODE",
    "ENTITY_KINDS",
    "FORMATS",
    "ID_ESCAPING",
    "KEY_ENV",
    "NODE_TYPES",
    "Case",
    "Pseudonymizer",
    "case_tables",
    "cytoscape_elements",
    "entity_nodes",
    "export_clusters",
    "load_cases",
    "pseudonymize_cases",
    "resolve_key",
    "to_networkx",
    "top_cluster_ids",
    "write_case",
    "xml_escape",
    "xml_unescape",
]


def pseudonymize_cases(run: Run, cases: list[Case], pseudonymizer: Pseudonymizer) -> list[Case]:
    run_accounts = run.accounts.get_column(ACCOUNT) if pseudonymizer.accounts else None
    return [pseudonymizer.apply(case, run_accounts=run_accounts) for case in cases]


def export_clusters(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    cluster_ids: Sequence[int] = (),
    top: int | None = None,
    formats: Sequence[str] = ("graphml",),
    pseudonymizer: Pseudonymizer | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the cases of ``cluster_ids`` and/or the ``top`` most suspicious clusters.

    Files are named ``cluster-<id><suffix>`` in ``out_dir`` (see `FORMATS`). When one cluster
    goes out in one single-file format and ``out_dir`` ends in that format's suffix (e.g.
    ``case.graphml``), it is the file written.

    Raises:
        ValueError: no cluster chosen, an unknown format or cluster id.
        OutputExistsError: a file to write exists and ``overwrite`` is False (nothing is
            written then).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    run = load_run(run_dir)
    wanted = list(cluster_ids)
    if top is not None:
        wanted += top_cluster_ids(run, top)
    if not wanted:
        if top is not None:
            return []  # nothing suspicious is an answer too: the top clusters of none are none
        raise ValueError("choose clusters: give cluster ids or a number of top clusters")
    cases = load_cases(run, wanted)
    if pseudonymizer is not None:
        cases = pseudonymize_cases(run, cases, pseudonymizer)
    out = Path(out_dir)
    formats = list(dict.fromkeys(formats))
    tasks = [(case, fmt, output_paths(case, fmt, out)) for case in cases for fmt in formats]
    suffixes = FORMATS[formats[0]]
    single = len(tasks) == 1 and len(suffixes) == 1 and out.name.endswith(suffixes[0])
    if single:
        tasks = [(tasks[0][0], tasks[0][1], [out])]
    elif out.exists() and not out.is_dir():
        raise ValueError(f"{out}: not a directory (a file name works for one cluster and format)")
    elif not out.is_dir() and out.name.endswith(_SUFFIXES):
        n_files = sum(len(paths) for _, _, paths in tasks)
        raise OutputError(
            out,
            f"names a file, but {n_files} files would be written "
            "(a file name works for one cluster in one format; give a directory)",
        )
    if not overwrite:
        for _, _, paths in tasks:
            for path in paths:
                if os.path.lexists(path):
                    raise OutputExistsError(path)
    inputs = [run.path / name for name in (*TABLES, REJECTED_FILE, META_FILE)]
    with output_guard(out, kind="file" if single else "folder", inputs=inputs, overwrite=True):
        return _write_tasks(tasks, formats, progress)


#: every suffix an export file ends in: an --out ending in one names a file, not a directory
_SUFFIXES = tuple(suffix for suffixes in FORMATS.values() for suffix in suffixes)


def _write_tasks(
    tasks: list[tuple[Case, str, list[Path]]],
    formats: list[str],
    progress: Callable[[str], None] | None,
) -> list[Path]:
    written: dict[int, list[Path]] = {}
    workers = _workers(tasks)
    if workers > 1:
        if progress:
            progress(f"writing {len(tasks)} exports in {workers} processes")
        # Biggest first, so no worker is left with a large case at the end. Spawned, not forked:
        # a forked child can deadlock on a lock Polars' thread pool held in the parent.
        order = sorted(range(len(tasks)), key=lambda i: -_task_rows(tasks[i]))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = pool.map(_write_task, [tasks[i] for i in order])
            for index, paths in zip(order, results, strict=True):
                written[index] = paths
    else:
        for index, task in enumerate(tasks):
            if progress and task[1] == formats[0]:
                progress(f"cluster {task[0].cluster_id}: {', '.join(formats)}")
            written[index] = _write_task(task)
    return [path for index in range(len(tasks)) for path in written[index]]


#: Rows (edges) from which writing XML formats is worth spreading over processes: networkx
#: serialises GraphML and GEXF attribute by attribute in Python (~50k edges a second).
PARALLEL_MIN_ROWS = 40_000
_SLOW_FORMATS = ("graphml", "gexf", "html")


def _task_rows(task: tuple[Case, str, list[Path]]) -> int:
    case, fmt, _ = task
    if fmt not in _SLOW_FORMATS:
        return 0
    return case.entity_edges.height + case.account_edges.height


def _workers(tasks: list[tuple[Case, str, list[Path]]]) -> int:
    rows = sum(_task_rows(task) for task in tasks)
    if rows < PARALLEL_MIN_ROWS or len(tasks) < 2:
        return 1
    return max(1, min(os.cpu_count() or 1, len(tasks), 8))


def _write_task(task: tuple[Case, str, list[Path]]) -> list[Path]:
    case, fmt, paths = task
    return write_format(case, fmt, paths)
