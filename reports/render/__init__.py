"""Renderers: sections -> Markdown or HTML."""

from reports.render.html import render_html
from reports.render.markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
