"""The page frame (Content-Security-Policy, inlined CSS and script) and small widgets.

`page` wraps a header and body into a complete document with the assets of ``static/`` inlined;
the widgets (label badge, score meter, risk colour, key-value and parameter tables) are shared by
the case file and the run report.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from graphguard.report.html.escape import MISSING, esc, fixed, inert, number, script_json

#: Browser libraries in ``vendor/`` (see its README.md for versions and licences).
VENDOR_SCRIPTS = {"cytoscape": "cytoscape.min.js"}


@cache
def static_text(name: str, folder: str = "static") -> str:
    """A file of ``static/`` (or ``vendor/``), checked to be safe to inline."""
    text = resources.files("graphguard.report.html").joinpath(folder, name).read_text("utf-8")
    # Inlined as it is: anything that could end the element or switch the HTML parser's script
    # state would break the page.
    if any(mark in text.lower() for mark in ("</script", "</style", "<script", "<!--")):
        raise ValueError(f"{folder}/{name} must not contain tags or comment openers")
    return text


def _sha256(script: str) -> str:
    return (
        "'sha256-"
        + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        + "'"
    )


def page(
    title: str,
    header: str,
    body: str,
    data: Any,
    *,
    vendor: tuple[str, ...] = (),
    form_action: str = "'none'",
    referrer: str = "no-referrer",
) -> str:
    """A whole HTML document: ``header`` and ``body`` are markup, ``data`` goes to the script.

    ``vendor`` names libraries of `VENDOR_SCRIPTS` to inline before the page's script;
    ``form_action`` is the policy's form-action source (``'self'`` for the review console,
    whose forms post back to it; offline pages post nowhere); ``referrer`` the referrer
    policy (the console's ``same-origin``: with ``no-referrer`` a browser sends its form posts
    with ``Origin: null``, which the console refuses).
    """
    scripts = [static_text(VENDOR_SCRIPTS[name], "vendor") for name in vendor]
    scripts.append(static_text("case.js"))
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {' '.join(_sha256(s) for s in scripts)}; base-uri 'none'; "
        f"form-action {form_action}"
    )
    code = "".join(f"<script>{script}</script>\n" for script in scripts)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="referrer" content="{esc(referrer)}">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>{static_text('style.css')}</style>\n"
        f"</head><body>\n{header}\n<main>\n{body}\n</main>\n"
        '<script type="application/json" id="gg-data">'
        f"{script_json(data)}</script>\n"
        f"{code}</body></html>\n"
    )


def badge(label: Any) -> str:
    """A predicted or known label as a coloured badge."""
    css = str(label) if label in ("bot_ring", "fake_engagement", "benign") else ""
    return f'<span class="badge {css}">{esc(label)}</span>'


def meter(name: str, value: Any, hint: str = "") -> str:
    """A score in [0, 1] as a labelled bar."""
    score = number(value)
    width = 0.0 if score is None else max(0.0, min(1.0, score)) * 100
    level = "hi" if (score or 0) >= 0.7 else ("mid" if (score or 0) >= 0.4 else "")
    title = f' title="{esc(hint)}"' if hint else ""
    return (
        f'<div class="meter"{title}>{esc(name)} <b>{fixed(score)}</b>'
        f'<div class="bar"><i class="{level}" style="width:{width:.1f}%"></i></div></div>'
    )


def risk_colour(risk: float | None) -> str:
    """Green at 0, amber at 0.5, red at 1."""
    r = 0.0 if risk is None else max(0.0, min(1.0, risk))
    low, mid, high = (46, 125, 50), (239, 143, 0), (198, 40, 40)
    a, b, t = (low, mid, r / 0.5) if r < 0.5 else (mid, high, (r - 0.5) / 0.5)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def _exact(value: Any) -> str:
    """A parameter as recorded, so a reader can repeat the run with it."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    return inert(str(value))


def kv_table(rows: Sequence[tuple[str, Any]]) -> str:
    """Two columns, name and value; values written exactly as recorded."""
    body = "".join(
        f"<tr><td>{esc(k)}</td><td>{html.escape(_exact(v), quote=True)}</td></tr>" for k, v in rows
    )
    return f'<table class="params"><tbody>{body}</tbody></table>'


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        rows: list[tuple[str, Any]] = []
        for key, item in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), item)
        return rows
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, value)]


def meta_section(meta: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """``meta[keys[0]][keys[1]]...`` of run.json, or {} where any level is missing."""
    value: Any = meta
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, dict) else {}


def parameters_html(meta: Mapping[str, Any]) -> str:
    """Everything that produced the result: input, community detection, graph and scoring."""
    head = [
        ("graphguard version", meta.get("graphguard_version")),
        ("run created", meta.get("created_at")),
        *_flatten("input", meta_section(meta, "input")),
    ]
    community = _flatten("", meta_section(meta, "community"))
    graph = _flatten("", meta_section(meta, "config", "graph"))
    scoring = _flatten("", meta_section(meta, "config", "scoring"))
    return (
        '<div class="row3">'
        f"<div><h3>Run and communities</h3>{kv_table(head + community)}</div>"
        f"<div><h3>Graph relations</h3>{kv_table(graph)}</div>"
        f"<div><h3>Scoring</h3>{kv_table(scoring)}</div>"
        "</div>"
    )
