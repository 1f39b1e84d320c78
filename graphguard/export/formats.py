"""Write a case in the formats investigators open it with.

* GraphML and GEXF (via networkx), for Gephi, yEd, Cytoscape desktop: typed nodes (attribute
  ``type``), scalar attributes only. Datetimes become ISO-8601 strings, nulls and NaN are left
  out. XML 1.0 cannot carry a few characters, so every string (node ids, labels, edge ends and
  ids, every string attribute, the graph's own) goes through one *injective* escaping,
  `xml_escape` (its description, `ID_ESCAPING`, is the graph attribute ``id_escaping`` of a
  GraphML file and ends the GEXF meta description):

  - a backslash is doubled: ``\\`` -> ``\\\\``;
  - a C0 control other than tab and newline (carriage return included, which XML readers
    normalise away) becomes ``\\xNN`` (two lower-case hex digits);
  - U+FFFE, U+FFFF and lone surrogates become ``\\uNNNN`` (four lower-case hex digits);
  - every other character, markup included, is written as it is.

  As a backslash in the output always starts one of these three escapes, `xml_unescape` gives
  back the original string, and two different accounts can never become one node: ``x`` +
  NUL is written ``x\\x00``, an account spelled ``x\\x00`` is written ``x\\\\x00``. Ordinary
  ids (no backslash, no control character) are written unchanged.
* Cytoscape.js JSON: ``{"data": {...}, "elements": {"nodes": [{"data": {"id", ...}}],
  "edges": [{"data": {"id", "source", "target", ...}}]}}``.
* Parquet: the node table and the edge table of `case_tables`, columns typed.
* HTML: the self-contained case file of `graphguard.report.html`.

Every file is written under a temporary name beside its destination and then renamed, so a
reader never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl
import polars.selectors as cs
from networkx.readwrite.gexf import GEXFWriter

from graphguard.export.case import case_tables, cluster_attributes
from graphguard.outputs import publish_mode, temp_prefix, write_parquet_atomic, write_text_atomic
from graphguard.rundir.cases import Case

#: Format name -> file name suffixes it writes (after "cluster-<id>").
FORMATS: dict[str, tuple[str, ...]] = {
    "graphml": (".graphml",),
    "gexf": (".gexf",),
    "cytoscape": (".cyjs",),
    "parquet": (".nodes.parquet", ".edges.parquet"),
    "html": (".html",),
}

# XML 1.0 forbids most C0 controls (a carriage return would be normalised away on reading),
# U+FFFE and U+FFFF; lone surrogates cannot be encoded. The backslash is the escape character.
_XML_ESCAPED = re.compile(r"[\\\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
# The same set for Polars' regex engine (which cannot hold surrogates: Polars strings never do).
_XML_ESCAPED_RUST = r"[\\\x00-\x08\x0b-\x1f\x{FFFE}\x{FFFF}]"
_XML_ESCAPE_SEQUENCE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")

#: How strings are escaped in GraphML and GEXF exports (written into each file).
ID_ESCAPING = (
    "graphguard-xml-escape/1: a backslash is written \\\\; C0 controls other than tab and "
    "newline as \\xNN; U+FFFE, U+FFFF and surrogates as \\uNNNN (lower-case hex); every other "
    "character as is. Decode by reading each backslash escape back."
)


def case_stem(case: Case) -> str:
    return f"cluster-{case.cluster_id}"


def output_paths(case: Case, fmt: str, out_dir: Path) -> list[Path]:
    return [out_dir / f"{case_stem(case)}{suffix}" for suffix in FORMATS[fmt]]


# --------------------------------------------------------------------------------------------
# Scalar attributes


def _scalar(value: Any) -> Any:
    """A value as a JSON/XML-friendly scalar; None for null or NaN (left out)."""
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):  # e.g. previous_campaigns: GraphML/GEXF hold scalars
        items = [_scalar(v) for v in value]
        return ", ".join(str(v) for v in items if v is not None)
    return value


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_escape(text: str) -> str:
    """``text`` as it is written in GraphML and GEXF; injective, inverse `xml_unescape`."""
    return _XML_ESCAPED.sub(_escape_char, text)


def _unescape_sequence(match: re.Match[str]) -> str:
    body = match.group(1)
    return "\\" if body == "\\" else chr(int(body[1:], 16))


def xml_unescape(text: str) -> str:
    """The original string of an id, label or attribute read back from a GraphML/GEXF export."""
    return _XML_ESCAPE_SEQUENCE.sub(_unescape_sequence, text)


def _xml_safe(value: Any) -> Any:
    return xml_escape(value) if isinstance(value, str) else value


def _xml_safe_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """String columns through `xml_escape`; a vectorised scan finds the rare columns that need
    it (a backslash or a control character), so clean data costs one regex pass per column."""
    dirty = [
        name
        for name in frame.select(cs.string()).columns
        if frame.get_column(name).str.contains(_XML_ESCAPED_RUST).any()
    ]
    return frame.with_columns(
        pl.col(name).map_elements(xml_escape, return_dtype=pl.String) for name in dirty
    )


def _records(frame: pl.DataFrame) -> Iterator[dict[str, Any]]:
    """Rows with temporal columns as ISO strings and nulls/NaN dropped."""
    frame = frame.with_columns(
        cs.datetime().dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%:z"),
        cs.float().fill_nan(None),
    )
    for row in frame.iter_rows(named=True):
        yield {key: value for key, value in row.items() if value is not None}


def _graph_attributes(case: Case, clean: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
    return {
        key: clean(value)
        for key, value in ((k, _scalar(v)) for k, v in cluster_attributes(case).items())
        if value is not None
    }


# --------------------------------------------------------------------------------------------
# networkx: GraphML and GEXF


def to_networkx(case: Case, *, xml_safe: bool = True, edge_ids: bool = True) -> nx.Graph:
    """The case as an undirected networkx graph with typed nodes and scalar attributes.

    Node keys are the typed node ids (``account:<id>``); ``label`` holds the raw id. The graph's
    own attributes hold the cluster's row (suspicion, evidence, measures). With ``xml_safe``
    every string is passed through `xml_escape` (and ``id_escaping`` says how).
    """
    nodes, edges = case_tables(case)
    if xml_safe:
        nodes, edges = _xml_safe_columns(nodes), _xml_safe_columns(edges)
    clean = _xml_safe if xml_safe else (lambda v: v)
    graph = nx.Graph()
    graph.graph.update(_graph_attributes(case, clean))
    graph.graph["name"] = clean(f"graphguard cluster {case.cluster_id}")
    if xml_safe:
        graph.graph["id_escaping"] = ID_ESCAPING
    graph.add_nodes_from((row.pop("node_id"), row) for row in _records(nodes))
    edges = edges.rename({"edge_id": "id"}) if edge_ids else edges.drop("edge_id")
    graph.add_edges_from((row.pop("source"), row.pop("target"), row) for row in _records(edges))
    return graph


@contextmanager
def _atomic_binary(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_graphml(case: Case, path: Path) -> Path:
    # No edge ids: GraphML does not need them, and networkx would write each one twice (as the
    # XML id and as a data element), a tenth of the file.
    graph = to_networkx(case, edge_ids=False)
    with _atomic_binary(path) as fh:
        nx.write_graphml(graph, fh)
    return path


def write_gexf(case: Case, path: Path) -> Path:
    graph = to_networkx(case)
    writer = GEXFWriter(encoding="utf-8", prettyprint=False, version="1.2draft")
    writer.add_graph(graph)
    # GEXF has no graph-level attributes; Gephi shows the meta description instead.
    meta = writer.xml.find("meta")
    if meta is not None:
        cluster = case.cluster
        ET.SubElement(meta, "description").text = (
            _xml_safe(
                f"graphguard cluster {case.cluster_id}: suspicion {cluster.get('suspicion')}, "
                f"predicted {cluster.get('predicted_label')}, {cluster.get('size')} accounts. "
                f"Evidence: {cluster.get('evidence')}"
            )
            + f" Strings: {ID_ESCAPING}"
        )
    with _atomic_binary(path) as fh:
        writer.write(fh)
    return path


# --------------------------------------------------------------------------------------------
# Cytoscape.js


def cytoscape_elements(case: Case) -> dict[str, Any]:
    """The case as a Cytoscape.js document (also what Cytoscape desktop imports as .cyjs)."""
    nodes, edges = case_tables(case)
    node_elements = []
    for row in _records(nodes):
        row["id"] = row.pop("node_id")
        node_elements.append({"data": row, "classes": row["type"]})
    edge_elements = []
    for row in _records(edges):
        row["id"] = row.pop("edge_id")
        edge_elements.append({"data": row, "classes": row["edge_type"]})
    return {
        "format_version": "1.0",
        "generated_by": f"graphguard {case.meta.get('graphguard_version', '')}".strip(),
        "target_cytoscapejs_version": "~3",
        "data": _graph_attributes(case),
        "elements": {"nodes": node_elements, "edges": edge_elements},
    }


def write_cytoscape(case: Case, path: Path) -> Path:
    text = json.dumps(cytoscape_elements(case), ensure_ascii=False, allow_nan=False)
    return write_text_atomic(text + "\n", path)


# --------------------------------------------------------------------------------------------
# Parquet and HTML


def write_parquet_tables(case: Case, nodes_path: Path, edges_path: Path) -> list[Path]:
    nodes, edges = case_tables(case)
    return [write_parquet_atomic(nodes, nodes_path), write_parquet_atomic(edges, edges_path)]


def write_html(case: Case, path: Path) -> Path:
    from graphguard.report.html import render_case_html

    return write_text_atomic(render_case_html(case), path)


def write_format(case: Case, fmt: str, paths: list[Path]) -> list[Path]:
    """Write one case in one format to ``paths`` (one per suffix of `FORMATS`)."""
    if fmt == "graphml":
        return [write_graphml(case, paths[0])]
    if fmt == "gexf":
        return [write_gexf(case, paths[0])]
    if fmt == "cytoscape":
        return [write_cytoscape(case, paths[0])]
    if fmt == "parquet":
        return write_parquet_tables(case, *paths)
    if fmt == "html":
        return [write_html(case, paths[0])]
    raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def write_case(case: Case, fmt: str, out_dir: Path) -> list[Path]:
    """Write one case in one format into ``out_dir`` as ``cluster-<id><suffix>``."""
    return write_format(case, fmt, output_paths(case, fmt, out_dir))
