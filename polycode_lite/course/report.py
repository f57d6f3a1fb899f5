"""The reproduction report: one HTML page, a handout for a reading group, summarising a run of
the notebook sequence.

``polycode-lite reproduce`` (``make run``) calls :func:`write_report` after executing the
notebooks. The page has, in order:

1. **The notebooks at a glance**: for each notebook its title and question (from
   :data:`polycode_lite.course.sequence.SEQUENCE`), whether it ran, its claims' verdicts counted,
   and its key figure (the first figure one of its claims links, else its first saved figure).
2. **Claims**: each paper claim, its notebook (linked to the executed notebook, at the cell that
   recorded the claim when that cell can be found: see :mod:`polycode_lite.course.report_sections`),
   what was expected, what we measured with its CI or tolerance, the control, the verdict and
   the claim's figure inline; then the legend of the source tags the table uses.
3. **What did not reproduce, and why**: every claim whose verdict is not "holds", with its
   measured value, control and expected value, and the notebooks that failed.
4. **Notebook runs**: status and time of every notebook, the failing cell when one failed.
5. **Figures**: every saved figure titled by its caption, in notebook order.
6. **Environment**: git commit, versions, CPU, GPU, FAST or full mode.

The page loads nothing from the network; should a claim hold TeX, the head loads the local
MathJax that :func:`polycode_lite.course.offline_html.copy_mathjax` puts beside it.

The page prints on A4 or Letter (each section starts a page; images fit the width). Everything it
shows comes from files the notebooks wrote: ``<out>/results/claims__*.json``
(:func:`polycode_lite.course.claims.record_claim`), ``<out>/results/*.png`` + ``.txt`` captions
(:func:`polycode_lite.course.claims.show_figure`) and the executed notebooks beside the report.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

from polycode_lite.course import report_sections as S
from polycode_lite.course.offline_html import copy_mathjax, has_tex, mathjax_head
from polycode_lite.course.report_sections import e as _e
from polycode_lite.course.report_sections import rel as _rel
from polycode_lite.course.report_sections import run_field as _run_field

__all__ = ["write_report", "render_report"]

_VERDICT_CLASS = S.VERDICT_CLASS
_SECTIONS = (("summary", "The notebooks at a glance"), ("claims", "Claims"),
             ("not-reproduced", "What did not reproduce, and why"),
             ("notebooks", "Notebook runs"), ("figures", "Figures"),
             ("environment", "Environment"))


def _figures(results: Path) -> list[tuple[str, Path, str]]:
    """(notebook stem, png path, caption) for every saved figure, in the order they were saved
    (file time, then name); :func:`render_report` then puts them in notebook order."""
    out = []
    pngs = sorted(results.glob("*.png"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    for png in pngs:
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


def _section(key: str, body: str, first: bool = False) -> str:
    title = dict(_SECTIONS)[key]
    return (f"<section class='sec{' first' if first else ''}'><h2 id='{key}'>{_e(title)}</h2>\n"
            f"{body}\n</section>")


def _claims_table(claims: Sequence[dict[str, Any]], by_name: dict[str, Any], out_dir: Path,
                  html_links: dict[str, str], claim_links: Sequence[str | None],
                  captions: dict[str, str]) -> str:
    if not claims:
        return "<p>No claims were recorded in this run.</p>"
    counts = {v: sum(c.get("verdict") == v for c in claims) for v in _VERDICT_CLASS}
    parts = ["<p>" + ", ".join(f"{n} {_e(v)}" for v, n in counts.items()) + ".</p>",
             "<table class='claims'><colgroup><col style='width:18%'>"
             "<col style='width:10%'><col style='width:14%'><col style='width:18%'>"
             "<col style='width:15%'><col style='width:8%'><col style='width:17%'></colgroup>"
             "<thead><tr><th>paper claim</th><th>notebook</th><th>expected</th>"
             "<th>measured (CI / tolerance)</th><th>control</th><th>verdict</th>"
             "<th>figure</th></tr></thead><tbody>"]
    for c, link in zip(claims, claim_links):
        nb = c.get("notebook", "")
        run = by_name.get(nb)
        title = S.sequence_info(nb)[0]
        nb_cell = _e(title)
        if nb in html_links:
            nb_cell = f"<a href='{_e(html_links[nb])}' title='{_e(nb)}'>{_e(title)}</a>"
            if link and link != html_links[nb]:
                nb_cell += f"<br><a href='{_e(link)}'>at the cell</a>"
        stale = ""
        if run is None:
            stale = "<br><span class='stale'>(from an earlier run: not run now)</span>"
        elif not _run_field(run, "ok"):
            stale = "<br><span class='stale'>(notebook failed in this run)</span>"
        fig_cell = ""
        fig = _find_figure(out_dir / "results", nb, c.get("figure"))
        if fig is not None:
            src = f"results/{fig}"
            fig_cell = (f"<a href='{_e(src)}' title='{_e(fig)}'><img src='{_e(src)}' "
                        f"alt='{_e(captions.get(fig) or fig)}'></a>")
        elif c.get("figure"):
            fig_cell = _e(c.get("figure"))
        verdict = c.get("verdict", "")
        parts.append(
            f"<tr class='{_VERDICT_CLASS.get(verdict, '')}'><td>{_e(c.get('claim'))}</td>"
            f"<td>{nb_cell}{stale}</td><td>{_e(c.get('expected'))}</td>"
            f"<td>{_e(c.get('measured'))}</td><td>{_e(c.get('control') or '—')}</td>"
            f"<td><b>{_e(verdict)}</b></td>"
            f"<td class='fig'>{fig_cell}</td></tr>")
    parts.append("</tbody></table>")
    parts.append(S.legend_html(claims))
    return "\n".join(parts)


def _runs_table(runs: Sequence[Any], out_dir: Path) -> str:
    parts = ["<table><thead><tr><th>notebook</th><th>status</th><th>time (s)</th>"
             "<th>executed copy</th><th>failing cell</th></tr></thead><tbody>"]
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
    parts.append("</tbody></table>")
    return "\n".join(parts)


def render_report(
    runs: Sequence[Any],
    out_dir: Path,
    fast: bool,
    claims: Sequence[dict[str, Any]],
    figures: Sequence[tuple[str, Path, str]],
    total_seconds: float | None = None,
    environment: dict[str, str] | None = None,
) -> str:
    """The report as an HTML string, from its inputs and the executed notebooks the runs name
    (see :func:`write_report`). ``environment`` defaults to
    :func:`polycode_lite.course.report_sections.environment` of this process."""
    out_dir = Path(out_dir)
    by_name = {_run_field(r, "name"): r for r in runs}
    n_ok = sum(bool(_run_field(r, "ok")) for r in runs)
    if total_seconds is None:
        total_seconds = sum(float(_run_field(r, "seconds", 0.0) or 0.0) for r in runs)
    env = environment if environment is not None else S.environment(fast)
    mode = ("fast mode (embedded defaults, reduced sizes)" if fast
            else "full mode (embedded defaults)")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    # the executed notebooks: links to their HTML, the cells that recorded claims, figure order
    html_links: dict[str, str] = {}
    executed: dict[str, S.Executed] = {}
    for name, r in by_name.items():
        html_path = _run_field(r, "html")
        if html_path and Path(html_path).exists():
            html_links[name] = _rel(html_path, out_dir) or ""
            executed[name] = S.Executed(_run_field(r, "output"), html_path)
    claim_links: list[str | None] = []
    for c in claims:
        nb = c.get("notebook", "")
        anchor = executed[nb].claim_anchor(c) if nb in executed else None
        claim_links.append(f"{html_links[nb]}#{anchor}" if anchor else html_links.get(nb))
    order = S.notebook_order(runs, claims, figures)
    figures = S.order_figures(figures, order, executed)
    captions = {png.name: caption for _, png, caption in figures}

    key_figures: dict[str, tuple[str, str, str]] = {}
    for c in claims:
        nb = c.get("notebook", "")
        fig = _find_figure(out_dir / "results", nb, c.get("figure"))
        if fig is not None and nb not in key_figures:
            key_figures[nb] = (f"results/{fig}", captions.get(fig, ""), fig)
    for stem, png, caption in figures:
        if stem and stem not in key_figures:
            key_figures[stem] = (_rel(png, out_dir) or "", caption, png.name)

    toc = " · ".join(f"<a href='#{k}'>{_e(t)}</a>" for k, t in _SECTIONS)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>polycode_lite reproduction report</title>",
        f"<style>{S.CSS}</style></head><body>",
        "<h1>polycode_lite: reproduction report</h1>",
        f"<p>Marshall &amp; Kirchner (2024), <i>Understanding polysemanticity in neural networks "
        f"through coding theory</i>. Run in {_e(mode)} on {_e(now)}: "
        f"<b>{n_ok}/{len(runs)}</b> notebooks ran, {len(claims)} claims measured, "
        f"{total_seconds:.0f} s in total. Commit: <code>{_e(env.get('git commit', '?'))}</code>."
        f"</p>",
        f"<nav class='toc'>{toc}</nav>",
        _section("summary", S.summary_section(order, by_name, claims, key_figures, html_links),
                 first=True),
        _section("claims", _claims_table(claims, by_name, out_dir, html_links, claim_links,
                                         captions)),
        _section("not-reproduced", S.not_reproduced_section(claims, by_name, claim_links)),
        _section("notebooks", _runs_table(runs, out_dir)),
        _section("figures", S.gallery_section(figures, out_dir)),
        _section("environment", S.environment_section(env)),
        "</body></html>\n",
    ]
    page = "\n".join(parts)
    if has_tex(page):  # TeX in a claim: typeset it with the local MathJax (works offline)
        page = page.replace("</head>", mathjax_head(out_dir / "report.html") + "</head>", 1)
    return page


def write_report(runs: Sequence[Any], out_dir: Path, fast: bool,
                 total_seconds: float | None = None) -> Path:
    """Write ``out_dir/report.html`` from the runs and the claims/figures under ``out_dir/results``.

    Args:
        runs: :class:`polycode_lite.course.reproduce.NotebookRun` objects (or dicts with the same keys:
            name, ok, seconds, output, html, error, failing_cell, extra).
        out_dir: the build folder (``build/``); claims and figures are read from its
            ``results/`` subfolder.
        fast: whether the notebooks ran in fast mode (shown in the header and the environment).
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
    if has_tex(page):
        copy_mathjax(out_dir)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
