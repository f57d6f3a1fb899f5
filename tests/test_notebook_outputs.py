"""What a student sees: no notebook cell ends by echoing a raw record (the dict that
record_claim returns, the Path that show_figure returns). Such a cell must end with `;`, or end
with a displayed table or Markdown instead."""

from __future__ import annotations

import ast
import io
import json
import tokenize
from pathlib import Path

import pytest

from polycode_lite.course.reproduce import NOTEBOOK_DIR

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
#: calls whose return value is a record for the report, not something to read
RECORD_CALLS = {"record_claim", "show_figure", "results_dir"}


def echoed_records(source: str) -> list[str]:
    """The record calls a cell's last statement would echo as raw output (empty if none)."""
    code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    try:  # a trailing ';' silences the echo; one inside a comment does not
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                    tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)]
    except (tokenize.TokenError, SyntaxError):
        return []
    if tokens and tokens[-1].string == ";":
        return []
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return []
    if not body or not isinstance(body[-1], ast.Expr):
        return []
    func = getattr(body[-1].value, "func", None)
    name = getattr(func, "id", getattr(func, "attr", None))
    return [name] if name in RECORD_CALLS else []


def test_the_checker_flags_an_echoed_record() -> None:
    assert echoed_records("x = 1\nrecord_claim(notebook='n', claim='c')") == ["record_claim"]
    assert echoed_records("show_figure(fig, 'a', 'b');") == []
    assert echoed_records("show_figure(fig, 'a', 'b')  # done;") == ["show_figure"]
    assert echoed_records("p = show_figure(fig, 'a', 'b')") == []
    assert echoed_records("display(Markdown(str(record_claim(x))))") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_cell_echoes_a_raw_record(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    bad = [(i, "".join(c["source"]).splitlines()[0][:60], echoed_records("".join(c["source"])))
           for i, c in enumerate(cells) if c["cell_type"] == "code"]
    bad = [b for b in bad if b[2]]
    assert not bad, (f"{path.name}: cells ending with a bare record call (end them with ';'): "
                     f"{bad}")


def test_a_strip_figure_is_refused_and_toy_panels_wrap() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polycode_lite.course.claims import MAX_ASPECT, check_figure
    from polycode_lite.models.toy import ToyModel
    from polycode_lite.plots.toy import plot_features_2d, plot_wtw

    strip, ax = plt.subplots(figsize=(12, 2))
    ax.set(title="t", xlabel="x", ylabel="y")
    assert any("strip" in p for p in check_figure(strip))
    model = ToyModel(5, 2, n_instances=10)
    figs = [plot_features_2d(model), plot_wtw(model), plot_wtw(ToyModel(20, 5, n_instances=5))]
    for fig in figs:
        w, h = fig.get_size_inches()
        assert w <= MAX_ASPECT * h and len(fig.axes) >= 5 and not check_figure(fig)
    plt.close("all")
