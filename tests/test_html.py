"""The HTML of `make run`: one self-contained file that renders its equations with no network."""

import re

import pytest

from export_html import export_html
from tests.conftest import NOTEBOOK

MAX_BYTES = 6_000_000  # ~3 MB today: MathJax (2.3 MB) plus the figures


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The stored, already executed notebook converted as `make run` does (no re-execution)."""
    path = tmp_path_factory.mktemp("html") / "Gradient_Checking.html"
    export_html(NOTEBOOK, path)
    return path.read_text(encoding="utf-8")


def test_html_loads_nothing_from_the_network(html):
    # what a browser would fetch: src=, <link href=>, CSS url(), JS import(); plain <a href> links are
    # navigation, not loads (MathJax's about box links to its home page)
    remote = r"""\s*["']?\s*(?:https?:)?//"""
    pattern = rf"""\bsrc\s*={remote}|<link\b[^>]*\bhref\s*={remote}|url\({remote}|import\({remote}"""
    loads = re.findall(pattern, html, re.I)
    assert loads == []


def test_html_needs_no_file_beside_it(html):
    srcs = re.findall(r"""\bsrc\s*=\s*["']([^"']*)["']""", html)
    assert all(src.startswith("data:") for src in srcs), [s[:60] for s in srcs if not s.startswith("data:")]
    assert "require.js" not in html and "MathJax.js?config" not in html


def test_html_inlines_mathjax_3_with_its_svg_fonts(html):
    assert "window.MathJax = {" in html
    assert 'VERSION="3.' in html  # the bundle itself, not a loader that fetches it
    assert "svg: {fontCache" in html and "mjx-container" in html


def test_html_keeps_the_equations_for_mathjax(html):
    assert "\\tag{1}" in html and "\\tag{2}" in html
    assert "\\frac{J(\\theta + \\varepsilon) - J(\\theta - \\varepsilon)}{2 \\varepsilon}" in html


def test_html_embeds_every_figure(html):
    images = re.findall(r"<img\b[^>]*>", html)
    assert len(images) >= 3
    assert all('src="data:image/png;base64,' in image for image in images)


def test_html_is_a_few_megabytes(html):
    assert 2_000_000 < len(html.encode("utf-8")) < MAX_BYTES
