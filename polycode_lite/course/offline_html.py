"""HTML pages of executed notebooks that work without the internet.

nbconvert's ``lab`` template loads MathJax, require.js and the Jupyter widget manager from CDNs:
offline, equations show as raw LaTeX and widgets are blank. :func:`write_offline_html` exports a
notebook so that the page fetches nothing from the network:

* **Math**: MathJax 2 from the ``jupyter-server-mathjax`` package (the copy classic Jupyter
  serves; HTML-CSS output with its STIX-Web fonts) is copied next to the page, into
  ``_static/mathjax/`` (:func:`copy_mathjax`), and nbconvert's ``mathjax_url`` points at it.
* **Widgets**: a page without a kernel cannot run a widget's callback, so each widget output is
  replaced by a **static view** (:func:`static_widget_outputs`): a note that names the controls
  with the values they had when the notebook ran ("interactive in Jupyter: run the notebook"),
  followed by the last outputs of the widget's ``Output`` areas (the figure and text that the
  widget showed), which nbclient stored in the notebook's widget state. The widget-manager,
  require.js and mermaid scripts are left out of the page.

:func:`has_tex` and :func:`mathjax_head` serve other pages (the report) that may hold TeX.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

__all__ = [
    "MATHJAX_CONFIG",
    "STATIC_DIR",
    "STATIC_NOTE_CLASS",
    "copy_mathjax",
    "has_tex",
    "mathjax_head",
    "mathjax_source",
    "mathjax_url",
    "offline_html",
    "static_widget_notebook",
    "static_widget_outputs",
    "write_offline_html",
]

#: folder, next to the pages, that holds the local assets
STATIC_DIR = "_static"
#: the MathJax 2 configuration shipped by jupyter-server-mathjax (TeX input, HTML-CSS output)
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
#: CSS class of the note that opens each static widget view
STATIC_NOTE_CLASS = "polycode-static-widget"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_STAMP = ".polycode-mathjax-version"
_MODEL_REF = "IPY_MODEL_"

_NOTE_CSS = f"""
.{STATIC_NOTE_CLASS} {{ border-left: 4px solid #1e88e5; background: #f3f7fc; padding: 6px 10px;
  margin: 4px 0; font-size: 0.92em; color: #333; }}
.{STATIC_NOTE_CLASS} span {{ white-space: nowrap; }}
"""

# jupyter-server-mathjax ships only the STIX-Web web fonts: use them, never look for local or
# image fonts (as classic Jupyter configures it). MathJax's font-loading probe "MathJax_Blank"
# points at about:blank, which a file:// page may not load (a console error): a local() name.
_HTML_CSS_CONFIG = ("MathJax.Hub.Config({'HTML-CSS': {availableFonts: [], preferredFont: null, "
                    "webFont: 'STIX-Web', imageFont: null, styles: {'@font-face': "
                    "{'font-family': 'MathJax_Blank', src: \"local('MathJax_Blank')\"}}}});")

# The lab template with the network left out: no require.js, no widget manager, no mermaid.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block extra_css %}<style type="text/css">""" + _NOTE_CSS + """</style>
<script type="text/x-mathjax-config">""" + _HTML_CSS_CONFIG + """</script>
{% endblock extra_css %}
"""
_TEMPLATE_NAME = "polycode_offline.html.j2"


def mathjax_source() -> Path:
    """The MathJax 2 folder shipped by ``jupyter-server-mathjax`` (holds ``MathJax.js``).

    Raises ImportError naming the fix when the package is missing."""
    try:
        import jupyter_server_mathjax
    except ImportError as exc:
        raise ImportError("offline HTML needs MathJax from the jupyter-server-mathjax package: "
                          "pip install jupyter-server-mathjax (a polycode-lite dependency)") from exc
    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (src / "MathJax.js").is_file():
        raise ImportError(f"jupyter-server-mathjax has no MathJax.js in {src}; reinstall it")
    return src


def _mathjax_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jupyter-server-mathjax")
    except PackageNotFoundError:
        return "unknown"


def copy_mathjax(page_dir: Path) -> Path:
    """Copy MathJax into ``page_dir/_static/mathjax`` (once per package version) and return it.

    About 600 files, 9.6 MB: the whole MathJax tree that jupyter-server-mathjax ships, so that
    the math menu, its accessibility tools and other locales also work offline."""
    page_dir = Path(page_dir)
    if page_dir.exists() and not page_dir.is_dir():
        raise ValueError(f"page_dir {page_dir} is a file; pass the folder that holds the pages")
    dest = page_dir / STATIC_DIR / "mathjax"
    stamp = dest / _STAMP
    want = _mathjax_version()
    if stamp.is_file() and stamp.read_text().strip() == want and (dest / "MathJax.js").is_file():
        return dest
    src = mathjax_source()
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    stamp.write_text(want + "\n")
    return dest


def mathjax_url(page: Path, page_dir: Path | None = None) -> str:
    """URL of the local MathJax, relative to the page (``_static/mathjax/MathJax.js?config=...``).

    ``page_dir``: the folder whose ``_static`` holds MathJax (default: the page's folder)."""
    page = Path(page)
    base = Path(page_dir) if page_dir is not None else page.parent
    rel = Path(_relpath(base / STATIC_DIR / "mathjax" / "MathJax.js", page.parent))
    return f"{rel.as_posix()}?config={MATHJAX_CONFIG}"


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target.resolve(), start.resolve())


_TEX = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\s][^$\n]*?(?<![\\\s])\$(?!\d)|\\\(.+?\\\)|\\\[.+?\\\]",
                  re.DOTALL)


def has_tex(text: str) -> bool:
    """Whether ``text`` holds TeX that MathJax would typeset (``$...$``, ``$$...$$``, ``\\(...\\)``,
    ``\\[...\\]``); a lone dollar sign ("costs $5") does not count."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return bool(_TEX.search(text))


def mathjax_head(page: Path, page_dir: Path | None = None) -> str:
    """``<script>`` tags that typeset the TeX of a hand-written page (e.g. the report) with the
    local MathJax; call :func:`copy_mathjax` for the same folder."""
    url = html.escape(mathjax_url(page, page_dir), quote=True)
    config = ("MathJax.Hub.Config({tex2jax: {inlineMath: [['$','$'], ['\\\\(','\\\\)']], "
              "processEscapes: true}, messageStyle: 'none'});")
    return (f"<script type='text/x-mathjax-config'>{config}\n{_HTML_CSS_CONFIG}</script>\n"
            f"<script src='{url}'></script>")


# ----------------------------------------------------------------------------- widgets

def _refs(value: Any) -> list[str]:
    """Model ids referenced by a state value ("IPY_MODEL_<id>", possibly inside lists)."""
    if isinstance(value, str) and value.startswith(_MODEL_REF):
        return [value[len(_MODEL_REF):]]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs(v)]
    return []


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "–".join(_fmt(v) for v in value)
    return str(value)


def _control(model: dict[str, Any]) -> str | None:
    """One line naming a control and its value at run time, e.g. "α = 1 (slider 0.5–3)"."""
    name = model.get("model_name", "")
    st = model.get("state", {})
    label = st.get("description") or ""
    if name in ("OutputModel", "LabelModel", "HTMLModel", "HTMLMathModel") or name.endswith(
            ("BoxModel", "LayoutModel", "StyleModel")) or name == "TabModel":
        return None
    if name == "ButtonModel":
        return f"button “{label}”"
    if "_options_labels" in st:
        labels = list(st.get("_options_labels") or [])
        idx = st.get("index")
        if isinstance(idx, (list, tuple)):
            shown = ", ".join(labels[i] for i in idx if 0 <= i < len(labels))
        else:
            shown = labels[idx] if isinstance(idx, int) and 0 <= idx < len(labels) else "—"
        kind = name.replace("Model", "").lower()
        return f"{label or kind} = {shown} ({kind}: {', '.join(labels)})"
    if "value" not in st:
        return None
    value = st["value"]
    if name == "FloatLogSliderModel":
        base = st.get("base", 10.0)
        lo, hi = base ** st.get("min", 0), base ** st.get("max", 0)
        return f"{label} = {_fmt(value)} (log slider {_fmt(lo)}–{_fmt(hi)})"
    if "Slider" in name:
        return f"{label} = {_fmt(value)} (slider {_fmt(st.get('min'))}–{_fmt(st.get('max'))})"
    return f"{label} = {_fmt(value)}" if label else f"{name.replace('Model', '')} = {_fmt(value)}"


def _walk(model_id: str, state: dict[str, Any], controls: list[str],
          outputs: list[dict[str, Any]], seen: set[str]) -> None:
    """Depth-first over a widget tree: collect control lines and Output-area outputs in order."""
    if model_id in seen or model_id not in state:
        return
    seen.add(model_id)
    model = state[model_id]
    st = model.get("state", {})
    name = model.get("model_name", "")
    line = _control(model)
    if line is not None:
        controls.append(line)
    if name == "OutputModel":
        for out in st.get("outputs") or []:
            nested = (out.get("data") or {}).get(WIDGET_VIEW)
            if nested and isinstance(nested, dict) and "model_id" in nested:
                _walk(nested["model_id"], state, controls, outputs, seen)
            else:
                outputs.append(out)
    elif name in ("HTMLModel", "HTMLMathModel", "LabelModel") and st.get("value"):
        value = st["value"] if name != "LabelModel" else html.escape(str(st["value"]))
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {"text/html": str(value), "text/plain": str(st["value"])}})
    for key in ("children",):
        for ref in _refs(st.get(key)):
            _walk(ref, state, controls, outputs, seen)


def _note(controls: list[str], has_outputs: bool) -> dict[str, Any]:
    items = " · ".join(f"<span>{html.escape(c)}</span>" for c in controls)
    shown = ("Below: what it showed when the notebook ran, with the settings"
             if has_outputs else "It showed no output when the notebook ran (it may wait for "
             "a button press); its settings were")
    body = (f"<div class='{STATIC_NOTE_CLASS}'><b>Static view of an interactive widget</b> "
            f"(interactive in Jupyter: run the notebook). {shown}"
            + (f": {items}." if items else ".") + "</div>")
    plain = ("Static view of an interactive widget (interactive in Jupyter: run the notebook). "
             + "; ".join(controls))
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": body, "text/plain": plain}}


def widget_state(nb: Any) -> dict[str, Any]:
    """The stored widget models of a notebook (``{}`` when it was run without widget state)."""
    widgets = (nb.get("metadata") or {}).get("widgets") or {}
    return dict((widgets.get(WIDGET_STATE) or {}).get("state") or {})


def static_widget_outputs(output: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """The outputs that stand in for one widget-view output: a note naming the controls and
    their run-time values, then the last outputs of its Output areas.

    An output that is not a widget view is returned unchanged (as a one-item list); a view whose
    model is not in ``state`` (run without stored widget state) becomes its plain-text fallback
    plus the note."""
    if not isinstance(output, dict):
        raise TypeError(f"output must be a notebook output dict, not {type(output).__name__}")
    view = (output.get("data") or {}).get(WIDGET_VIEW)
    if not isinstance(view, dict) or "model_id" not in view:
        return [output]
    controls: list[str] = []
    outputs: list[dict[str, Any]] = []
    _walk(view["model_id"], state, controls, outputs, set())
    if view["model_id"] not in state:
        controls.append("(the widget's state was not stored when the notebook ran)")
    return [_note(controls, bool(outputs)), *outputs]


def static_widget_notebook(nb: Any) -> Any:
    """A copy of an executed notebook whose widget outputs are static views
    (:func:`static_widget_outputs`) and whose metadata holds no widget state, so nbconvert adds
    no widget-manager script. Accepts an ``nbformat.NotebookNode``."""
    import copy

    import nbformat

    if not hasattr(nb, "cells"):
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), not {type(nb).__name__}")
    nb = copy.deepcopy(nb)
    state = widget_state(nb)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        new: list[Any] = []
        for out in cell.get("outputs", []):
            new.extend(nbformat.from_dict(o) for o in static_widget_outputs(out, state))
        cell["outputs"] = new
    nb.metadata.pop("widgets", None)
    return nb


# ----------------------------------------------------------------------------- export

def offline_html(nb: Any, page: Path) -> str:
    """The notebook as an HTML page that loads nothing from the network; MathJax is expected
    at ``_static/mathjax`` beside ``page`` (see :func:`write_offline_html`)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", template_file=_TEMPLATE_NAME,
                            extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
                            mathjax_url=mathjax_url(page))
    body, _ = exporter.from_notebook_node(static_widget_notebook(nb))
    return body


def write_offline_html(nb_path: Path, html_path: Path | None = None) -> Path:
    """Export an executed notebook to an offline HTML page (default: beside it, ``.html``) and
    copy MathJax next to the page; returns the page's path."""
    import nbformat

    nb_path = Path(nb_path)
    if not nb_path.is_file():
        raise ValueError(f"nb_path {nb_path} is not a file; pass an executed .ipynb")
    html_path = Path(html_path) if html_path is not None else nb_path.with_suffix(".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    copy_mathjax(html_path.parent)
    nb = nbformat.read(str(nb_path), as_version=4)
    html_path.write_text(offline_html(nb, html_path), encoding="utf-8")
    return html_path
