"""The review console's pages: the queue, a case (the run's case file with decision forms) and
the audit log.

Markup is built here with `graphguard.report.html.esc` for every value (case ids, members,
assignees, notes, actors and audit details are all attacker- or user-controlled), inside the
report's page frame (`graphguard.report.html.page.page`: inlined assets, a Content-Security-
Policy admitting only the page's own scripts, here with ``form-action 'self'``). Forms post to
``/act`` with the session's CSRF token in a hidden field; links carry a case id only in a
query string (``/case?id=...``), URL-quoted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from graphguard.casestore import STATUSES, VERDICT_LABELS, AuditEntry, CaseDetail, CaseSummary
from graphguard.console.security import CSRF_FIELD
from graphguard.report.html import render_case_html
from graphguard.report.html.escape import esc, fixed, when
from graphguard.report.html.page import badge, page
from graphguard.rundir.cases import Case

#: Sort keys of the queue, as its column headers offer them.
QUEUE_SORTS = ("suspicion", "size", "growth", "status", "updated")
#: Messages a redirect may ask a page to show (by key: a page never echoes text from the URL).
MESSAGES = {
    "decided": "Decision recorded.",
    "status": "Status changed.",
    "assigned": "Assignee changed.",
    "noted": "Note added.",
    "bulk": "Bulk decision recorded on the selected cases.",
}
FORM_ACTION = "'self'"
#: Same-origin referrers: a form post then carries the console's Origin (with no-referrer,
#: browsers send ``Origin: null``, which `Guard.origin_ok` refuses).
REFERRER = "same-origin"


def case_href(case_id: str) -> str:
    """The console URL of a case (the id URL-quoted; `esc` it for an attribute)."""
    return "/case?" + urlencode({"id": case_id})


def _hidden(csrf: str, **fields: str) -> str:
    items = {CSRF_FIELD: csrf, **fields}
    return "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in items.items()
    )


def status_badge(status: Any) -> str:
    css = str(status) if status in STATUSES else ""
    return f'<span class="badge st {css}">{esc(status)}</span>'


def _nav(title: str, run_name: str, actor: str, crumbs: str = "") -> str:
    return (
        '<header class="top console">'
        '<div class="crumbs"><a href="/">queue</a> · <a href="/audit">audit log</a> · '
        f"run <b>{esc(run_name)}</b> · acting as <b>{esc(actor)}</b>{crumbs}</div>"
        f"<h1>{title}</h1></header>"
    )


def _flash(message: str | None, error: str | None = None) -> str:
    parts = []
    if message in MESSAGES:
        parts.append(f'<div class="flash ok">{esc(MESSAGES[message])}</div>')
    if error:
        parts.append(f'<div class="flash bad">{esc(error)}</div>')
    return "".join(parts)


def _label_select(name: str = "label", empty: str = "predicted label") -> str:
    options = f'<option value="">{esc(empty)}</option>' + "".join(
        f'<option value="{esc(label)}">{esc(label)}</option>' for label in VERDICT_LABELS
    )
    return f'<select name="{esc(name)}">{options}</select>'


# ------------------------------------------------------------------------------------ queue


def queue_page(
    cases: Sequence[CaseSummary],
    counts: dict[str, int],
    *,
    sort: str,
    status: str | None,
    csrf: str,
    run_name: str,
    actor: str,
    message: str | None = None,
) -> str:
    """The queue: filters by status, sortable columns, and a bulk-decision form over the
    selected cases."""

    def link(**query: str | None) -> str:
        params = {"sort": sort, "status": status, **query}
        return "/?" + urlencode({k: v for k, v in params.items() if v})

    filters = " ".join(
        f'<a class="chip{" on" if status == value else ""}" href="{esc(link(status=value))}">'
        f"{esc(label)} <b>{esc(n)}</b></a>"
        for value, label, n in [
            (None, "all", sum(counts.values())),
            *((s, s.replace("_", " "), counts.get(s, 0)) for s in STATUSES),
        ]
    )

    def head(name: str, key: str | None = None, num: bool = False) -> str:
        css = ' class="num"' if num else ""
        if key is None:
            return f"<th{css}>{esc(name)}</th>"
        mark = " ▾" if key == sort else ""
        return (
            f'<th{css}><a class="sort{" on" if key == sort else ""}" '
            f'href="{esc(link(sort=key))}">{esc(name)}{mark}</a></th>'
        )

    rows = []
    for c in cases:
        href = esc(case_href(c.id))
        rows.append(
            "<tr>"
            f'<td><input type="checkbox" name="case" value="{esc(c.id)}" '
            f'aria-label="select case {esc(c.id)}"></td>'
            f'<td class="id"><a class="case-link" href="{href}">{esc(c.id)}</a></td>'
            f"<td>{status_badge(c.status)}</td>"
            f"<td>{badge(c.label) if c.label else ''}</td>"
            f'<td class="num">{fixed(c.suspicion, 3)}</td>'
            f'<td class="num">{esc(c.size)}</td>'
            f'<td class="num">{"+" + esc(c.growth) if c.growth else "0"}</td>'
            f"<td>{esc(c.campaign_status or '')}</td>"
            f"<td>{badge(c.predicted_label) if c.predicted_label else ''}</td>"
            f'<td class="id">{esc(c.assignee or "")}</td>'
            f'<td class="id">{esc(c.last_seen_run)}</td>'
            f'<td class="nowrap">{esc(when(c.updated_at))}</td>'
            "</tr>"
        )
    table = (
        '<div class="tablewrap"><table class="queue"><thead><tr>'
        + head("")
        + head("case")
        + head("status", "status")
        + head("verdict label")
        + head("suspicion", "suspicion", True)
        + head("size", "size", True)
        + head("growth", "growth", True)
        + head("campaign")
        + head("predicted")
        + head("assignee")
        + head("last seen in")
        + head("updated", "updated")
        + "</tr></thead><tbody>"
        + ("".join(rows) or '<tr><td colspan="12" class="muted">no cases</td></tr>')
        + "</tbody></table></div>"
    )
    bulk = (
        '<div class="bulk">With the selected cases: '
        '<button type="submit" name="verdict" value="confirmed">confirm</button> as '
        f"{_label_select()} "
        '<button type="submit" name="verdict" value="dismissed">dismiss</button> '
        '<button type="submit" name="verdict" value="in_review">set in review</button>'
        "</div>"
    )
    body = (
        _flash(message) + f'<section class="card"><div class="chips">{filters}</div>'
        f'<form method="post" action="/act" id="bulk-form">{_hidden(csrf, action="bulk")}'
        f"{bulk}{table}</form></section>"
    )
    header = _nav(f"Review queue <small>{len(cases):,} cases</small>", run_name, actor)
    return page(
        "graphguard · review queue", header, body, {}, form_action=FORM_ACTION, referrer=REFERRER
    )


# ------------------------------------------------------------------------------------ a case


def _audit_rows(entries: Sequence[AuditEntry], with_case: bool) -> str:
    rows = []
    for e in entries:
        detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True, default=str)
        case_cell = ""
        if with_case:
            case_cell = (
                f'<td class="id"><a href="{esc(case_href(e.case_id))}">{esc(e.case_id)}</a></td>'
                if e.case_id is not None
                else '<td class="muted">store</td>'
            )
        rows.append(
            f'<tr><td class="nowrap">{esc(when(e.at))}</td><td class="id">{esc(e.actor)}</td>'
            f"{case_cell}<td>{esc(e.action)}</td>"
            f'<td class="id detail">{esc(detail)}</td></tr>'
        )
    head = "<th>when</th><th>who</th>" + ("<th>case</th>" if with_case else "")
    return (
        f'<table class="audit"><thead><tr>{head}<th>action</th><th>detail</th></tr></thead>'
        "<tbody>"
        + ("".join(rows) or '<tr><td colspan="5" class="muted">nothing yet</td></tr>')
        + "</tbody></table>"
    )


def _decision_panel(detail: CaseDetail, csrf: str, message: str | None, error: str | None) -> str:
    cid = detail.id
    fields = _hidden(csrf, case=cid)
    members = "".join(
        f'<label class="member"><input type="checkbox" name="except" value="{esc(m)}"'
        f"{' checked' if m in detail.exceptions else ''}> "
        f'<span class="id">{esc(m)}</span></label>'
        for m in detail.members
    )
    facts = [
        ("status", status_badge(detail.status)),
        ("verdict", esc(detail.verdict or "none yet")),
        ("label", badge(detail.label) if detail.label else esc("none")),
        ("assignee", f'<span class="id">{esc(detail.assignee or "nobody")}</span>'),
        ("suspicion", fixed(detail.suspicion, 3)),
        ("members", esc(len(detail.members))),
        ("growth", esc(detail.growth)),
        ("campaign", esc(detail.campaign_status or "")),
        ("exceptions", esc(len(detail.exceptions))),
        ("first seen in", f'<span class="id">{esc(detail.first_seen_run)}</span>'),
        ("last seen in", f'<span class="id">{esc(detail.last_seen_run)}</span>'),
        ("seen in runs", esc(len(detail.runs))),
    ]
    fact_html = "".join(f"<span>{esc(k)} <b>{v}</b></span>" for k, v in facts)
    new_members = detail.new_since_decision
    grown = (
        f'<p class="flash warn">{esc(len(new_members))} members joined since the decision: '
        + esc(", ".join(new_members[:20]) + (" …" if len(new_members) > 20 else ""))
        + "</p>"
        if new_members
        else ""
    )
    decide = (
        f'<form method="post" action="/act" class="decide" id="decide-form">{fields}'
        '<input type="hidden" name="action" value="decide">'
        "<h3>Decide the whole ring</h3>"
        '<div class="choices">'
        '<label><input type="radio" name="verdict" value="confirmed" checked> confirm</label> '
        f"as {_label_select()} "
        '<label><input type="radio" name="verdict" value="dismissed"> dismiss (all members '
        "benign)</label></div>"
        '<textarea name="note" rows="2" placeholder="note (optional)"></textarea>'
        f"<details><summary>Per-member exceptions ({len(detail.members):,} members): real "
        "users caught in a confirmed ring, labelled benign</summary>"
        f'<div class="members">{members}</div></details>'
        '<button type="submit" class="primary" id="decide-button">record decision</button>'
        "</form>"
    )
    status_form = (
        f'<form method="post" action="/act" class="inline">{fields}'
        '<input type="hidden" name="action" value="status">'
        '<button type="submit" name="status" value="in_review">set in review</button> '
        '<button type="submit" name="status" value="open">re-open</button></form>'
    )
    assign_form = (
        f'<form method="post" action="/act" class="inline">{fields}'
        '<input type="hidden" name="action" value="assign">'
        f'<input name="assignee" value="{esc(detail.assignee or "")}" placeholder="assignee">'
        ' <button type="submit">assign</button></form>'
    )
    note_form = (
        f'<form method="post" action="/act">{fields}'
        '<input type="hidden" name="action" value="note">'
        '<textarea name="text" rows="2" placeholder="add a note"></textarea>'
        '<button type="submit">add note</button></form>'
    )
    notes = "".join(
        f'<li><span class="muted">{esc(when(n.at))} · {esc(n.author)}</span>'
        f'<div class="note">{esc(n.text)}</div></li>'
        for n in detail.notes
    )
    return (
        _flash(message, error) + '<section class="card console-panel" id="casework">'
        f'<h2>Casework <small>case {esc(cid)}</small></h2><div class="facts">{fact_html}</div>'
        f"{grown}"
        f'<div class="row3"><div>{decide}</div>'
        f"<div><h3>Status and assignee</h3>{status_form}{assign_form}"
        f'<h3>Notes</h3><ul class="notes">{notes or "<li class=muted>none</li>"}</ul>'
        f"{note_form}</div>"
        f'<div><h3>Audit log of this case</h3><div class="tablewrap short">'
        f"{_audit_rows(detail.audit, with_case=False)}</div></div></div>"
        "</section>"
    )


def case_page(
    detail: CaseDetail,
    case: Case | None,
    *,
    csrf: str,
    run_name: str,
    actor: str,
    message: str | None = None,
    error: str | None = None,
) -> str:
    """A case: the decision panel above the run's case file of its cluster (when the run has
    it), or above the store's record alone."""
    panel = _decision_panel(detail, csrf, message, error)
    header = _nav(
        f"Case <span class='id'>{esc(detail.id)}</span> {status_badge(detail.status)}",
        run_name,
        actor,
    )
    if case is not None:
        return render_case_html(
            case, panel=panel, header=header, form_action=FORM_ACTION, referrer=REFERRER
        )
    body = panel + (
        '<section class="card"><p class="muted">This case is not in the run being reviewed '
        f"(it was last seen in {esc(detail.last_seen_run)}); its members:</p>"
        + "".join(f'<span class="id chip">{esc(m)}</span> ' for m in detail.members)
        + "</section>"
    )
    return page(
        f"graphguard · case {detail.id}",
        header,
        body,
        {},
        form_action=FORM_ACTION,
        referrer=REFERRER,
    )


# ------------------------------------------------------------------------------------ audit


def audit_page(entries: Sequence[AuditEntry], *, run_name: str, actor: str) -> str:
    """The whole audit log, latest first."""
    body = f'<section class="card">{_audit_rows(entries, with_case=True)}</section>'
    header = _nav(f"Audit log <small>{len(entries):,} entries</small>", run_name, actor)
    return page(
        "graphguard · audit log", header, body, {}, form_action=FORM_ACTION, referrer=REFERRER
    )


def error_page(status: str, text: str, *, run_name: str = "", actor: str = "") -> str:
    """A plain error page (the message is escaped)."""
    body = f'<section class="card"><p class="flash bad">{esc(text)}</p></section>'
    header = _nav(esc(status), run_name, actor)
    return page(f"graphguard · {status}", header, body, {}, referrer=REFERRER)
