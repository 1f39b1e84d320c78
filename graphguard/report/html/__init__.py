"""Self-contained HTML: a case file per cluster and a report per run.

A case file shows one cluster as an investigator needs it: the evidence in plain words, the graph
of its accounts and the devices, IPs and targets they share (laid out here, in Python, without
randomness, so the same run gives the same picture, and drawn by the vendored Cytoscape.js),
its activity over time, every member with its scores and an explanation, and the parameters that
produced it. The run report ranks the clusters, draws the distributions of their sizes and
suspicion and, when labels are known, precision-recall curves, and links to the case files of the
top clusters.

Pages work offline and alone: the CSS and the small script in ``static/`` are inlined (and, on
case files, ``vendor/cytoscape.min.js``), charts are inline SVG, nothing is fetched. Every string
from the logs is attacker-controlled:

* text and attribute values go through `esc` (``html.escape`` with quotes), after control and
  bidirectional-override characters are made inert;
* data for the script is JSON inside ``<script type="application/json">`` with ``<``, ``>``,
  ``&``, U+2028 and U+2029 written as ``\\uXXXX``, so no string can close the element;
* the script builds the DOM with ``textContent`` only, and hands labels to Cytoscape.js as
  data (drawn on a canvas as text; element ids are node indices, never labels);
* a Content-Security-Policy admits only the page's own scripts (by their hashes), inline styles and
  ``data:`` images, and no network at all: even markup that slipped through could neither run
  nor load anything.

Modules, each importing only those above it:

* `escape`: `esc`, `inert`, `script_json` and the number and time formatters;
* `page`: the page frame with its CSP and inlined ``static/`` assets, small widgets;
* `charts`: bar and line charts, the timeline, legends;
* `graph`: which nodes and edges a case graph draws, their layout, the data the script draws;
* `case`: the case file page (the evidence sentences are detection's, stored in the run);
* `run`: the run report page and `write_html_report`.
"""

from graphguard.report.html.case import evidence_sentences, render_case_html
from graphguard.report.html.charts import bar_chart, line_chart, timeline_html
from graphguard.report.html.escape import esc, inert, script_json
from graphguard.report.html.graph import (
    LABELLED_ENTITIES,
    LAYOUT_SEED,
    LAYOUTS,
    MAX_DRAWN_ACCOUNTS,
    MAX_DRAWN_ENTITIES,
    MAX_DRAWN_TIES,
    MAX_DRAWN_USES,
    GraphView,
    force_layout,
    graph_data,
    graph_view,
    kind_layout,
    place_nodes,
)
from graphguard.report.html.page import parameters_html
from graphguard.report.html.run import render_run_html, write_html_report

__all__ = [
    "LABELLED_ENTITIES",
    "LAYOUT_SEED",
    "LAYOUTS",
    "MAX_DRAWN_ACCOUNTS",
    "MAX_DRAWN_ENTITIES",
    "MAX_DRAWN_TIES",
    "MAX_DRAWN_USES",
    "GraphView",
    "bar_chart",
    "esc",
    "evidence_sentences",
    "force_layout",
    "graph_data",
    "graph_view",
    "inert",
    "kind_layout",
    "line_chart",
    "parameters_html",
    "place_nodes",
    "render_case_html",
    "render_run_html",
    "script_json",
    "timeline_html",
    "write_html_report",
]
