"""Data strings as inert text, and numbers in a compact human form, for every text output.

Every string that came from the data (account ids, evidence text, even paths and config values in
run.json) is attacker-controlled: control and bidi-override characters could move a terminal's
cursor or make one id display as another, so they become U+FFFD; Markdown syntax and HTML-special
characters are escaped so a hostile id cannot break a table or inject markup.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "-"

# Control characters could move the cursor or recolour a terminal (ESC sequences survive
# rich.Text), and bidi overrides can make one id display as another, so both become U+FFFD.
# Line breaks and tabs become spaces: a newline would split a table row.
UNSAFE_CODEPOINTS = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
PLAIN_TEXT_TABLE: dict[int, str] = {
    **dict.fromkeys(UNSAFE_CODEPOINTS, "\ufffd"),
    **dict.fromkeys(map(ord, "\t\n\r"), " "),
}
# Markdown: backslash-escape inline syntax (emphasis, code, links, tables, strikethrough, math) and
# turn the HTML-special characters into entities, which every renderer shows literally.
MARKDOWN_TABLE: dict[int, str] = {
    **PLAIN_TEXT_TABLE,
    **{ord(char): "\\" + char for char in "\\`*_[]|~$"},
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
}


def plain(value: Any) -> str:
    """A data value as one line of inert text (no control or bidi characters)."""
    return MISSING if value is None else format_value(value).translate(PLAIN_TEXT_TABLE)


def md_escape(value: Any) -> str:
    """A data value as Markdown that renders literally, safe inside a table cell."""
    return MISSING if value is None else format_value(value).translate(MARKDOWN_TABLE)


def format_value(value: Any) -> str:
    """Numbers in a compact human form; everything else as str()."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return MISSING
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        # Four significant digits keep small measures (a CPM resolution of 1e-4) visible.
        return f"{value:.4g}"
    return str(value)


def exact(value: Any) -> str | None:
    """A run parameter as recorded, so the report can be used to repeat the run."""
    return None if value is None else str(value)


def fixed(value: Any, digits: int = 3) -> str:
    """A score with a fixed number of decimals, so columns line up."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.{digits}f}"
    return MISSING
