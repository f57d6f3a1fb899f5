"""Measured results that notebooks hand to the reproduction report.

A notebook records each paper claim it tests with :func:`record_claim` and each figure with
:func:`show_figure` (which also checks the figure is labelled and captioned). Both write under
the results folder: ``$POLYCODE_RESULTS_DIR`` when set (``polycode-lite reproduce`` sets it to
``<out>/results``), else ``./build/results`` under the kernel's working folder (never next to the
installed package: see :func:`polycode_lite._common.default_output_root`). ``load_claims`` reads them back for the report.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from polycode_lite._common import default_output_root

__all__ = ["VERDICTS", "results_dir", "record_claim", "load_claims", "show_figure", "check_figure"]

VERDICTS = ("holds", "partly", "does not hold at this scale")

#: where an expected value comes from (docs/paper_guide.md §10); used in ``expected`` strings
SOURCE_TAGS: dict[str, str] = {
    "C-supp": "stated in the authors' supplementary PDF",
    "C-code": "read from the authors' supplementary code",
    "C-fig": "read off the one result figure shipped with that code (approximate)",
    "C-ext": "from the cited external source (Stringer, Elhage, OpenAI, ...)",
    "S": "from secondary summaries of the paper (abstract, TL;DR), not its main text",
    "I": "our inference or design choice, not confirmed by the authors",
    "O": "a reference value from our own quick simulation: reproduce it, do not trust it",
}


def tags_in(text: str) -> list[str]:
    """The source tags (``[C-supp]``, ``[O]`` ...) that ``text`` mentions, in legend order."""
    return [t for t in SOURCE_TAGS if f"[{t}]" in (text or "")]


def results_dir() -> Path:
    """Folder where claims and figures are written (created if needed)."""
    env = os.environ.get("POLYCODE_RESULTS_DIR")
    d = Path(env) if env else default_output_root() / "results"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def record_claim(
    notebook: str,
    claim: str,
    measured: str,
    verdict: str,
    expected: str = "",
    figure: str | None = None,
    values: dict[str, Any] | None = None,
    fast: bool | None = None,
    control: str = "",
    why: str = "",
) -> dict[str, Any]:
    """Record one paper claim and what this run measured.

    Args:
        notebook: notebook stem, e.g. "03_eigenspectra_and_alpha".
        claim: the paper's claim in one sentence.
        measured: our figure with its CI or tolerance, e.g. "α̂ = 1.01 [0.98, 1.04]".
        verdict: one of VERDICTS.
        expected: what the paper (or docs/paper_guide.md) expects, with its source tag.
        figure: file name of a figure saved by :func:`show_figure`, if any.
        values: raw numbers behind ``measured`` (kept in the JSON for tests and the README).
        fast: whether the run was in fast mode.
        control: what the control measured, with its numbers, e.g. "untrained (random init):
            α 1.49–1.52, flat". Every α and information claim needs one (an untrained network,
            the same network trained without dropout, or a null / shuffled baseline); the
            reproduction report and the README show it beside the verdict.
        why: for a verdict other than "holds", why it came out so, in this run's numbers (e.g.
            "α falls in 2 of 3 layers and the untrained control's slope is as large"). Required
            then: the notebook shows it beside the verdict and the report's "What did not
            reproduce, and why" section prints it.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}.")
    if not isinstance(control, str):
        raise TypeError(f"control must be a string describing what the control shows, got {type(control).__name__}.")
    if not isinstance(why, str):
        raise TypeError(f"why must be a string saying why the verdict came out so, got {type(why).__name__}.")
    if verdict != "holds" and not why.strip():
        raise ValueError(f"verdict {verdict!r} needs why=: one or two sentences, from this run's numbers, on why "
                         f"the claim {claim!r} does not (fully) hold; show the same text in the notebook.")
    entry = dict(notebook=notebook, claim=claim, expected=expected, measured=measured,
                 control=control, verdict=verdict, why=why, figure=figure, values=values or {}, fast=fast)
    path = results_dir() / f"claims__{notebook}.json"
    entries = json.loads(path.read_text()) if path.exists() else []
    entries = [e for e in entries if e["claim"] != claim] + [entry]
    path.write_text(json.dumps(entries, indent=2, default=float))
    return entry


def load_claims(directory: Path | None = None) -> list[dict[str, Any]]:
    """All recorded claims, ordered by notebook."""
    d = Path(directory) if directory is not None else results_dir()
    out: list[dict[str, Any]] = []
    for p in sorted(d.glob("claims__*.json")):
        out.extend(json.loads(p.read_text()))
    return out


#: the widest figure that stays readable at a notebook's width (width : height)
MAX_ASPECT = 4.0


def check_figure(fig: Any) -> list[str]:
    """Problems that make a figure unreadable: a strip wider than MAX_ASPECT:1, axes without a
    title or axis labels.
    (3-D axes need a z label too; image-only axes with ``axis('off')`` are exempt.)"""
    problems = []
    width, height = fig.get_size_inches()
    if width > MAX_ASPECT * height:
        problems.append(f"the figure is a {width:.1f} x {height:.1f} in strip ({width / height:.1f}:1, "
                        f"more than {MAX_ASPECT:g}:1): put the panels on more rows")
    has_title = bool(getattr(fig, "_suptitle", None) and fig._suptitle.get_text())
    for i, ax in enumerate(fig.axes):
        if not ax.axison or ax.get_label() == "<colorbar>":
            continue
        if not (ax.get_title() or has_title):
            problems.append(f"axes {i} has no title (and the figure no suptitle)")
        if not ax.get_xlabel():
            problems.append(f"axes {i} has no x label")
        if not ax.get_ylabel():
            problems.append(f"axes {i} has no y label")
    return problems


def show_figure(fig: Any, name: str, caption: str, notebook: str | None = None) -> Path:
    """Check, caption, save (PNG, for the report) and display a matplotlib figure.

    ``caption`` is one or two sentences saying what to see in the figure; it is printed under
    the figure in the notebook and stored next to the PNG. Raises ValueError if the figure is a
    strip wider than MAX_ASPECT:1, an axes lacks a title or axis labels, or the caption is empty.
    """
    import matplotlib.pyplot as plt

    problems = check_figure(fig)
    if problems:
        raise ValueError(f"figure {name!r} is not labelled: " + "; ".join(problems))
    if not caption.strip():
        raise ValueError(f"figure {name!r} needs a caption saying what to see in it.")
    prefix = f"{notebook}__" if notebook else ""
    path = results_dir() / f"{prefix}{_slug(name)}.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")
    path.with_suffix(".txt").write_text(caption)
    try:
        from IPython.display import display

        display(fig)
        plt.close(fig)
    except ImportError:  # plain Python: leave the figure open
        pass
    print(f"Figure: {caption}")
    return path
