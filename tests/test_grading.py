"""`polycode-lite grade`: one command grades a class of three (key, untouched handout, partly
wrong), runs every exercise after a failure, and writes grades.csv and grades.html."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from polycode_lite.cli import main
from polycode_lite.course.reproduce import NOTEBOOK_DIR
from polycode_lite.course.student import make_student_notebook

STEM = "03_eigenspectra_and_alpha"
MASTER = NOTEBOOK_DIR / f"{STEM}.ipynb"


def _answer(nb, start: str, source: str) -> None:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(start)
                or (c.cell_type == "code" and f"\n{start}" in c.source))
    check_lines = [ln for ln in cell.source.splitlines() if ln.startswith("check(")]
    cell.source = source + "\n" + "\n".join(check_lines)


def _class(root: Path, masters: Path) -> None:
    master = nbformat.read(str(masters / MASTER.name), as_version=4)
    handout = make_student_notebook(master)
    wrong = make_student_notebook(master)
    # right participation ratio; a fit that crashes; the threshold typed as a string
    _answer(wrong, "def participation_ratio", "def participation_ratio(eigenvalues):\n"
            "    lam = np.asarray(eigenvalues, dtype=float)\n"
            "    return float(lam.sum() ** 2 / np.sum(lam ** 2))")
    _answer(wrong, "def fit_alpha", "def fit_alpha(eigenvalues, lo, hi):\n"
            "    return undefined_name")
    _answer(wrong, "# YOUR CODE HERE: replace each", "threshold_2d = 3")
    for student, nb in (("ada", master), ("bob", handout), ("cy", wrong)):
        (root / student).mkdir(parents=True)
        nbformat.write(nb, str(root / student / MASTER.name))


def test_grade_a_class_of_three(tmp_path: Path, exercise_course: Path) -> None:
    subs, out = tmp_path / "submissions", tmp_path / "grades"
    _class(subs, exercise_course)
    assert main(["grade", str(subs), "--notebooks", str(exercise_course), "--out", str(out),
                 "--no-progress"]) == 0
    rows = list(csv.DictReader((out / "grades.csv").open()))
    table = {(r["student"], r["exercise"]): (r["status"], int(r["points"])) for r in rows}
    assert table == {
        ("ada", "spectrum.participation_ratio"): ("pass", 1),
        ("ada", "spectrum.fit_alpha"): ("pass", 2),
        ("ada", "spectrum.threshold_2d"): ("pass", 1),
        ("bob", "spectrum.participation_ratio"): ("not attempted", 0),
        ("bob", "spectrum.fit_alpha"): ("not attempted", 0),
        ("bob", "spectrum.threshold_2d"): ("not attempted", 0),
        ("cy", "spectrum.participation_ratio"): ("pass", 1),
        ("cy", "spectrum.fit_alpha"): ("fail", 0),
        ("cy", "spectrum.threshold_2d"): ("fail", 0),
    }, table
    msg = {(r["student"], r["exercise"]): r["message"] for r in rows}
    assert "NameError" in msg[("cy", "spectrum.fit_alpha")]
    assert "1-D stimulus" in msg[("cy", "spectrum.threshold_2d")]  # graded after the crash
    page = (out / "grades.html").read_text()
    assert "spectrum.threshold_2d" in page and "Weighted log-log fit" in page
    # each student ran in a folder of its own
    for s in ("ada", "bob", "cy"):
        assert (out / "runs" / s / MASTER.name).exists()


def test_grade_refuses_a_folder_that_matches_nothing(tmp_path: Path, capsys) -> None:
    assert main(["grade", str(tmp_path / "typo"), "--out", str(tmp_path / "g")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    (tmp_path / "subs" / "ada" / "notes.ipynb").write_text("{}")
    assert main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g")]) == 2
    assert "no notebook under" in capsys.readouterr().err
    assert not (tmp_path / "g" / "grades.csv").exists()
