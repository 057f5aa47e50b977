"""Visible text of an HTML page: no scripts, styles, templates or head; blocks on their own lines."""

from __future__ import annotations

import re

_HIDDEN = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
_BLOCKS = ("p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "table",
           "section", "article", "header", "footer", "main", "nav", "aside", "blockquote", "pre",
           "figcaption", "dt", "dd", "hr", "title")


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML document."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(list(_HIDDEN)):
        tag.decompose()
    if not title and (h1 := soup.find("h1")):
        title = h1.get_text(" ", strip=True)
    for tag in soup.find_all(list(_BLOCKS)):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in text.split("\n"))
    body = "\n".join(line for line in lines if line)
    return title[:200], body
