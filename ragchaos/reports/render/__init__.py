"""Renderers: sections -> Markdown or HTML."""

from ragchaos.reports.render.html import render_html
from ragchaos.reports.render.markdown import render_markdown

__all__ = ["render_html", "render_markdown"]
