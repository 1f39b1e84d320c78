"""Case exports: GraphML, GEXF, Cytoscape.js JSON and Parquet, hostile ids, pseudonyms, the CLI.

Run directories come from the real pipeline: a hand-made log whose planted ring uses hostile
account ids, devices, IP and targets, and a small simulated world.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from typer.testing import CliRunner

from graphguard import schema
from graphguard.cli import app
from graphguard.errors import OutputExistsError
from graphguard.export import (
    Pseudonymizer,
    case_tables,
    cytoscape_elements,
    export_clusters,
    load_cases,
    top_cluster_ids,
)
from graphguard.rundir import load_run
from tests.worlds import (
    HOSTILE_ACCOUNTS,
    HOSTILE_DEVICE,
    HOSTILE_IP,
    HOSTILE_TARGET,
    HTML_ID,
    QUOTE_ID,
    RING_SIZE,
    SCRIPT_ID,
    hostile_cluster,
)

runner = CliRunner(env={"GRAPHGUARD_DEBUG": None, "GRAPHGUARD_PSEUDONYM_KEY": None})


def export_one(run_dir: Path, cluster: int, fmt: str, out: Path, **kw) -> list[Path]:
    return export_clusters(run_dir, out, cluster_ids=[cluster], formats=[fmt], **kw)


# ------------------------------------------------------------------------------ the world


def test_hostile_ring_is_one_cluster_with_its_infrastructure(hostile_run: Path) -> None:
    case = load_cases(hostile_run, [hostile_cluster(hostile_run)])[0]
    members = set(case.members[schema.ACCOUNT])
    assert set(HOSTILE_ACCOUNTS) <= members
    assert len(members) == RING_SIZE
    entities = set(zip(case.entity_edges["kind"], case.entity_edges["entity"], strict=True))
    assert {("device", HOSTILE_DEVICE), ("ip", HOSTILE_IP), ("target", HOSTILE_TARGET)} <= entities


# ---------------------------------------------------------------------- node and edge tables


def test_case_tables_hold_typed_nodes_and_both_kinds_of_edges(hostile_run: Path) -> None:
    case = load_cases(hostile_run, [hostile_cluster(hostile_run)])[0]
    nodes, edges = case_tables(case)
    assert nodes["node_id"].n_unique() == nodes.height
    counts = dict(nodes.group_by("type").len().iter_rows())
    assert counts["account"] == RING_SIZE
    assert counts["device"] == 2 and counts["ip"] == 1
    assert counts["target"] == 8
    assert set(edges["source"]) | set(edges["target"]) <= set(nodes["node_id"])
    kinds = set(edges["edge_type"])
    assert kinds == {"account-device", "account-ip", "account-target", "account-account"}
    ties = edges.filter(pl.col("edge_type") == "account-account")
    assert ties.height > 0 and ties["relation"].is_not_null().all()
    assert ties["weight"].min() > 0
    uses = edges.filter(pl.col("edge_type") != "account-account")
    assert uses["n_events"].sum() == case.members["n_events"].sum() * 3  # device, IP, target


def test_an_unknown_cluster_is_named(hostile_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cluster 4242 is not in clusters\.parquet"):
        export_clusters(hostile_run, tmp_path, cluster_ids=[4242])


# ------------------------------------------------------------------------------ GraphML and GEXF


def check_graph(graph: nx.Graph, nodes: pl.DataFrame, edges: pl.DataFrame) -> None:
    """Every node type and attribute of the tables is in the graph read back."""
    assert graph.number_of_nodes() == nodes.height
    assert graph.number_of_edges() == edges.height
    types = nx.get_node_attributes(graph, "type")
    assert set(types.values()) == {"account", "device", "ip", "target"}
    for row in nodes.to_dicts():
        data = graph.nodes[row["node_id"]]
        for key, value in row.items():
            if key == "node_id" or value is None:
                continue
            if isinstance(value, datetime):
                assert datetime.fromisoformat(data[key]) == value, key
            elif isinstance(value, float):
                assert math.isclose(data[key], value, rel_tol=1e-12), key
            else:
                assert data[key] == value, key
    account = next(d for _, d in graph.nodes(data=True) if d["type"] == "account")
    for key in ("risk", "score_benign", "score_bot_ring", "predicted_label", "cluster_id"):
        assert key in account
    tie = next(d for *_, d in graph.edges(data=True) if d["edge_type"] == "account-account")
    assert {"relation", "sync_weight", "device_weight", "weight"} <= set(tie)
    use = next(d for *_, d in graph.edges(data=True) if d["edge_type"] == "account-device")
    datetime.fromisoformat(use["first_seen"])
    assert use["n_events"] >= 1


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_xml_formats_load_back_intact(simulated_run: Path, tmp_path: Path, fmt: str) -> None:
    cluster = top_cluster_ids(load_run(simulated_run), 1)[0]
    [path] = export_one(simulated_run, cluster, fmt, tmp_path)
    assert path.name == f"cluster-{cluster}.{fmt}"
    graph = nx.read_graphml(path) if fmt == "graphml" else nx.read_gexf(path)
    nodes, edges = case_tables(load_cases(simulated_run, [cluster])[0])
    check_graph(graph, nodes, edges)
    if fmt == "graphml":
        row = (
            load_run(simulated_run)
            .clusters.filter(pl.col("cluster_id") == cluster)
            .row(0, named=True)
        )
        assert graph.graph["cluster_id"] == cluster
        assert graph.graph["evidence"] == row["evidence"]
        assert math.isclose(graph.graph["suspicion"], row["suspicion"])
    else:
        assert f"cluster {cluster}" in path.read_text(encoding="utf-8").split("</meta>")[0]


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_xml_formats_keep_hostile_ids_as_data(hostile_run: Path, tmp_path: Path, fmt: str) -> None:
    [path] = export_one(hostile_run, hostile_cluster(hostile_run), fmt, tmp_path)
    graph = nx.read_graphml(path) if fmt == "graphml" else nx.read_gexf(path)
    labels = {(d["type"], d["label"]) for _, d in graph.nodes(data=True)}
    for account in (HTML_ID, SCRIPT_ID, QUOTE_ID):
        assert ("account", account) in labels
        assert f"account:{account}" in graph
    assert ("device", HOSTILE_DEVICE) in labels
    assert ("ip", HOSTILE_IP) in labels
    assert ("target", HOSTILE_TARGET) in labels
    # XML 1.0 cannot carry an escape character; it is written out visibly instead.
    assert ("account", "evil\\x1b[31mred") in labels
    text = path.read_text(encoding="utf-8")
    assert "<img" not in text and "<script" not in text and "<svg onload" not in text


# ------------------------------------------------------------------------------ Cytoscape.js


def validate_cytoscape(document: dict) -> None:
    """The shape Cytoscape.js's `elements` option and Cytoscape desktop's .cyjs import expect."""
    assert set(document["elements"]) == {"nodes", "edges"}
    nodes, edges = document["elements"]["nodes"], document["elements"]["edges"]
    ids = [n["data"]["id"] for n in nodes]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids), "node ids must be unique"
    edge_ids = [e["data"]["id"] for e in edges]
    assert all(isinstance(i, str) and i for i in edge_ids)
    assert len(set(edge_ids)) == len(edge_ids) and not set(edge_ids) & set(ids)
    known = set(ids)
    for edge in edges:
        assert edge["data"]["source"] in known and edge["data"]["target"] in known
    for element in nodes + edges:
        assert set(element) <= {"data", "classes", "position", "group"}
        for value in element["data"].values():
            assert value is None or isinstance(value, str | int | float | bool), value
            assert not (isinstance(value, float) and not math.isfinite(value))
    assert isinstance(document.get("data", {}), dict)


def test_cytoscape_json_validates_and_round_trips(hostile_run: Path, tmp_path: Path) -> None:
    cluster = hostile_cluster(hostile_run)
    [path] = export_one(hostile_run, cluster, "cytoscape", tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    validate_cytoscape(document)
    assert document == json.loads(
        json.dumps(cytoscape_elements(load_cases(hostile_run, [cluster])[0]))
    )
    labels = {n["data"]["label"] for n in document["elements"]["nodes"]}
    assert set(HOSTILE_ACCOUNTS) <= labels  # exact, control character included
    assert {HOSTILE_DEVICE, HOSTILE_IP, HOSTILE_TARGET} <= labels
    assert document["data"]["cluster_id"] == cluster
    assert document["data"]["suspicion"] > 0.5
    accounts = [n["data"] for n in document["elements"]["nodes"] if n["data"]["type"] == "account"]
    assert all({"risk", "predicted_label", "score_bot_ring"} <= set(a) for a in accounts)


# ------------------------------------------------------------------------------ Parquet


def test_parquet_tables_keep_types_and_hostile_ids(hostile_run: Path, tmp_path: Path) -> None:
    cluster = hostile_cluster(hostile_run)
    nodes_path, edges_path = export_one(hostile_run, cluster, "parquet", tmp_path)
    nodes, edges = pl.read_parquet(nodes_path), pl.read_parquet(edges_path)
    assert nodes_path.name == f"cluster-{cluster}.nodes.parquet"
    assert set(HOSTILE_ACCOUNTS) <= set(nodes.filter(pl.col("type") == "account")["label"])
    assert nodes.schema["first_seen"] == pl.Datetime("us", "UTC")
    assert nodes.schema["risk"] == pl.Float64
    assert set(edges["source"]) | set(edges["target"]) <= set(nodes["node_id"])


# ------------------------------------------------------------------------------ many clusters


def test_top_clusters_in_every_format(simulated_run: Path, tmp_path: Path) -> None:
    formats = ["graphml", "gexf", "cytoscape", "parquet"]
    paths = export_clusters(simulated_run, tmp_path, top=3, formats=formats)
    top = top_cluster_ids(load_run(simulated_run), 3)
    expected = {
        f"cluster-{c}{suffix}"
        for c in top
        for suffix in (".graphml", ".gexf", ".cyjs", ".nodes.parquet", ".edges.parquet")
    }
    assert {p.name for p in paths} == expected
    assert {p.name for p in tmp_path.iterdir()} == expected  # no temporary files left
    with pytest.raises(OutputExistsError, match="already exists"):
        export_clusters(simulated_run, tmp_path, top=3, formats=formats)
    export_clusters(simulated_run, tmp_path, top=3, formats=formats, overwrite=True)


def test_an_edge_between_two_exported_clusters_is_in_both_cases(simulated_run: Path) -> None:
    run = load_run(simulated_run)
    cases = load_cases(run, top_cluster_ids(run, run.clusters.height))
    for case in cases:
        members = set(case.members[schema.ACCOUNT])
        touching = case.account_edges.filter(
            pl.col("src_id").is_in(list(members)) | pl.col("dst_id").is_in(list(members))
        )
        assert touching.height == case.account_edges.height
        internal = case.account_edges.filter(pl.col("internal"))
        assert set(internal["src_id"]) | set(internal["dst_id"]) <= members


# ------------------------------------------------------------------------------ pseudonyms


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()))


def raw_strings(case) -> dict[str, set[str]]:
    entities = case.entity_edges
    return {
        kind: set(entities.filter(pl.col("kind") == kind)["entity"]) for kind in ("device", "ip")
    }


FORMATS = ["graphml", "gexf", "cytoscape", "parquet", "html"]


def test_pseudonyms_hide_ips_and_devices_everywhere(simulated_run: Path, tmp_path: Path) -> None:
    key = "a-long-random-key-0123456789"
    cluster = top_cluster_ids(load_run(simulated_run), 1)[0]
    raw = raw_strings(load_cases(simulated_run, [cluster])[0])
    assert raw["device"] and raw["ip"]
    out = tmp_path / "a"
    export_clusters(
        simulated_run,
        out,
        cluster_ids=[cluster],
        formats=FORMATS,
        pseudonymizer=Pseudonymizer(key),
    )
    blob = all_bytes(out)
    for value in raw["device"] | raw["ip"]:
        assert value.encode() not in blob, value
    assert key.encode() not in blob
    nodes = pl.read_parquet(out / f"cluster-{cluster}.nodes.parquet")
    devices = nodes.filter(pl.col("type") == "device")["label"]
    ips = nodes.filter(pl.col("type") == "ip")["label"]
    assert devices.str.contains(r"^dev_[0-9a-f]{16}$").all()
    assert ips.str.contains(r"^ip_[0-9a-f]{16}$").all()
    assert devices.n_unique() == len(raw["device"]) and ips.n_unique() == len(raw["ip"])
    # Accounts stay readable unless asked.
    members = set(load_cases(simulated_run, [cluster])[0].members[schema.ACCOUNT])
    assert members == set(nodes.filter(pl.col("type") == "account")["label"])
    document = json.loads((out / f"cluster-{cluster}.cyjs").read_text(encoding="utf-8"))
    assert document["data"]["pseudonymized"] is True


def test_same_key_same_pseudonyms_other_key_other_pseudonyms(
    simulated_run: Path, tmp_path: Path
) -> None:
    cluster = top_cluster_ids(load_run(simulated_run), 1)[0]

    def labels(key: str, name: str) -> dict[str, list[str]]:
        [path] = export_one(
            simulated_run, cluster, "cytoscape", tmp_path / name, pseudonymizer=Pseudonymizer(key)
        )
        nodes = json.loads(path.read_text(encoding="utf-8"))["elements"]["nodes"]
        return {n["data"]["id"]: n["data"]["label"] for n in nodes}

    first, again, other = labels("key-one", "1"), labels("key-one", "2"), labels("key-two", "3")
    assert first == again
    hashed = {i: v for i, v in first.items() if i.startswith(("device:", "ip:"))}
    assert hashed
    assert not set(hashed.values()) & set(other.values())


def test_pseudonymised_accounts_and_targets(hostile_run: Path, tmp_path: Path) -> None:
    cluster = hostile_cluster(hostile_run)
    key = "another-long-key-for-accounts"
    export_clusters(
        hostile_run,
        tmp_path,
        cluster_ids=[cluster],
        formats=FORMATS,
        pseudonymizer=Pseudonymizer(key, accounts=True),
    )
    blob = all_bytes(tmp_path)
    for value in (*HOSTILE_ACCOUNTS, HOSTILE_DEVICE, HOSTILE_IP, HOSTILE_TARGET, "ring5", key):
        assert value.encode() not in blob, value
    nodes = pl.read_parquet(tmp_path / f"cluster-{cluster}.nodes.parquet")
    by_type = {t: nodes.filter(pl.col("type") == t)["label"] for t in ("account", "target")}
    assert by_type["account"].str.contains(r"^acct_[0-9a-f]{16}$").all()
    assert by_type["account"].n_unique() == RING_SIZE
    assert by_type["target"].str.contains(r"^tgt_[0-9a-f]{16}$").all()
    edges = pl.read_parquet(tmp_path / f"cluster-{cluster}.edges.parquet")
    assert set(edges["source"]) | set(edges["target"]) <= set(nodes["node_id"])


# ------------------------------------------------------------------------------ CLI


def test_cli_export_writes_and_lists_files(simulated_run: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            str(simulated_run),
            "--top",
            "2",
            "-f",
            "graphml",
            "-f",
            "cytoscape",
            "-o",
            str(tmp_path / "out"),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    listed = [Path(line) for line in result.stdout.splitlines()]
    assert len(listed) == 4 and all(p.is_file() for p in listed)


def test_cli_export_to_one_named_file(hostile_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "ring.gexf"
    cluster = hostile_cluster(hostile_run)
    result = runner.invoke(
        app,
        ["export", str(hostile_run), "--cluster", str(cluster), "-f", "gexf", "-o", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target)
    assert nx.read_gexf(target).number_of_nodes() > RING_SIZE


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--top", "1", "-f", "pdf"], 2, "unknown --format 'pdf'"),
        ([], 2, "--cluster ID or --top N"),
        (["--top", "1", "--pseudonymize"], 2, "GRAPHGUARD_PSEUDONYM_KEY"),
        (["--top", "1", "--key", "k"], 2, "--key goes with --pseudonymize"),
        (["--cluster", "4242"], 1, "cluster 4242 is not in clusters.parquet"),
    ],
)
def test_cli_export_errors(
    hostile_run: Path, tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    result = runner.invoke(app, ["export", str(hostile_run), "-o", str(tmp_path), *args])
    assert result.exit_code == code, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_cli_key_from_environment(hostile_run: Path, tmp_path: Path) -> None:
    result = CliRunner(env={"GRAPHGUARD_PSEUDONYM_KEY": "env-key-long-enough-0001"}).invoke(
        app,
        [
            "export",
            str(hostile_run),
            "--top",
            "1",
            "--pseudonymize",
            "-f",
            "cytoscape",
            "-o",
            str(tmp_path),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    text = Path(result.stdout.strip()).read_text(encoding="utf-8")
    assert HOSTILE_IP not in text and "ip_" in text and "env-key-long-enough-0001" not in text


@pytest.mark.parametrize("command", ["export", "explain", "report"])
def test_help_has_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
