"""Write an executed notebook as ONE self-contained HTML file: figures and MathJax 3 inside it."""

import argparse
import importlib.resources
from pathlib import Path

import jinja2
import markupsafe
import nbformat
from nbconvert import HTMLExporter

# MathJax 3's single-file TeX -> SVG bundle from the django-static-mathjax wheel: its fonts are
# SVG paths inside the script, and "-full" holds every TeX extension, so nothing is fetched later.
MATHJAX_JS = importlib.resources.files("mathjax") / "static" / "mathjax" / "es5" / "tex-svg-full.js"

# The lab template, minus everything it loads from a CDN: require.js (only widgets need it),
# MathJax 2 (replaced by the inlined MathJax 3) and mermaid (the notebook has no diagrams).
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style>
/* A tagged display equation spans the cell; let a wide one scroll on its own, not the whole cell. */
.jp-MarkdownOutput.jp-RenderedHTMLCommon { overflow: visible; }
mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; }
</style>
{%- endblock extra_css -%}
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
"""


def export_html(notebook_path, html_path):
    """Convert `notebook_path` (already executed) to a self-contained `html_path`; return its size."""
    source = MATHJAX_JS.read_text(encoding="utf-8")
    if "</script" in source:  # would end the inline <script> early
        raise ValueError(f"`{MATHJAX_JS.name}` contains '</script' and cannot be inlined")
    exporter = HTMLExporter(template_name="lab", embed_images=True,
                            extra_loaders=[jinja2.DictLoader({"offline.html.j2": TEMPLATE})],
                            template_file="offline.html.j2")
    notebook = nbformat.read(notebook_path, as_version=4)
    resources = {"metadata": {"name": Path(notebook_path).stem, "path": str(Path(notebook_path).parent)}}
    exporter.environment.globals["mathjax_js"] = markupsafe.Markup(source)
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    Path(html_path).write_text(body, encoding="utf-8")
    return Path(html_path).stat().st_size


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebook", help="an executed .ipynb")
    parser.add_argument("html", help="the .html file to write")
    args = parser.parse_args()
    size = export_html(args.notebook, args.html)
    print(f"wrote {args.html} ({size / 1e6:.1f} MB)")
