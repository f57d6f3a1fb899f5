"""Every interactive widget of the course has a "What should you see?" answer (issue 15).

House rule: a code cell that builds a control the learner moves (``interact``/``interactive``, an
``ipywidgets`` slider, dropdown, toggle or checkbox, an ``observe`` callback) is followed, within
the next two cells, by a markdown cell holding a *collapsed* answer,

    <details><summary><b>What should you see?</b> (click ...)</summary>

    Two or more sentences saying what changes as the control moves.
    </details>

These are static checks: the notebooks are read, never executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]

LOOKAHEAD = 2          # the answer must be in one of the next 2 cells
MIN_ANSWER_CHARS = 100  # answer text after the summary, tags and markdown stripped
MIN_SENTENCES = 2

CONTROLS = ("IntSlider", "FloatSlider", "FloatLogSlider", "IntRangeSlider", "FloatRangeSlider",
            "SelectionSlider", "SelectionRangeSlider", "Dropdown", "ToggleButton", "ToggleButtons",
            "Checkbox", "RadioButtons", "Select", "SelectMultiple", "Button", "Play", "Text",
            "IntText", "FloatText", "BoundedIntText", "BoundedFloatText", "interact", "interactive",
            "interactive_output")
WIDGET = re.compile(
    r"(?<![\w.])(interact|interactive|interact_manual|interactive_output)\s*\("   # interact(f, ...)
    r"|\bwidgets\.(" + "|".join(CONTROLS) + r")\b"                              # widgets.IntSlider
    r"|\.observe\s*\("                                                        # w.observe(cb, ...)
)
PHRASE = "What should you see?"
COLLAPSED = re.compile(r"<details[^>]*>\s*<summary[^>]*>(?P<summary>.*?)</summary>(?P<body>.*?)</details>",
                       re.DOTALL | re.IGNORECASE)
SENTENCE_END = re.compile(r"[.!?:;](\s|$)")


@dataclass(frozen=True)
class Problem:
    index: int
    first_line: str
    why: str

    def __str__(self) -> str:
        return f"cell {self.index} ({self.first_line!r}): {self.why}"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _code_without_comments(src: str) -> str:
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith("#"))


def builds_widget(cell: dict) -> bool:
    """True for a code cell that builds a control the learner moves."""
    return cell.get("cell_type") == "code" and bool(WIDGET.search(_code_without_comments(_source(cell))))


def answer_text(markdown: str) -> str | None:
    """The text of the collapsed "What should you see?" answer in ``markdown`` (HTML tags and
    markdown emphasis stripped), or None when there is no such collapsed block."""
    for m in COLLAPSED.finditer(markdown):
        if PHRASE.lower() in m.group("summary").lower():
            body = re.sub(r"<[^>]+>", " ", m.group("body"))
            body = re.sub(r"[*_`]", "", body)
            return " ".join(body.split())
    return None


def answer_problem(text: str | None) -> str | None:
    """Why ``text`` is not a real answer, or None when it is one."""
    if text is None:
        return f'no collapsed "<details><summary>{PHRASE}</summary>" block'
    n_sentences = len(SENTENCE_END.findall(text))
    if len(text) < MIN_ANSWER_CHARS or n_sentences < MIN_SENTENCES:
        return (f"the answer is too thin ({len(text)} characters, {n_sentences} sentence(s); needs "
                f">= {MIN_ANSWER_CHARS} characters and >= {MIN_SENTENCES} sentences): {text!r}")
    return None


def widget_problems(cells: list[dict]) -> list[Problem]:
    """Every widget cell without a collapsed, non-trivial answer in the next LOOKAHEAD cells."""
    problems = []
    for i, cell in enumerate(cells):
        if not builds_widget(cell):
            continue
        first = next((ln.strip() for ln in _source(cell).splitlines() if ln.strip()), "")
        following = [c for c in cells[i + 1:i + 1 + LOOKAHEAD] if c.get("cell_type") == "markdown"]
        reasons = [answer_problem(answer_text(_source(c))) for c in following]
        if not following:
            problems.append(Problem(i, first, f"no markdown cell in the next {LOOKAHEAD} cells"))
        elif all(r is not None for r in reasons):
            thin = [r for r in reasons if not r.startswith("no collapsed")]
            problems.append(Problem(i, first, (thin or reasons)[0]
                                    + f" (looked at the next {LOOKAHEAD} cells)"))
    return problems


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_the_course_has_widgets() -> None:
    """The detector is not vacuous: the notebooks known to have widgets are found to have them."""
    found = {p.stem[:2]: sum(builds_widget(c) for c in _cells(p)) for p in NOTEBOOKS}
    for nb in ("00", "01", "02", "03", "04", "05", "06", "07", "08"):
        assert found.get(nb, 0) >= 1, f"no widget detected in notebook {nb}: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_widget_has_an_answer(path: Path) -> None:
    problems = widget_problems(_cells(path))
    assert not problems, (
        f"{path.name}: {len(problems)} widget(s) without a \"{PHRASE}\" answer in the markdown after "
        "them (add a markdown cell <details><summary><b>What should you see?</b> (click to open after "
        "playing)</summary> ... </details> right after the widget):\n  "
        + "\n  ".join(str(p) for p in problems))


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}


GOOD = ("<details><summary><b>What should you see?</b> (click)</summary>\n\nAt low sparsity two "
        "features sit at right angles and the rest are dropped. As S grows the others join, first as "
        "antipodal pairs and then as a pentagon.\n</details>")


def test_detector_finds_each_kind_of_widget() -> None:
    for src in ["widgets.interact(f, x=widgets.IntSlider(1))", "interact(f, x=(0, 1))",
                "ui = widgets.interactive(f, {'manual': True}, S=s)", "w = widgets.Dropdown(options=[1])",
                "widgets.ToggleButtons(options=k)", "box = widgets.Checkbox(value=True)",
                "slider.observe(on_change, names='value')", "from ipywidgets import interact\ninteract(f)"]:
        assert builds_widget(_code(src)), src
    for src in ["import ipywidgets as widgets", "# widgets.interact(f, x=widgets.IntSlider())",
                "x = interaction(a)", "df.interactive_plot = 1", "print('observe')"]:
        assert not builds_widget(_code(src)), src
    assert not builds_widget(_md("widgets.interact(f)"))


def test_checker_fails_on_missing_thin_or_late_answers() -> None:
    """The rule can fail: no answer, an open (not collapsed) one, a one-liner, one 3 cells later."""
    widget = _code("def f(x=1):\n    print(x)\n\nwidgets.interact(f, x=widgets.IntSlider(1));")
    assert widget_problems([_md("# t"), widget, _md(GOOD)]) == []
    assert widget_problems([widget, _code("x = 1"), _md(GOOD)]) == []
    for cells, why in [
        ([widget, _md("## Recap")], "no collapsed"),
        ([widget], "no markdown cell"),
        ([widget, _md("**What should you see?** The pentagon, then more. It is clear.")], "no collapsed"),
        ([widget, _md("<details><summary>What should you see?</summary>A pentagon.</details>")],
         "too thin"),
        ([widget, _code("x = 1"), _code("y = 2"), _md(GOOD)], "no markdown cell"),
    ]:
        problems = widget_problems(cells)
        assert len(problems) == 1 and why in problems[0].why, (cells, problems)
        assert "cell 0 ('def f(x=1):')" in str(problems[0])
