"""The parts of the reproduction report (:mod:`polycode_lite.course.report` puts them together).

What is here: the notebook order and the gallery order, finding the cell of an executed notebook
that recorded a claim, the source-tag legend, the run's environment, and the HTML of the
per-notebook summary, the "What did not reproduce" list, the gallery and the environment table.

**Linking a claim to its cell.** nbconvert (7.x) gives every cell of the HTML it writes an
``id="cell-id=<the cell's id>"``, the id nbformat ≥ 4.5 stores in the executed ``.ipynb``. A claim
is linked to ``<notebook>.html#cell-id=<id>`` when a code cell of the executed notebook calls
``record_claim`` and either holds the claim's text in its source or printed it (or the measured
value) in its outputs, and the HTML really carries that id. Claims recorded through
``record_claim(**c)`` by a cell that prints nothing about them, and notebooks whose HTML has no
cell ids (an older nbconvert), are linked to the top of the notebook instead.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable, Sequence

VERDICT_CLASS = {"holds": "holds", "partly": "partly", "does not hold at this scale": "fails"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
img{max-width:100%}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #ccc;padding:.35em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f2f2f2}
.holds{background:#e3f6e3}.partly{background:#fff5d6}.fails{background:#fde2e2}
.ok{color:#17702a;font-weight:600}.failed{color:#b00020;font-weight:600}
.stale{color:#888;font-style:italic}
table.claims{table-layout:fixed}
table.claims td{overflow-wrap:anywhere}
table.claims td.fig img{width:100%;border:1px solid #ddd}
nav.toc{font-size:.92em}
.nb-summary{border:1px solid #ddd;border-radius:4px;padding:.5em 1em;margin:1em 0;overflow:hidden}
.nb-summary figure{float:right;width:38%;margin:0 0 .5em 1em}
.nb-summary h3{margin:.3em 0}
.question{font-style:italic}
.miss{border-left:4px solid #e0b400;padding:.2em .8em;margin:.8em 0}
.miss.fails{border-left-color:#b00020}
.miss dt{font-weight:600}.miss dd{margin:0 0 .3em 1.2em}
.gallery figure{display:inline-block;width:31%;margin:.5%;vertical-align:top}
figure img{width:100%;border:1px solid #ddd}
figcaption{font-size:.85em}
.file{color:#888;font-size:.85em}
code,pre{background:#f6f6f6;padding:.1em .3em}
pre{white-space:pre-wrap;max-height:12em;overflow:auto}
@page{margin:14mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt}
nav.toc{display:none}
section.sec{break-before:page;page-break-before:always}
section.sec.first{break-before:auto;page-break-before:auto}
img{max-width:100%!important}
tr,figure,.nb-summary,.miss{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
th,td{font-size:8.5pt}
a{color:inherit;text-decoration:none}
pre{max-height:none;overflow:visible}
.gallery figure{width:48%}
.holds,.partly,.fails,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def e(x: Any) -> str:
    """``x`` as escaped HTML text (None as empty)."""
    return html.escape("" if x is None else str(x))


def rel(path: Path | str | None, base: Path) -> str | None:
    """``path`` relative to ``base``, with forward slashes (a file URI across drives)."""
    if path is None:
        return None
    try:
        return os.path.relpath(Path(path).resolve(), Path(base).resolve()).replace(os.sep, "/")
    except ValueError:  # different drive on Windows
        return Path(path).as_uri()


def run_field(run: Any, name: str, default: Any = None) -> Any:
    """A field of a NotebookRun or of a dict with the same keys."""
    if isinstance(run, dict):
        return run.get(name, default)
    return getattr(run, name, default)


# ---------------------------------------------------------------------------- notebook order
def sequence_info(stem: str) -> tuple[str, str]:
    """(title, question) of a notebook from the sequence; (stem, "") for one outside it."""
    from polycode_lite.course.sequence import SEQUENCE

    for entry in SEQUENCE:
        if entry.stem == stem:
            return entry.title, entry.question
    return stem, ""


def notebook_order(runs: Sequence[Any], claims: Sequence[dict[str, Any]],
                   figures: Sequence[tuple[str, Path, str]]) -> list[str]:
    """Every notebook the report mentions: the sequence's order first, then the order of the
    runs, then by name (figures without a notebook prefix are not notebooks)."""
    from polycode_lite.course.sequence import SEQUENCE

    seq = [entry.stem for entry in SEQUENCE]
    ran = [run_field(r, "name") for r in runs]
    stems = dict.fromkeys([*ran, *(c.get("notebook", "") for c in claims),
                           *(f[0] for f in figures)])
    stems.pop("", None)
    stems.pop(None, None)

    def key(stem: str) -> tuple[int, int, str]:
        return (seq.index(stem) if stem in seq else len(seq),
                ran.index(stem) if stem in ran else len(ran), stem)

    return sorted(stems, key=key)


class Executed:
    """The cells of one executed notebook (id, source, text of its outputs) and whether its
    HTML carries nbconvert's ``cell-id=`` anchors."""

    def __init__(self, ipynb: Path | str | None, html_path: Path | str | None) -> None:
        self.cells: list[tuple[str | None, str, str]] = []
        self.anchors: set[str] = set()
        try:
            nb = json.loads(Path(ipynb).read_text(encoding="utf-8")) if ipynb else {}
        except (OSError, ValueError):
            nb = {}
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            self.cells.append((cell.get("id"), _text(cell.get("source")),
                               "\n".join(_output_text(o) for o in cell.get("outputs", []))))
        try:
            page = Path(html_path).read_text(encoding="utf-8") if html_path else ""
        except OSError:
            page = ""
        self.anchors = set(re.findall(r'id="cell-id=([^"]+)"', page))

    def claim_anchor(self, claim: dict[str, Any]) -> str | None:
        """The ``cell-id=...`` anchor of the cell that recorded ``claim``, or None."""
        text = str(claim.get("claim") or "")
        if not text:
            return None
        head = text[:40]
        measured = str(claim.get("measured") or "")
        recorders = [c for c in self.cells if "record_claim" in c[1]]
        found = next((c for c in recorders if head in c[1] or head in _unescape(c[1])), None)
        if found is None:
            found = next((c for c in recorders if text in c[2]
                          or (len(measured) >= 12 and measured in c[2])), None)
        if found is None or found[0] not in self.anchors:
            return None
        return f"cell-id={found[0]}"

    def figure_position(self, caption: str) -> tuple[int, int] | None:
        """Where ``Figure: <caption>`` (printed by show_figure) first appears: (code cell index,
        offset in its output), or None."""
        if not caption:
            return None
        needle = f"Figure: {caption.strip()}"
        for i, cell in enumerate(self.cells):
            at = cell[2].find(needle)
            if at >= 0:
                return i, at
        return None


def _text(x: Any) -> str:
    return "".join(x) if isinstance(x, list) else str(x or "")


def _unescape(source: str) -> str:
    return source.replace("\\'", "'").replace('\\"', '"')


def _output_text(out: dict[str, Any]) -> str:
    if "text" in out:
        return _text(out["text"])
    data = out.get("data", {})
    return "\n".join(_text(data[k]) for k in ("text/plain", "text/markdown") if k in data)


def order_figures(figures: Sequence[tuple[str, Path, str]], order: Sequence[str],
                  executed: dict[str, Executed]) -> list[tuple[str, Path, str]]:
    """Figures in notebook order: by notebook (``order``; unprefixed figures last), then by
    the cell that showed them in the executed notebook, then as given (save order)."""
    def key(item: tuple[int, tuple[str, Path, str]]) -> tuple[int, tuple[int, int], int]:
        i, (stem, _png, caption) = item
        nb = order.index(stem) if stem in order else len(order)
        ex = executed.get(stem)
        pos = ex.figure_position(caption) if ex is not None else None
        return nb, pos if pos is not None else (1 << 30, 0), i

    return [f for _, f in sorted(enumerate(figures), key=key)]


# ------------------------------------------------------------------------------- source tags
def tags_used(claims: Iterable[dict[str, Any]]) -> list[str]:
    """Source tags (``SOURCE_TAGS``) that the claims' ``expected`` values cite, in legend order.
    A tag counts at the start of a bracket or of a ``,``/``;`` part of one, so ``[O]``,
    ``[C-ext Elhage 2022]`` and ``[C-supp theorem, I units]`` all count and ``[0.98, 1.04]``
    does not."""
    from polycode_lite.course.claims import SOURCE_TAGS

    found: set[str] = set()
    for c in claims:
        for inside in re.findall(r"\[([^\[\]]*)\]", str(c.get("expected") or "")):
            for part in re.split(r"[,;]", inside):
                words = part.split()
                if words and words[0] in SOURCE_TAGS:
                    found.add(words[0])
    return [t for t in SOURCE_TAGS if t in found]


def legend_html(claims: Sequence[dict[str, Any]]) -> str:
    """The legend of the source tags the claims use ("" when they use none)."""
    from polycode_lite.course.claims import SOURCE_TAGS

    used = tags_used(claims)
    if not used:
        return ""
    return ("<p class='legend'>Source tags in <i>expected</i>: " + "; ".join(
        f"<b>[{e(t)}]</b> {e(SOURCE_TAGS[t])}" for t in used) + " (docs/paper_guide.md §10).</p>")


# ------------------------------------------------------------------------------- environment
def git_commit(path: Path | str) -> str:
    """The commit of the git checkout holding ``path`` (with a note when files under ``path``
    have uncommitted changes), or "not a git checkout" (also when ``path`` is not tracked, e.g.
    a package installed into a virtual environment that sits inside some checkout)."""
    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", "-C", str(path), *args], capture_output=True,
                                  text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    tracked = git("ls-files", "--error-unmatch", "--", ".")
    if not head or head.returncode or not tracked or tracked.returncode:
        return "not a git checkout"
    commit = head.stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    if dirty and dirty.returncode == 0 and dirty.stdout.strip():
        commit += " (with uncommitted changes)"
    return commit


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu() -> str:
    name = platform.processor()
    if not name or name == platform.machine():
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    return f"{name or platform.machine() or 'unknown'}, {os.cpu_count()} logical cores"


def _gpu() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            n = torch.cuda.device_count()
            return ", ".join(torch.cuda.get_device_name(i) for i in range(n))
    except Exception:  # no torch, or a broken driver: the report still gets written
        pass
    return "none"


def environment(fast: bool) -> dict[str, str]:
    """Where this run happened: commit, versions, CPU, GPU and mode."""
    import polycode_lite

    return {
        "git commit": git_commit(Path(polycode_lite.__file__).parent),
        "mode": "FAST (reduced sizes)" if fast else "full",
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "polycode_lite": getattr(polycode_lite, "__version__", None) or _version("polycode-lite"),
        "platform": platform.platform(),
        "CPU": _cpu(),
        "GPU": _gpu(),
    }


def environment_section(env: dict[str, str]) -> str:
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in env.items())
    return f"<table class='env'>{rows}</table>"


# ---------------------------------------------------------------------------- HTML sections
def figure_html(src: str, caption: str, name: str = "", with_file: bool = False) -> str:
    """One ``<figure>``: the image linked to itself, captioned."""
    cap = e(caption) or e(name)
    file_note = f" <span class='file'>({e(name)})</span>" if with_file and name else ""
    return (f"<figure><a href='{e(src)}'><img src='{e(src)}' alt='{cap}'></a>"
            f"<figcaption>{cap}{file_note}</figcaption></figure>")


def verdict_counts(claims: Iterable[dict[str, Any]]) -> str:
    """"2 holds, 1 partly": the verdicts of ``claims`` counted (nonzero only)."""
    claims = list(claims)
    counts = [(v, sum(c.get("verdict") == v for c in claims)) for v in VERDICT_CLASS]
    others = sum(c.get("verdict") not in VERDICT_CLASS for c in claims)
    parts = [f"{n} {v}" for v, n in counts if n] + ([f"{others} other"] if others else [])
    return ", ".join(parts) if parts else "no claims recorded"


def summary_section(order: Sequence[str], runs_by_name: dict[str, Any],
                    claims: Sequence[dict[str, Any]], key_figures: dict[str, tuple[str, str, str]],
                    links: dict[str, str]) -> str:
    """One box per notebook: title, question, run status, verdicts counted, key figure.

    ``key_figures[stem]`` = (src, caption, file name); ``links[stem]`` = the executed notebook's
    HTML, relative to the report."""
    parts = []
    for stem in order:
        title, question = sequence_info(stem)
        run = runs_by_name.get(stem)
        if run is None:
            status = "<span class='stale'>not run in this run</span>"
        elif run_field(run, "ok"):
            status = (f"<span class='ok'>ran</span> in "
                      f"{float(run_field(run, 'seconds', 0.0) or 0.0):.0f} s")
        else:
            status = (f"<span class='failed'>FAILED</span> in cell "
                      f"{e(run_field(run, 'failing_cell'))}")
        mine = [c for c in claims if c.get("notebook") == stem]
        fig = key_figures.get(stem)
        link = (f" · <a href='{e(links[stem])}'>executed notebook</a>" if stem in links else "")
        parts.append(
            f"<div class='nb-summary' id='nb-{e(stem)}'>"
            + (figure_html(*fig) if fig else "")
            + f"<h3>{e(title)}</h3>"
            + (f"<p class='question'>{e(question)}</p>" if question else "")
            + f"<p>{status}{link}<br>Claims: <b>{e(verdict_counts(mine))}</b></p></div>")
    return "\n".join(parts) if parts else "<p>No notebook ran in this run.</p>"


def not_reproduced_section(claims: Sequence[dict[str, Any]], runs_by_name: dict[str, Any],
                           claim_links: Sequence[str | None]) -> str:
    """Every claim whose verdict is not "holds" with what was measured, its control and what
    was expected; then the notebooks that failed (their claims could not be measured)."""
    parts = []
    for c, link in zip(claims, claim_links):
        verdict = c.get("verdict", "")
        if verdict == "holds":
            continue
        nb = c.get("notebook", "")
        title = sequence_info(nb)[0]
        where = f"<a href='{e(link)}'>{e(title)}</a>" if link else e(title)
        parts.append(
            f"<div class='miss {VERDICT_CLASS.get(verdict, '')}'><p><b>{e(c.get('claim'))}</b>"
            f" ({where}): <b>{e(verdict)}</b></p><dl>"
            f"<dt>why</dt><dd>{e(c.get('why') or '—')}</dd>"
            f"<dt>measured</dt><dd>{e(c.get('measured'))}</dd>"
            f"<dt>control</dt><dd>{e(c.get('control') or '—')}</dd>"
            f"<dt>expected</dt><dd>{e(c.get('expected') or '—')}</dd></dl></div>")
    if not parts:
        parts.append("<p>Every recorded claim holds in this run.</p>" if claims
                     else "<p>No claims were recorded in this run.</p>")
    failed = [r for r in runs_by_name.values() if not run_field(r, "ok")]
    if failed:
        parts.append("<p>Notebooks that failed, so that their claims were not measured: "
                     + "; ".join(f"{e(sequence_info(run_field(r, 'name'))[0])} (cell "
                                 f"{e(run_field(r, 'failing_cell'))}: "
                                 f"<code>{e(run_field(r, 'error'))}</code>)" for r in failed)
                     + ".</p>")
    return "\n".join(parts)


def gallery_section(figures: Sequence[tuple[str, Path, str]], out_dir: Path) -> str:
    """Every figure, grouped by notebook in the order given, titled by its caption."""
    if not figures:
        return "<p>No figures were saved in this run.</p>"
    parts: list[str] = []
    current = None
    for stem, png, caption in figures:
        if stem != current or not parts:
            if parts:
                parts.append("</div>")
            parts.append(f"<h3>{e(sequence_info(stem)[0] if stem else 'other')}</h3>"
                         "<div class='gallery'>")
            current = stem
        parts.append(figure_html(rel(png, out_dir) or "", caption, png.name, with_file=True))
    parts.append("</div>")
    return "\n".join(parts)
