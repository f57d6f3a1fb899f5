"""nbgrader for real: `student-notebooks --nbgrader` -> generate_assignment -> autograde ->
generate_feedback on notebook 03, for the answer key (full marks), an untouched handout (zero)
and a partly wrong submission (partial marks, the checker's diagnosis in the feedback)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from polycode_lite.cli import main
from polycode_lite.course.nbgrader_course import graded_check_source, nbgrader_notebook
from polycode_lite.course.reproduce import NOTEBOOK_DIR

STEM = "03_eigenspectra_and_alpha"
MASTER = NOTEBOOK_DIR / f"{STEM}.ipynb"

#: a student who gets the participation ratio right, forgets the 1/n weights of the fit and
#: uses the 1-D threshold
WRONG = {
    "def fit_alpha(": (
        "def fit_alpha(eigenvalues, lo, hi):\n"
        "    lam = np.asarray(eigenvalues, dtype=float)\n"
        "    r = np.arange(lo, hi + 1.0)\n"
        "    return float(-np.polyfit(np.log(r), np.log(lam[lo - 1:hi]), 1)[0])\n"),
    "threshold_2d = ...": "threshold_2d = 3.0\n",
    "def participation_ratio(": (
        "def participation_ratio(eigenvalues):\n"
        "    lam = np.asarray(eigenvalues, dtype=float)\n"
        "    return float(lam.sum() ** 2 / np.sum(lam ** 2))\n"),
}


def _nbgrader_cells(nb):
    return [(c, c.metadata["nbgrader"]) for c in nb.cells if "nbgrader" in c.metadata]


def test_every_exercise_gets_its_own_graded_strict_cell() -> None:
    """Each check(...) leaves its solution cell for a locked graded cell run with strict=True;
    the parameters cell sets FAST = True; every grade_id is unique."""
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        master = nbformat.read(str(path), as_version=4)
        n_checks = sum(c.source.count("check(") for c in master.cells
                       if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source)
        nb = nbgrader_notebook(master, path.stem)
        cells = _nbgrader_cells(nb)
        graded = [(c, m) for c, m in cells if m["grade"]]
        solutions = [(c, m) for c, m in cells if m["solution"]]
        assert len(graded) == n_checks == len(solutions), path.name
        assert all(m["locked"] and m["points"] >= 1 for _, m in graded)
        assert all("strict=True" in c.source and "check(" in c.source for c, _ in graded)
        assert all("check(" not in c.source for c, _ in solutions), path.name
        ids = [m["grade_id"] for _, m in cells]
        assert len(ids) == len(set(ids))
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assert "FAST = True" in params.source and "FAST = False" not in params.source
        for c in nb.cells:
            if c.cell_type == "code":
                ast.parse("\n".join(ln for ln in c.source.splitlines()
                                    if not ln.lstrip().startswith(("%", "!"))))


def test_graded_check_source_adds_strict() -> None:
    src = graded_check_source('check("a.b", f, strict=False)\n', 2)
    assert "check('a.b', f, strict=True);" in src and "2 points" in src


def test_refuses_to_write_into_the_master_folder(tmp_path: Path, capsys) -> None:
    src = tmp_path / "nbs"
    src.mkdir()
    shutil.copy(MASTER, src / MASTER.name)
    before = (src / MASTER.name).read_bytes()
    for out in (src, src / "sub"):
        assert main(["student-notebooks", "--notebooks", str(src), "--out", str(out)]) == 2
        assert "the --notebooks folder" in capsys.readouterr().err
    assert (src / MASTER.name).read_bytes() == before
    assert main(["student-notebooks", "--notebooks", str(tmp_path / "empty"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("POLYCODE_STRICT_CHECKS", None)
    env.pop("POLYCODE_RESULTS_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _submit(course: Path, student: str, nb) -> None:
    folder = course / "submitted" / student / STEM
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{STEM}.ipynb"))


@pytest.mark.parametrize("whole", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["exercise-cells", "whole-notebook"])
def test_real_nbgrader_key_full_blank_zero_wrong_partial(
        tmp_path: Path, exercise_course: Path, whole: bool) -> None:
    """On notebook 03 cut to its exercise cells (the whole notebook in fast mode: slow)."""
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    masters = NOTEBOOK_DIR if whole else exercise_course
    assert main(["student-notebooks", "--nbgrader", "--only", "03", "--notebooks", str(masters),
                 "--out", str(course)]) == 0
    assert "c.Execute.timeout = 300" in (course / "nbgrader_config.py").read_text()
    _nbgrader(course, "generate_assignment", STEM, "--force")
    release = nbformat.read(str(course / "release" / STEM / f"{STEM}.ipynb"), as_version=4)
    key = nbformat.read(str(course / "source" / STEM / f"{STEM}.ipynb"), as_version=4)
    wrong = nbformat.read(str(course / "release" / STEM / f"{STEM}.ipynb"), as_version=4)
    for cell in wrong.cells:
        for start, answer in WRONG.items():
            if cell.metadata.get("nbgrader", {}).get("solution") and start in cell.source:
                cell.source = answer
    # a student's own check before submitting: no environment variable needed to see failures
    nbformat.write(wrong, str(tmp_path / "mine.ipynb"))
    validated = _nbgrader(tmp_path, "validate", str(tmp_path / "mine.ipynb"))
    assert "VALIDATION FAILED ON 2 CELL(S)" in validated.stdout, validated.stdout[-2000:]
    _submit(course, "key", key)
    _submit(course, "blank", release)
    _submit(course, "wrong", wrong)
    _nbgrader(course, "autograde", STEM, "--create", "--force")
    _nbgrader(course, "generate_feedback", STEM, "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission(STEM, s).score for s in ("key", "blank", "wrong")}
        max_score = gb.find_assignment(STEM).max_score
    assert max_score == 4  # difficulties 1 + 2 + 1
    assert scores == {"key": 4, "blank": 0, "wrong": 1}, scores
    feedback = (course / "feedback" / "wrong" / STEM / f"{STEM}.html").read_text()
    assert "unweighted slope" in feedback  # the checker's diagnosis of the missing weights
    assert "1-D stimulus" in feedback
    # the handout ran to the end: no cell stopped Run All before the last check
    blank_fb = (course / "feedback" / "blank" / STEM / f"{STEM}.html").read_text()
    assert blank_fb.count("Not attempted") >= 3
