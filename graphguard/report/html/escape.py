"""Escaping and formatting shared by every page: data strings made inert, then HTML-escaped.

Every string from the logs is attacker-controlled. `esc` is the one way a value reaches HTML
text or an attribute; `script_json` the one way data reaches the page's script. The number and
time formatters return plain text (not yet escaped) and ``-`` for what is missing.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graphguard.report.text import MISSING, PLAIN_TEXT_TABLE, format_value


def inert(value: str) -> str:
    """A data string with control and bidi-override characters replaced (they could hide or
    reorder what an investigator reads), line breaks as spaces."""
    return value.translate(PLAIN_TEXT_TABLE)


def display(value: Any) -> str:
    """Any value as the plain text a page shows (numbers as the terminal report writes them)."""
    if value is None:
        return MISSING
    if isinstance(value, bool | int | float):
        return format_value(value)
    if isinstance(value, datetime):
        return when(value)
    return inert(str(value))


def esc(value: Any) -> str:
    """Any value as HTML text or attribute content that renders literally."""
    return html.escape(display(value), quote=True)


def _inert_data(value: Any) -> Any:
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, Mapping):
        return {inert(str(k)): _inert_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_inert_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return when(value)
    return value


_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(data: Any) -> str:
    """JSON that can sit inside a <script> element: no string in it can end the element."""
    text = json.dumps(_inert_data(data), ensure_ascii=False, allow_nan=False, default=str)
    return text.translate(_SCRIPT_SAFE)


def when(value: Any) -> str:
    """A timestamp to the minute, in UTC."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return MISSING if value is None else str(value)


def plural(n: Any, noun: str) -> str:
    """``3 accounts``, ``1 account``."""
    return f"{display(n)} {noun}" + ("" if n == 1 else "s")


def pct(value: Any) -> str:
    """A share as a whole percentage."""
    return f"{value:.0%}" if isinstance(value, int | float) and math.isfinite(value) else MISSING


def fixed(value: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    return f"{value:.{digits}f}"


def number(value: Any) -> float | None:
    """A finite number as a float, anything else (a bool, a string, NaN) as None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
