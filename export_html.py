"""Write an executed notebook as ONE self-contained HTML file: figures, alt text and MathJax 3 inside it."""

import argparse
import importlib.resources
import re
from pathlib import Path

import jinja2
import markupsafe
import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

# MathJax 3's single-file TeX -> SVG bundle from the django-static-mathjax wheel: its fonts are
# SVG paths inside the script, and "-full" holds every TeX extension, so nothing is fetched later.
MATHJAX_JS = importlib.resources.files("mathjax") / "static" / "mathjax" / "es5" / "tex-svg-full.js"

# The outputs the lab template draws as <img> (its blocks data_png and data_jpg below).
FIGURE_MIMES = ("image/png", "image/jpeg")
# What nbconvert's HTMLExporter writes on an <img> that has no alt: a missing description.
NO_ALT = "No description has been provided for this image"
# A run of non-space text holding a character after which browsers may break a line even with
# `word-break: normal` (UAX #14's hyphens, dashes, "?", "!", "/", "|": Chromium breaks "1.19e-07"
# after its "-"); each such run goes in a span that does not wrap, so text outputs wrap at spaces only.
BREAKABLE_RUN = re.compile(r"(\S*[-?!/|\u2010-\u2015]\S+)")
UNBROKEN = "jp-unbroken"  # the class of those spans

# The lab template, minus everything it loads from a CDN: require.js (only widgets need it),
# MathJax 2 (replaced by the inlined MathJax 3) and mermaid (the notebook has no diagrams).
# html_head_css comes after the template's own CSS, so its rules win at equal specificity.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style>
/* A tagged display equation spans the cell; let a wide one scroll on its own, not the whole cell. */
.jp-MarkdownOutput.jp-RenderedHTMLCommon { overflow: visible; }
mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; }
/* The template hides the end of a code line longer than the cell (overflow: hidden on the editor,
   a table cell, which cannot scroll): let the block inside it scroll instead. */
.jp-InputArea-editor .cm-editor { overflow-x: auto; }
/* The template's `word-break: break-all; word-wrap: break-word` on output text breaks lines inside
   words and numbers: wrap at spaces only, and let a line with no space in reach scroll. */
.jp-OutputArea-output pre {
  white-space: pre-wrap; word-break: normal; overflow-wrap: normal; overflow-x: auto;
}
.jp-OutputArea-output pre .{{ unbroken }} { white-space: nowrap; }
</style>
{%- endblock html_head_css -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
        processEscapes: true, tags: "ams"},
  svg: {fontCache: "global"},
  options: {enableMenu: false}
};
</script>
<script>{{ mathjax_js }}</script>
{%- endblock html_head_js_mathjax -%}
{%- block stream_stdout -%}{{ super() | unbroken_runs }}{%- endblock stream_stdout -%}
{%- block stream_stderr -%}{{ super() | unbroken_runs }}{%- endblock stream_stderr -%}
{%- block error -%}{{ super() | unbroken_runs }}{%- endblock error -%}
{%- block data_text scoped -%}{{ super() | unbroken_runs }}{%- endblock data_text -%}
{%- block data_png scoped -%}{{ super() | with_alt(cell.metadata.alt) }}{%- endblock data_png -%}
{%- block data_jpg scoped -%}{{ super() | with_alt(cell.metadata.alt) }}{%- endblock data_jpg -%}
"""


def export_html(notebook_path, html_path):
    """Convert `notebook_path` (already executed) to a self-contained `html_path`; return its size.

    Every code cell that outputs a figure must carry cell metadata ``"alt": "<one sentence>"``,
    which becomes the alt text of its images; a cell without it, or an image left without alt
    text (a Markdown ``![](...)``), raises ValueError naming the cells, before anything is written.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    undescribed = figures_without_alt(notebook)
    if undescribed:
        raise ValueError(f"`{notebook_path}`: cells {undescribed} (0-based indices) output a figure but have "
                         'no cell metadata "alt" (one sentence saying what the figure shows)')
    body = render_html(notebook, {"name": Path(notebook_path).stem, "path": str(Path(notebook_path).parent)})
    undescribed = images_without_alt(body)
    if undescribed:
        raise ValueError(f"`{notebook_path}`: cells {undescribed} (0-based indices) show an image with no "
                         "alt text (write it between the brackets of ![...](...))")
    Path(html_path).write_text(body, encoding="utf-8")
    return Path(html_path).stat().st_size


def render_html(notebook, metadata):
    """The HTML of `notebook` (a NotebookNode), with `metadata` ({"name", "path"}) for the template."""
    source = MATHJAX_JS.read_text(encoding="utf-8")
    if "</script" in source:  # would end the inline <script> early
        raise ValueError(f"`{MATHJAX_JS.name}` contains '</script' and cannot be inlined")
    exporter = HTMLExporter(template_name="lab", embed_images=True,
                            extra_loaders=[jinja2.DictLoader({"offline.html.j2": TEMPLATE})],
                            template_file="offline.html.j2")
    exporter.register_filter("with_alt", with_alt)
    exporter.register_filter("unbroken_runs", unbroken_runs)
    exporter.environment.globals.update(mathjax_js=markupsafe.Markup(source), unbroken=UNBROKEN)
    body, _ = exporter.from_notebook_node(notebook, resources={"metadata": metadata})
    return body


def figures_without_alt(notebook):
    """Indices in `notebook.cells` of the code cells that output a figure but have no non-empty "alt"."""
    return [index for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code"
            and any(mime in output.get("data", {}) for output in cell.outputs for mime in FIGURE_MIMES)
            and not (isinstance(cell.metadata.get("alt"), str) and cell.metadata["alt"].strip())]


def images_without_alt(html):
    """Indices of the notebook cells (the lab template's div.jp-Cell) holding an <img> with no real alt."""
    soup = BeautifulSoup(html, features="html.parser")
    return [index for index, cell in enumerate(soup.select("div.jp-Cell"))
            if any(image.get("alt", "").strip() in ("", NO_ALT) for image in cell.find_all("img"))]


def with_alt(fragment, alt):
    """The rendered output `fragment` (HTML holding one <img>) with alt text `alt` on its image.

    Without an `alt` (render_html alone does not require one), `fragment` is left as it is, and
    nbconvert puts its placeholder NO_ALT on the image, which export_html refuses.
    """
    if not (isinstance(alt, str) and alt.strip()):
        return fragment
    soup = BeautifulSoup(str(fragment), features="html.parser")
    soup.img["alt"] = alt  # escaped when written back
    return markupsafe.Markup(str(soup))


def unbroken_runs(fragment):
    """The rendered text output `fragment` (HTML) with each BREAKABLE_RUN of its text in a span.UNBROKEN."""
    soup = BeautifulSoup(str(fragment), features="html.parser")
    for text in soup.find_all(string=BREAKABLE_RUN):
        pieces = BREAKABLE_RUN.split(str(text))  # odd indices: the runs
        text.replace_with(*(_span(soup, piece) if index % 2 else piece
                            for index, piece in enumerate(pieces) if piece))
    return markupsafe.Markup(str(soup))


def _span(soup, text):
    span = soup.new_tag("span", attrs={"class": UNBROKEN})
    span.string = text
    return span


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebook", help="an executed .ipynb")
    parser.add_argument("html", help="the .html file to write")
    args = parser.parse_args()
    try:
        size = export_html(args.notebook, args.html)
    except ValueError as error:  # a defect of the notebook: say what and where, without a traceback
        raise SystemExit(f"export_html.py: error: {error}") from None
    print(f"wrote {args.html} ({size / 1e6:.1f} MB)")
