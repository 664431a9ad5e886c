"""The HTML of `make run`: one self-contained file that renders its equations with no network."""

import base64
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from export_html import NO_ALT, UNBROKEN, export_html, figures_without_alt, render_html
from tests.conftest import NOTEBOOK

MAX_BYTES = 6_000_000  # ~3 MB today: MathJax (2.3 MB) plus the figures
PNG = (  # a 1x1 image
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
OUTPUT_PRE = ".jp-OutputArea-output pre"  # the text outputs (stream, text/plain, tracebacks)
BREAKS_WORDS = {"word-break": {"break-all", "break-word"}, "overflow-wrap": {"anywhere", "break-word"}}


@pytest.fixture(scope="module")
def html():
    """The stored, already executed notebook rendered as `make run` does (no re-execution)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return render_html(notebook, {"name": NOTEBOOK.stem, "path": str(NOTEBOOK.parent)})


def figure_cell(*alt, figures=1):
    """A code cell that drew `figures` figures, with cell metadata "alt" if one is given."""
    outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
               for _ in range(figures)]
    cell = nbformat.v4.new_code_cell("plt.show()", outputs=outputs, execution_count=1)
    if alt:
        cell.metadata["alt"] = alt[0]
    return cell


@pytest.fixture
def synthetic(tmp_path):
    """Write a notebook of the given cells, with a 1x1 PNG beside it for Markdown images; return its path."""
    (tmp_path / "square.png").write_bytes(base64.b64decode(PNG))

    def write(*cells):
        notebook = nbformat.v4.new_notebook(cells=list(cells))
        path = tmp_path / "synthetic.ipynb"
        nbformat.write(notebook, path)
        return path
    return write


def alts(path):
    """The alt attribute of every <img> in the HTML file at `path`, in order (None where absent)."""
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), features="html.parser")
    return [image.get("alt") for image in soup.find_all("img")]


def css_rules(html):
    """(selectors, {property: value}) of every rule in the page's <style> elements, in document order."""
    styles = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", html, re.S))
    css = re.sub(r"/\*.*?\*/", "", styles, flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = (d.split(":", 1) for d in body.split(";") if ":" in d)
        properties = {name.strip().replace("word-wrap", "overflow-wrap"): value.strip()  # an alias
                      for name, value in declarations}
        rules.append(([" ".join(s.split()) for s in selectors.split(",")], properties))
    return rules


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


def test_text_outputs_wrap_at_spaces_not_inside_words(html):
    # the lab template's own rule breaks anywhere; the last rule for the same selector wins the cascade
    rules = css_rules(html)
    output_pre = [properties for selectors, properties in rules if OUTPUT_PRE in selectors]
    assert output_pre[0]["word-break"] == "break-all"  # the template's, which this override targets
    effective = {name: value for properties in output_pre for name, value in properties.items()}
    assert effective["white-space"] == "pre-wrap"
    assert effective["word-break"] == "normal" and effective["overflow-wrap"] == "normal"
    assert effective["overflow-x"] == "auto"  # a line with no space scrolls instead of breaking


def test_runs_a_browser_may_break_at_a_hyphen_do_not_wrap(html, synthetic, tmp_path):
    # Chromium breaks "1.19e-07" after its "-" even with word-break: normal
    effective = {name: value for selectors, properties in css_rules(html)
                 if f"{OUTPUT_PRE} .{UNBROKEN}" in selectors for name, value in properties.items()}
    assert effective["white-space"] == "nowrap"
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad-value",
                                   traceback=["\x1b[0;31mValueError\x1b[0m: bad-value at 1e-7"])
    outputs = [nbformat.v4.new_output("stream", text="difference = 1.19e-07 (< 1e-7? no)\n"),
               nbformat.v4.new_output("execute_result", data={"text/plain": "'ε-sweep'"}, execution_count=1),
               error]
    path = synthetic(nbformat.v4.new_code_cell("f()", outputs=outputs, execution_count=1))
    export_html(path, tmp_path / "out.html")
    soup = BeautifulSoup((tmp_path / "out.html").read_text(encoding="utf-8"), features="html.parser")
    pres = soup.select(OUTPUT_PRE)
    plain, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(path, as_version=4))
    plain_pres = BeautifulSoup(plain, features="html.parser").select(OUTPUT_PRE)
    assert [pre.get_text() for pre in pres] == [pre.get_text() for pre in plain_pres]  # the text unchanged
    assert "difference = 1.19e-07 (< 1e-7? no)\n" in pres[0].get_text()
    assert [span.get_text() for span in soup.select(f"pre .{UNBROKEN}")] == [
        "1.19e-07", "1e-7?", "'ε-sweep'", "bad-value", "1e-7"]
    assert pres[2].select_one("span.ansi-red-fg").get_text() == "ValueError"  # colours kept


def test_a_long_code_line_scrolls_instead_of_being_cut_off(html):
    # the template's .jp-InputArea-editor is a table cell with overflow: hidden, which cannot scroll
    effective = {name: value for selectors, properties in css_rules(html)
                 if ".jp-InputArea-editor .cm-editor" in selectors for name, value in properties.items()}
    assert effective["overflow-x"] == "auto"


def test_no_other_css_rule_breaks_words_in_text_outputs(html):
    soup = BeautifulSoup(html, features="html.parser")
    output_text = soup.select(OUTPUT_PRE)
    assert len(output_text) > 20  # the selector does select the text outputs
    breaking = [selector for selectors, properties in css_rules(html) for selector in selectors
                if any(properties.get(name) in values for name, values in BREAKS_WORDS.items())
                and selector != OUTPUT_PRE]
    assert breaking  # the template's word-wrap rules for JupyterLab's dialogs, which the page does not use
    # word-break and overflow-wrap are inherited, but the output pre sets its own: only a rule that
    # selects the pre itself or an element inside it could break its words
    inside = {id(pre) for pre in output_text}
    hit = [selector for selector in breaking for element in soup.select(selector)
           if id(element) in inside or any(id(parent) in inside for parent in element.parents)]
    assert hit == []


def test_a_figure_gets_the_alt_text_of_its_cell(synthetic, tmp_path):
    alt = 'The cost "J" falls, then rises: <1 & >0.'  # quotes and markup are escaped, not lost
    path = synthetic(nbformat.v4.new_markdown_cell("![A white square](square.png)"),
                     figure_cell(alt, figures=2), figure_cell("One figure."))
    export_html(path, tmp_path / "out.html")
    assert alts(tmp_path / "out.html") == ["A white square", alt, alt, "One figure."]


def test_a_figure_cell_without_alt_fails_naming_its_index(synthetic, tmp_path):
    path = synthetic(figure_cell("Described."), nbformat.v4.new_markdown_cell("text"), figure_cell(),
                     figure_cell("  "), nbformat.v4.new_code_cell("x = 1"))
    with pytest.raises(ValueError, match=r'cells \[2, 3\] .*no cell metadata "alt"'):
        export_html(path, tmp_path / "out.html")
    assert not (tmp_path / "out.html").exists()


def test_a_markdown_image_without_alt_fails_naming_its_index(synthetic, tmp_path):
    path = synthetic(nbformat.v4.new_markdown_cell("![Described](square.png)"),
                     nbformat.v4.new_markdown_cell("![](square.png)"), figure_cell("Described."))
    with pytest.raises(ValueError, match=r"cells \[1\] .*show an image with no alt text"):
        export_html(path, tmp_path / "out.html")


def test_stored_notebook_markdown_images_have_alt_text(html):
    soup = BeautifulSoup(html, features="html.parser")
    markdown_alts = [image.get("alt", "") for image in soup.select("div.jp-MarkdownCell img")]
    assert len(markdown_alts) >= 3
    assert all(alt.strip() and alt != NO_ALT for alt in markdown_alts), markdown_alts


def test_stored_notebook_figures_have_alt_text(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert figures_without_alt(notebook) == []
    export_html(NOTEBOOK, tmp_path / "Gradient_Checking.html")  # raises on any image without alt
    images = alts(tmp_path / "Gradient_Checking.html")
    assert len(images) >= 3 and all(alt and alt.strip() and alt != NO_ALT for alt in images), images
