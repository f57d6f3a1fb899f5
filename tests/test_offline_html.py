"""Offline pages (issue 15): the executed notebooks' HTML and the report work without the internet.

Fast tests check :mod:`polycode_lite.course.offline_html` on small hand-made notebooks: the static
widget view, the page's scripts (none from the network), the local MathJax copy.

The browser tests (marker ``browser``) open the pages in Debian's headless Chromium with every
request that is not a local file aborted and recorded: a page that tries to reach the network
fails the test. They find typeset math (MathJax elements, no raw ``$...$`` left, the STIX-Web web
font in use, no MathJax error), the static widget view with the figure the widget showed, and no
JavaScript error. The default one builds a tiny notebook (an equation, a claim with TeX, a figure
and an ``interact`` with a slider and a dropdown) with ``reproduce --fast``; the slow one does the
same for the course's notebook 03. Screenshots go to ``build/offline_*.png``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from unittest import mock

import nbformat
import pytest
from browser_env import CHROMIUM, CHROMIUM_ARGS, chromium_skip_reason

from polycode_lite.course import offline_html as O

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
# the schemes a page may load without the network
LOCAL = ("file:", "data:", "about:", "blob:")
RAW_TEX = re.compile(r"\$[^$\n]{1,80}\$|\\\(|\\\[")


# ------------------------------------------------------------------ hand-made widget state

def _model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls",
            "model_module_version": "2.0.0", "state": state}


def _state() -> dict:
    png = "iVBORw0KGgo="  # a PNG header: enough for the static view, not for a browser
    return {
        "box": _model("VBoxModel", _dom_classes=["widget-interact"],
                      children=["IPY_MODEL_s", "IPY_MODEL_d", "IPY_MODEL_b", "IPY_MODEL_out"]),
        "s": _model("FloatSliderModel", description="α", value=1.5, min=0.5, max=3.0),
        "d": _model("DropdownModel", description="layer", index=1,
                    _options_labels=["fc1", "fc5"]),
        "b": _model("ButtonModel", description="Retrain"),
        "out": {"model_name": "OutputModel", "model_module": "@jupyter-widgets/output",
                "model_module_version": "1.0.0",
                "state": {"outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "α̂ = 1.49\n"},
                    {"output_type": "display_data", "metadata": {},
                     "data": {"image/png": png, "text/plain": "<Figure>"}}]}},
    }


def _view(model_id: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {O.WIDGET_VIEW: {"model_id": model_id, "version_major": 2,
                                     "version_minor": 0},
                     "text/plain": "interactive(children=(FloatSlider(...)))"}}


def _widget_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("An equation: $x^2$ and $$\\sum_i x_i.$$"),
                nbformat.v4.new_code_cell("interact(...)", outputs=[
                    nbformat.from_dict(_view("box"))])]
    nb.metadata["widgets"] = {O.WIDGET_STATE: {"state": _state(), "version_major": 2,
                                               "version_minor": 0}}
    return nb


def test_static_view_names_the_controls_and_keeps_the_widget_outputs() -> None:
    outs = O.static_widget_outputs(_view("box"), _state())
    assert len(outs) == 3
    note = outs[0]["data"]["text/html"]
    assert O.STATIC_NOTE_CLASS in note and "interactive in Jupyter: run the notebook" in note
    assert "α = 1.5 (slider 0.5–3)" in note
    assert "layer = fc5 (dropdown: fc1, fc5)" in note
    assert "button “Retrain”" in note
    assert outs[1]["text"] == "α̂ = 1.49\n"
    assert "image/png" in outs[2]["data"]


def test_static_view_without_stored_state_says_so() -> None:
    outs = O.static_widget_outputs(_view("gone"), {})
    assert len(outs) == 1 and "was not stored" in outs[0]["data"]["text/html"]
    assert "no output" in outs[0]["data"]["text/html"]


def test_non_widget_output_is_unchanged_and_bad_input_is_refused() -> None:
    out = {"output_type": "stream", "name": "stdout", "text": "hi\n"}
    assert O.static_widget_outputs(out, {}) == [out]
    with pytest.raises(TypeError, match="output must be"):
        O.static_widget_outputs("nope", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="nb must be a notebook"):
        O.static_widget_notebook([])
    with pytest.raises(TypeError, match="text must be a str"):
        O.has_tex(None)  # type: ignore[arg-type]


def test_log_slider_and_toggle_buttons() -> None:
    state = {"v": _model("VBoxModel", children=["IPY_MODEL_l", "IPY_MODEL_t"]),
             "l": _model("FloatLogSliderModel", description="noise", value=1e-4, base=10.0,
                         min=-5.0, max=-1.0),
             "t": _model("ToggleButtonsModel", description="", index=0,
                         _options_labels=["eval", "train"])}
    note = O.static_widget_outputs(_view("v"), state)[0]["data"]["text/html"]
    assert "noise = 0.0001 (log slider 1e-05–0.1)" in note
    assert "togglebuttons = eval (togglebuttons: eval, train)" in note


def test_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    page = tmp_path / "nb.html"
    nb = _widget_notebook()
    body = O.offline_html(nb, page)
    srcs = re.findall(r"<script[^>]*\bsrc=['\"]([^'\"]+)", body)
    assert srcs == [f"_static/mathjax/MathJax.js?config={O.MATHJAX_CONFIG}"]
    assert not re.findall(r"\b(?:src|href)=['\"]https?://[^'\"]*\.(?:js|css|mjs)", body)
    assert "require.min.js" not in body and "html-manager" not in body
    assert "mermaid.esm" not in body
    assert O.WIDGET_VIEW not in body and O.STATIC_NOTE_CLASS in body
    assert "webFont: 'STIX-Web'" in body
    # the report links claims to nbconvert's cell anchors: the offline page keeps them
    assert f'id="cell-id={nb.cells[1].id}"' in body


def test_write_offline_html_copies_mathjax_once(tmp_path: Path) -> None:
    nb_path = tmp_path / "nb.ipynb"
    nbformat.write(_widget_notebook(), str(nb_path))
    page = O.write_offline_html(nb_path)
    mj = tmp_path / O.STATIC_DIR / "mathjax"
    assert page == tmp_path / "nb.html" and (mj / "MathJax.js").is_file()
    assert (mj / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()
    assert list((mj / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").glob("*.woff"))
    mtime = (mj / "MathJax.js").stat().st_mtime_ns
    O.copy_mathjax(tmp_path)  # up to date: not copied again
    assert (mj / "MathJax.js").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="is not a file"):
        O.write_offline_html(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="is a file"):
        O.copy_mathjax(nb_path)


def test_mathjax_url_is_relative_to_the_page(tmp_path: Path) -> None:
    assert O.mathjax_url(tmp_path / "a.html").startswith("_static/mathjax/MathJax.js?config=")
    assert O.mathjax_url(tmp_path / "sub" / "a.html", tmp_path).startswith("../_static/")


@pytest.mark.parametrize("text,tex", [("a $x^2$ b", True), ("$$y$$", True), ("\\(a\\)", True),
                                      ("costs $5 and $6", False), ("no math", False)])
def test_has_tex(text: str, tex: bool) -> None:
    assert O.has_tex(text) is tex


def test_report_with_tex_loads_the_local_mathjax(tmp_path: Path) -> None:
    from polycode_lite.course.report import render_report

    claim = {"notebook": "00_x", "claim": "the page shows $x^2$", "measured": "1",
             "verdict": "holds"}
    page = render_report([], tmp_path, True, [claim], [], environment={})
    assert "_static/mathjax/MathJax.js" in page
    plain = render_report([], tmp_path, True, [{**claim, "claim": "α ≈ 1"}], [], environment={})
    assert "MathJax" not in plain


# ------------------------------------------------------------------ the browser, offline

def _skip_reason() -> str | None:
    return chromium_skip_reason("offline-page browser test")


_DRAW = """\
def draw(power=2, colour='C0'):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(range(5), [i ** power for i in range(5)], color=colour)
    ax.set(xlabel='i', ylabel='i^p', title=f'power {power}')
    plt.show()
widgets.interact(draw, power=widgets.IntSlider(value=2, min=1, max=4, description='power'),
                 colour=widgets.Dropdown(options=['C0', 'C1'], value='C1', description='colour'));
"""
_FIGURE_AND_CLAIM = """\
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([1, 2, 3], [1, 4, 9])
ax.set(xlabel='x (units)', ylabel='x² (units²)', title='a parabola')
show_figure(fig, 'parabola', 'The curve is $x^2$.', notebook=NB)
record_claim(notebook=NB, claim='The report typesets $x^2$ offline',
             measured='$x^2$ = 4 at x = 2', verdict='holds', figure='parabola');
"""
_TINY = [
    ("code", "FAST = False", ["parameters"]),
    ("markdown", ("# Offline probe\n\nInline $x^2 + y^2 = r^2$ and display\n\n"
                  "$$\\sum_{i=1}^{n} \\lambda_i \\propto n^{-\\alpha}$$"), []),
    ("code", ("import matplotlib.pyplot as plt\nimport ipywidgets as widgets\n"
              "from polycode_lite.course.claims import record_claim, show_figure\n"
              "NB = '00_offline_probe'"), []),
    ("code", _FIGURE_AND_CLAIM, []),
    ("code", _DRAW, []),
]


def _build(out: Path, notebook_dir: Path, only: str | None = None) -> list:
    from polycode_lite.course.reproduce import reproduce

    with mock.patch.dict(os.environ):  # reproduce sets POLYCODE_RESULTS_DIR
        # the kernel draws with the inline backend, as for a user (conftest sets Agg, under
        # which a widget's plt.show() leaves its Output area empty)
        os.environ.pop("MPLBACKEND", None)
        return reproduce(out, fast=True, only=only, notebook_dir=notebook_dir)


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory) -> Path:
    """``reproduce --fast`` of a tiny notebook: an equation, a TeX claim, a figure, a widget."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("offline")
    nb_dir = root / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for kind, src, tags in _TINY:
        cell = (nbformat.v4.new_code_cell(src) if kind == "code"
                else nbformat.v4.new_markdown_cell(src))
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, str(nb_dir / "00_offline_probe.ipynb"))
    t0 = time.perf_counter()
    runs = _build(root / "build", nb_dir)
    assert runs and runs[0].ok, f"the probe notebook failed: {runs[0].error}"
    print(f"tiny reproduce --fast: {time.perf_counter() - t0:.1f} s")
    return root / "build"


def _open_offline(path: Path, shot: str) -> dict:
    """Open ``path`` in Chromium with the network cut off; wait for MathJax; return what the
    page shows. Fails if the page asks for anything that is not a local file."""
    from playwright.sync_api import sync_playwright

    BUILD.mkdir(exist_ok=True)
    attempted: list[str] = []
    errors: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:
            attempted.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1200, "height": 900},
                                      service_workers="block")
            ctx.route("**/*", route)
            page = ctx.new_page()
            page.on("request", lambda r: None if r.url.startswith(LOCAL)
                    else attempted.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            t0 = time.perf_counter()
            page.goto(path.resolve().as_uri(), wait_until="load")
            has_mj = page.evaluate("() => !!document.querySelector("
                                   "'script[src*=\"_static/mathjax/MathJax.js\"]')")
            if has_mj:
                page.wait_for_function(
                    "() => window.MathJax && MathJax.isReady && !MathJax.Hub.queue.running"
                    " && MathJax.Hub.queue.pending === 0", timeout=60_000, polling=200)
            seconds = time.perf_counter() - t0
            info = page.evaluate("""() => ({
                math: document.querySelectorAll('.MathJax, .MathJax_Display').length,
                math_errors: document.querySelectorAll('.MathJax .merror, .MathJax_Error').length,
                font: window.MathJax && MathJax.OutputJax['HTML-CSS']
                      ? MathJax.OutputJax['HTML-CSS'].fontInUse : null,
                text: [...document.querySelectorAll('.jp-RenderedMarkdown, td, p, h1, h2, li')]
                      .map(e => e.innerText).join('\\n'),
                images: [...document.images].map(i => [i.src.slice(0, 40),
                                                        i.complete && i.naturalWidth > 0]),
                notes: [...document.querySelectorAll('.polycode-static-widget')].map(n => {
                    const cell = n.closest('.jp-Cell');
                    return {text: n.innerText, images: cell ? [...cell.querySelectorAll(
                        '.jp-OutputArea img')].filter(i => i.naturalWidth > 0).length : 0};
                }),
            })""")
            info["seconds"] = seconds
            first = page.locator(".MathJax").first
            if info["math"]:
                first.scroll_into_view_if_needed()
            page.screenshot(path=str(BUILD / f"offline_{shot}_math.png"))
            if info["notes"]:
                page.locator(".polycode-static-widget").first.scroll_into_view_if_needed()
                page.screenshot(path=str(BUILD / f"offline_{shot}_widget.png"))
        finally:
            browser.close()
    assert not attempted, f"{path.name} tried to reach the network: {attempted}"
    assert not errors, f"{path.name}: JavaScript console errors: {errors}"
    broken = [src for src, ok in info["images"] if not ok]
    assert not broken, f"{path.name}: images that did not load: {broken}"
    return info


def _assert_math(info: dict, name: str, at_least: int) -> None:
    assert info["math"] >= at_least, f"{name}: {info['math']} typeset equations, want {at_least}"
    assert info["math_errors"] == 0, f"{name}: MathJax reported errors"
    assert info["font"] == "STIX-Web", f"{name}: MathJax used font {info['font']!r}"
    raw = RAW_TEX.findall(info["text"])
    assert not raw, f"{name}: raw TeX left on the page: {raw[:5]}"


@pytest.mark.browser
def test_tiny_notebook_renders_math_and_the_static_widget_offline(tiny_build: Path) -> None:
    info = _open_offline(tiny_build / "00_offline_probe.html", "00_offline_probe")
    _assert_math(info, "00_offline_probe", 3)
    assert len(info["notes"]) == 1, f"one static widget view expected: {info['notes']}"
    note = info["notes"][0]
    assert "interactive in Jupyter: run the notebook" in note["text"]
    assert "power = 2 (slider 1–4)" in note["text"]
    assert "colour = C1 (dropdown: C0, C1)" in note["text"]
    assert note["images"] >= 1, "the widget's figure is not shown in its static view"
    print(f"tiny notebook page: typeset in {info['seconds']:.1f} s")


@pytest.mark.browser
def test_report_renders_offline(tiny_build: Path) -> None:
    info = _open_offline(tiny_build / "report.html", "report")
    _assert_math(info, "report.html", 2)  # the probe's claim and measurement hold $x^2$
    assert any(ok for _, ok in info["images"]), "the report shows no figure"
    print(f"report page: typeset in {info['seconds']:.1f} s")


@pytest.mark.browser
@pytest.mark.slow
def test_course_notebook_03_renders_offline(tmp_path: Path) -> None:
    """The course's notebook 03 (the fastest with equations and a widget), as ``reproduce
    --fast --only 03_`` writes it."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from polycode_lite.course.reproduce import NOTEBOOK_DIR

    runs = _build(tmp_path, NOTEBOOK_DIR, only="03_")
    assert runs[0].ok and runs[0].html is not None, runs[0].error
    info = _open_offline(runs[0].html, runs[0].name)
    _assert_math(info, runs[0].name, 3)
    assert info["notes"] and all(n["images"] for n in info["notes"]), info["notes"]
    assert "α = " in info["notes"][0]["text"]
    _open_offline(tmp_path / "report.html", f"report_{runs[0].name}")
