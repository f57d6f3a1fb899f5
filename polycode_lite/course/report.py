"""The reproduction report: one HTML page summarising a run of the notebook sequence.

``polycode-lite reproduce`` (``make run``) calls :func:`write_report` after executing the
notebooks. The page opens with the **claims table** (each paper claim, its notebook, the figure
we measured with its CI or tolerance, and a verdict), then the status of every notebook (with
the failing cell when one failed, and links to the executed notebook), then every figure with
its caption. Everything it shows comes from files the notebooks wrote:
``<out>/results/claims__*.json`` (:func:`polycode_lite.course.claims.record_claim`) and
``<out>/results/*.png`` + ``.txt`` captions (:func:`polycode_lite.course.claims.show_figure`).
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path
from typing import Any, Sequence

__all__ = ["write_report", "render_report"]

_VERDICT_CLASS = {"holds": "holds", "partly": "partly", "does not hold at this scale": "fails"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #ccc;padding:.35em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f2f2f2}
.holds{background:#e3f6e3}.partly{background:#fff5d6}.fails{background:#fde2e2}
.ok{color:#17702a;font-weight:600}.failed{color:#b00020;font-weight:600}
.stale{color:#888;font-style:italic}
table.claims{table-layout:fixed}
table.claims td{overflow-wrap:anywhere}
figure{display:inline-block;width:31%;margin:.5%;vertical-align:top}
figure img{width:100%;border:1px solid #ddd}
figcaption{font-size:.85em}
code,pre{background:#f6f6f6;padding:.1em .3em}
pre{white-space:pre-wrap;max-height:12em;overflow:auto}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _rel(path: Path | str | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve()).replace(os.sep, "/")
    except ValueError:  # different drive on Windows
        return Path(path).as_uri()


def _run_field(run: Any, name: str, default: Any = None) -> Any:
    if isinstance(run, dict):
        return run.get(name, default)
    return getattr(run, name, default)


def _figures(results: Path) -> list[tuple[str, Path, str]]:
    """(notebook stem, png path, caption) for every saved figure, sorted by file name."""
    out = []
    for png in sorted(results.glob("*.png")):
        stem = png.stem.split("__")[0] if "__" in png.stem else ""
        cap = png.with_suffix(".txt")
        out.append((stem, png, cap.read_text(encoding="utf-8") if cap.exists() else ""))
    return out


def _find_figure(results: Path, notebook: str, figure: str | None) -> str | None:
    """File name of a claim's figure under ``results``: the name as recorded, or the name
    :func:`polycode_lite.course.claims.show_figure` gives it (``<notebook>__<slug>.png``)."""
    from polycode_lite.course.claims import _slug

    if not figure:
        return None
    stem = Path(figure).stem
    for name in (Path(figure).name, f"{notebook}__{Path(figure).name}",
                 f"{notebook}__{_slug(stem)}.png"):
        if (results / name).is_file():
            return name
    return None


def render_report(
    runs: Sequence[Any],
    out_dir: Path,
    fast: bool,
    claims: Sequence[dict[str, Any]],
    figures: Sequence[tuple[str, Path, str]],
    total_seconds: float | None = None,
) -> str:
    """The report as an HTML string (pure function of its inputs; see :func:`write_report`)."""
    out_dir = Path(out_dir)
    by_name = {_run_field(r, "name"): r for r in runs}
    n_ok = sum(bool(_run_field(r, "ok")) for r in runs)
    if total_seconds is None:
        total_seconds = sum(float(_run_field(r, "seconds", 0.0) or 0.0) for r in runs)
    mode = ("fast mode (embedded defaults, reduced sizes)" if fast
            else "full mode (embedded defaults)")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>polycode_lite reproduction report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>polycode_lite: reproduction report</h1>",
        f"<p>Marshall &amp; Kirchner (2024), <i>Understanding polysemanticity in neural networks "
        f"through coding theory</i>. Run in {_e(mode)} on {_e(now)}: "
        f"<b>{n_ok}/{len(runs)}</b> notebooks ran, {len(claims)} claims measured, "
        f"{total_seconds:.0f} s in total.</p>",
        "<h2 id='claims'>Claims</h2>",
    ]
    if not claims:
        parts.append("<p>No claims were recorded in this run.</p>")
    else:
        counts = {v: sum(c.get("verdict") == v for c in claims) for v in _VERDICT_CLASS}
        parts.append("<p>" + ", ".join(f"{n} {_e(v)}" for v, n in counts.items()) + ".</p>")
        parts.append("<table class='claims'><colgroup><col style='width:21%'>"
                     "<col style='width:10%'><col style='width:15%'><col style='width:22%'>"
                     "<col style='width:18%'><col style='width:8%'><col style='width:6%'></colgroup>"
                     "<tr><th>paper claim</th><th>notebook</th><th>expected</th>"
                     "<th>measured (CI / tolerance)</th><th>control</th><th>verdict</th>"
                     "<th>figure</th></tr>")
        for c in claims:
            nb = c.get("notebook", "")
            run = by_name.get(nb)
            nb_cell = _e(nb)
            html_path = _run_field(run, "html") if run is not None else None
            if html_path and Path(html_path).exists():
                nb_cell = f"<a href='{_e(_rel(html_path, out_dir))}'>{_e(nb)}</a>"
            stale = ""
            if run is None:
                stale = "<br><span class='stale'>(from an earlier run: not run now)</span>"
            elif not _run_field(run, "ok"):
                stale = "<br><span class='stale'>(notebook failed in this run)</span>"
            fig_cell = ""
            fig = _find_figure(out_dir / "results", nb, c.get("figure"))
            if fig is not None:
                fig_cell = f"<a href='results/{_e(fig)}' title='{_e(fig)}'>figure</a>"
            elif c.get("figure"):
                fig_cell = _e(c.get("figure"))
            verdict = c.get("verdict", "")
            parts.append(
                f"<tr class='{_VERDICT_CLASS.get(verdict, '')}'><td>{_e(c.get('claim'))}</td>"
                f"<td>{nb_cell}{stale}</td><td>{_e(c.get('expected'))}</td>"
                f"<td>{_e(c.get('measured'))}</td><td>{_e(c.get('control') or '—')}</td>"
                f"<td><b>{_e(verdict)}</b></td>"
                f"<td>{fig_cell}</td></tr>")
        parts.append("</table>")
        from polycode_lite.course.claims import SOURCE_TAGS, tags_in

        used = [t for t in SOURCE_TAGS if any(t in tags_in(c.get("expected", "")) for c in claims)]
        if used:
            parts.append("<p class='legend'>Source tags in <i>expected</i>: " + "; ".join(
                f"<b>[{_e(t)}]</b> {_e(SOURCE_TAGS[t])}" for t in used)
                + " (docs/paper_guide.md §10).</p>")

    parts.append("<h2 id='notebooks'>Notebooks</h2>")
    parts.append("<table><tr><th>notebook</th><th>status</th><th>time (s)</th>"
                 "<th>executed copy</th><th>failing cell</th></tr>")
    for r in runs:
        name = _run_field(r, "name")
        ok = bool(_run_field(r, "ok"))
        links = []
        for key, label in (("html", "HTML"), ("output", "ipynb")):
            p = _run_field(r, key)
            if p and Path(p).exists():
                links.append(f"<a href='{_e(_rel(p, out_dir))}'>{label}</a>")
        fail = ""
        if not ok:
            extra = _run_field(r, "extra", {}) or {}
            cell = _run_field(r, "failing_cell")
            fail = (f"cell {_e(cell)}: <code>{_e(_run_field(r, 'error'))}</code>"
                    if cell is not None else f"<code>{_e(_run_field(r, 'error'))}</code>")
            if extra.get("failing_source"):
                fail += f"<pre>{_e(extra['failing_source'])}</pre>"
        status = "<span class='ok'>ok</span>" if ok else "<span class='failed'>FAILED</span>"
        parts.append(f"<tr><td>{_e(name)}</td><td>{status}</td>"
                     f"<td>{float(_run_field(r, 'seconds', 0.0) or 0.0):.1f}</td>"
                     f"<td>{' · '.join(links)}</td><td>{fail}</td></tr>")
    parts.append("</table>")

    parts.append("<h2 id='figures'>Figures</h2>")
    if not figures:
        parts.append("<p>No figures were saved in this run.</p>")
    current = None
    for stem, png, caption in figures:
        if stem != current:
            parts.append(f"<h3>{_e(stem or 'other')}</h3>")
            current = stem
        src = _e(_rel(png, out_dir))
        parts.append(f"<figure><a href='{src}'><img src='{src}' alt='{_e(png.stem)}'></a>"
                     f"<figcaption><b>{_e(png.stem)}</b>: {_e(caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(runs: Sequence[Any], out_dir: Path, fast: bool,
                 total_seconds: float | None = None) -> Path:
    """Write ``out_dir/report.html`` from the runs and the claims/figures under ``out_dir/results``.

    Args:
        runs: :class:`polycode_lite.course.reproduce.NotebookRun` objects (or dicts with the same keys:
            name, ok, seconds, output, html, error, failing_cell, extra).
        out_dir: the build folder (``build/``); claims and figures are read from its
            ``results/`` subfolder.
        fast: whether the notebooks ran in fast mode (shown in the header).
        total_seconds: wall time of the whole run (default: sum of the notebook times).

    Returns the path of the written report.
    """
    from polycode_lite.course.claims import load_claims

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results"
    claims = load_claims(results) if results.exists() else []
    figures = _figures(results) if results.exists() else []
    page = render_report(runs, out_dir, fast, claims, figures, total_seconds)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
