"""GraphML and GEXF escaping is injective: two different ids never become one node.

XML 1.0 cannot carry NUL and most other C0 controls, so the exports write them as ``\\xNN``; an
account literally spelled ``x\\x00`` must then stay apart from ``x`` + NUL (the backslash is
escaped too), and `xml_unescape` must give every original id back.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphguard import schema
from graphguard.export import ID_ESCAPING, load_cases, write_case, xml_escape, xml_unescape
from graphguard.rundir.cases import Case
from tests.worlds import HOSTILE_ACCOUNTS, hostile_cluster

# Pairs that a one-way \xNN escaping would merge, and ids a Gephi reader would mangle.
COLLIDING_ACCOUNTS = ("x\x00", "x\\x00", "x\\\x00", "x\ufffe", "x\\ufffe", "\\", "a\rb")
COLLIDING_DEVICES = ("d\x01", "d\\x01")
XML_ILLEGAL = set(range(0x00, 0x09)) | {0x0B, 0x0C, 0x0D} | set(range(0x0E, 0x20))


def colliding_case(case: Case) -> tuple[Case, dict[str, str]]:
    """``case`` with its first members renamed to `COLLIDING_ACCOUNTS` and its devices to
    `COLLIDING_DEVICES`, consistently in every frame."""
    members = [m for m in case.members.get_column(schema.ACCOUNT) if m not in HOSTILE_ACCOUNTS]
    assert len(members) > len(COLLIDING_ACCOUNTS), "some members must keep an ordinary id"
    accounts = dict(zip(members, COLLIDING_ACCOUNTS, strict=False))
    devices = (
        case.entity_edges.filter(pl.col("kind") == "device").get_column("entity").unique().sort()
    )
    assert devices.len() >= len(COLLIDING_DEVICES)
    device_map = dict(zip(devices.to_list(), COLLIDING_DEVICES, strict=False))
    renamed = case.with_frames(
        members=case.members.with_columns(pl.col(schema.ACCOUNT).replace(accounts)),
        entity_edges=case.entity_edges.with_columns(
            pl.col(schema.ACCOUNT).replace(accounts),
            pl.when(pl.col("kind") == "device")
            .then(pl.col("entity").replace(device_map))
            .otherwise(pl.col("entity"))
            .alias("entity"),
        ),
        account_edges=case.account_edges.with_columns(
            pl.col("src_id").replace(accounts), pl.col("dst_id").replace(accounts)
        ),
    )
    return renamed, accounts


@pytest.fixture(scope="module")
def hostile_case(hostile_run: Path) -> Case:
    return load_cases(hostile_run, [hostile_cluster(hostile_run)])[0]


def read(path: Path) -> nx.Graph:
    return nx.read_graphml(path) if path.suffix == ".graphml" else nx.read_gexf(path)


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_colliding_ids_stay_distinct_nodes(hostile_case: Case, tmp_path: Path, fmt: str) -> None:
    case, renamed = colliding_case(hostile_case)
    [path] = write_case(case, fmt, tmp_path)
    graph = read(path)
    accounts = {n: d for n, d in graph.nodes(data=True) if d["type"] == "account"}
    devices = {n: d for n, d in graph.nodes(data=True) if d["type"] == "device"}
    # Nothing merged: one node per member, per device, and every edge kept.
    assert len(accounts) == case.members.height
    n_devices = case.entity_edges.filter(pl.col("kind") == "device").get_column("entity")
    assert len(devices) == n_devices.n_unique()
    assert graph.number_of_edges() == write_case_edges(case)
    # Decoding gives back every original id, as node key and as label.
    wanted = set(case.members.get_column(schema.ACCOUNT))
    assert {xml_unescape(d["label"]) for d in accounts.values()} == wanted
    assert {xml_unescape(n) for n in accounts} == {f"account:{a}" for a in wanted}
    assert {xml_unescape(d["label"]) for d in devices.values()} >= set(COLLIDING_DEVICES)
    # Ordinary ids (markup included) are written as they are.
    ordinary = {a for a in wanted - set(renamed.values()) if xml_escape(a) == a}
    assert ordinary and ordinary <= {d["label"] for d in accounts.values()}
    # Every edge end is one of the nodes (networkx would add a bare node for any other).
    assert graph.number_of_nodes() == len(accounts) + len(devices) + sum(
        1 for _, d in graph.nodes(data=True) if d["type"] in ("ip", "target")
    )
    assert all("type" in d for _, d in graph.nodes(data=True))
    # The file says how it escapes, and holds no character XML cannot carry.
    text = path.read_text(encoding="utf-8")
    assert ID_ESCAPING in text
    if fmt == "graphml":
        assert graph.graph["id_escaping"] == ID_ESCAPING
    assert not any(ord(c) in XML_ILLEGAL for c in text if c not in "\t\n")


def write_case_edges(case: Case) -> int:
    internal = case.account_edges.filter(pl.col("internal"))
    return case.entity_edges.height + internal.height


def test_escape_examples() -> None:
    assert xml_escape("x\x00") == "x\\x00"
    assert xml_escape("x\\x00") == "x\\\\x00"
    assert xml_escape("\ufffe") == "\\ufffe"
    assert xml_escape("a\rb\tc\nd") == "a\\x0db\tc\nd"
    for ordinary in ("user42", "<img src=x>", "q\"uote'&amp;", "Zoë 🙂", "a b", ""):
        assert xml_escape(ordinary) == ordinary


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(), st.text())
def test_escaping_is_injective_and_decodes(a: str, b: str) -> None:
    assert xml_unescape(xml_escape(a)) == a
    if a != b:
        assert xml_escape(a) != xml_escape(b)
    assert not any(ord(c) in XML_ILLEGAL or c in "\ufffe\uffff" for c in xml_escape(a))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from("x0\\\x00\ufffeuf"), max_size=8))
def test_escaping_of_backslash_heavy_strings(text: str) -> None:
    assert xml_unescape(xml_escape(text)) == text
