"""Sections -> one self-contained HTML page (plots embedded as base64 PNG, no external assets)."""

from __future__ import annotations

import base64
import html
import re

from ragchaos.reports.sections.base import Section

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b9c1d0}
nav{padding:8px 32px;background:#e9ecf1;font-size:13px}nav a{margin-right:14px;color:#2456a6;text-decoration:none}
main{padding:8px 32px 40px;max-width:1320px;box-sizing:border-box}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:14px 20px;margin:16px 0;min-width:0}
h2{font-size:18px;margin:4px 0 10px}
.table-wrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13px}
th,td{border-bottom:1px solid #e4e7ec;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text,th.text{white-space:normal;overflow-wrap:break-word}
td.wrap{white-space:normal;max-width:460px;overflow-wrap:anywhere}
header p,.note,ul.lines li{overflow-wrap:anywhere}
@media (max-width:1000px){main{padding:8px 12px 32px}header,nav{padding-left:12px;padding-right:12px}
section{padding:10px 12px}th,td{padding:3px 6px}}
caption{caption-side:top;text-align:left;font-style:italic;color:#555;padding:2px 0}
ul.lines{list-style:none;padding:0;margin:6px 0}ul.lines li{padding:3px 8px;margin:2px 0;border-radius:4px;font-family:ui-monospace,monospace;font-size:13px}
li.PASS{background:#e5f5e8;border-left:4px solid #2e9d47}li.FAIL{background:#fde8e8;border-left:4px solid #cf2e2e}
li.NA{background:#f1f1f1;border-left:4px solid #999}
.plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.plots img{display:block;flex:0 1 auto;width:620px;max-width:100%;height:auto;border:1px solid #e4e7ec;border-radius:4px}
.note{color:#555;font-size:13px;margin:4px 0}
"""


_NUMBER = re.compile(r"^[-+$=]?[0-9][0-9,.]*(e[-+]?[0-9]+)?\s*(%|/s|us|ms|s|x)?$|^[–-]$|^$")


def _numeric_column(cells: list[str]) -> bool:
    """Numbers line up on the right; a column with any words reads from the left."""
    return bool(cells) and all(_NUMBER.match(c.strip()) for c in cells)


def _inline(text: str) -> str:
    """Escape, then allow **bold** (the only markup sections use)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _png_size(png: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk (None if it is not a PNG)."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def render_html(title: str, subtitle: str, sections: list[Section], plots: dict[str, bytes]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>",
        "<nav>" + "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
        "<main>",
    ]
    for s in sections:
        parts.append(f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>')
        if s.intro:
            parts.append(f'<p class="note">{_inline(s.intro)}</p>')
        if s.lines:
            parts.append('<ul class="lines">')
            for line in s.lines:
                cls = line.status.replace("/", "") or "NA"
                parts.append(f'<li class="{cls}">{html.escape(line.text)}</li>')
            parts.append("</ul>")
        for t in s.tables:
            # a table wider than the window scrolls inside its own box; the page never does
            parts.append('<div class="table-wrap"><table>')
            if t.caption:
                parts.append(f"<caption>{html.escape(t.caption)}</caption>")
            numeric = [_numeric_column([row[i] for row in t.rows if i < len(row)]) for i in range(len(t.columns))]
            parts.append("<tr>" + "".join(
                f'<th class="{"num" if numeric[i] else "text"}">{html.escape(c)}</th>' for i, c in enumerate(t.columns)
            ) + "</tr>")
            for row in t.rows:
                cells = []
                for i, cell in enumerate(row):
                    cls = "num" if i < len(numeric) and numeric[i] else ("wrap" if len(cell) > 40 else "text")
                    cells.append(f'<td class="{cls}">{html.escape(cell)}</td>')
                parts.append("<tr>" + "".join(cells) + "</tr>")
            parts.append("</table></div>")
        images = [(name, plots[name]) for name in s.plots if name in plots]
        if images:
            parts.append('<div class="plots">')
            for name, png in images:
                b64 = base64.b64encode(png).decode("ascii")
                size = _png_size(png)
                dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
                parts.append(f'<img alt="{html.escape(name)}" title="{html.escape(name)}"{dims} '
                             f'src="data:image/png;base64,{b64}">')
            parts.append("</div>")
        for note in s.notes:
            parts.append(f'<p class="note">{_inline(note)}</p>')
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
