"""``polycode-lite grade SUBMISSIONS --out GRADES``: grade a whole class without nbgrader.

``SUBMISSIONS`` holds one folder per student; each holds that student's ``NN_name.ipynb``
notebooks, at any depth (so nbgrader's ``submitted/<student>/<assignment>/`` layout works too).
Every notebook runs in fast mode in a kernel of its own, in ``GRADES/runs/<student>/`` (its
working folder and results folder), with errors allowed, so an exercise after a wrong or crashing
one is still run and graded. Each ``check(...)`` appends its outcome to a log
(:data:`polycode_lite.course.exercises.GRADE_LOG_ENV`); the exercises a notebook should have come
from the master notebook of the same name.

Writes ``GRADES/grades.csv`` (one row per student × exercise: status pass / fail / not attempted /
not run / missing, points, the checker's message) and ``GRADES/grades.html`` (the class table and
every failing exercise by name with its feedback). Points are the exercise's difficulty (1–3), as
in the nbgrader course. Students' code runs on this machine: grade in a container.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from polycode_lite._common import refuse_output_inside
from polycode_lite.course.exercises import GRADE_LOG_ENV, get
from polycode_lite.course.student import CHECK_CALL

__all__ = ["ExerciseGrade", "exercises_in", "find_submissions", "grade_class", "write_grades",
           "add_arguments", "main"]

STATUSES = ("pass", "fail", "not attempted", "not run", "missing")


@dataclass(frozen=True)
class ExerciseGrade:
    """One student's result on one exercise."""

    student: str
    notebook: str
    exercise: str
    title: str
    status: str
    points: int
    max_points: int
    message: str = ""


def exercises_in(nb: Any) -> list[str]:
    """Exercise ids checked in a notebook, in order of appearance."""
    ids: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            ids += [i for i in CHECK_CALL.findall(cell.source) if i not in ids]
    return ids


def find_submissions(root: Path, stems: list[str]) -> dict[str, dict[str, Path]]:
    """{student: {notebook stem: path}} for each student folder of ``root``.

    Raises ValueError naming ``root`` when it is missing, has no student folders, or no notebook
    in it matches a course notebook (so a mistyped folder never grades as "0 of 0")."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"submissions folder {root} does not exist; pass the folder with one "
                         "sub-folder per student.")
    students = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"{root} has no student folders; expected {root}/<student>/NN_name.ipynb.")
    found: dict[str, dict[str, Path]] = {}
    for folder in students:
        nbs = {p.stem: p for p in sorted(folder.rglob("[0-9][0-9]_*.ipynb"))
               if ".ipynb_checkpoints" not in p.parts and p.stem in stems}
        found[folder.name] = nbs
    if not any(found.values()):
        raise ValueError(f"no notebook under {root}/<student>/ matches a course notebook "
                         f"({', '.join(stems[:3])}, ...); check the folder and the file names.")
    return found


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """os.environ with ``values`` set (None: removed), restored on exit."""
    from unittest import mock

    with mock.patch.dict(os.environ):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield


def _inject_parameters(nb: Any, fast: bool) -> None:
    import nbformat

    index = next((i for i, c in enumerate(nb.cells)
                  if "parameters" in c.metadata.get("tags", [])), -1)
    cell = nbformat.v4.new_code_cell(f"FAST = {fast}  # injected by polycode-lite grade")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)


def run_submission(path: Path, workdir: Path, fast: bool = True, timeout: int = 600
                   ) -> tuple[Any, list[dict[str, Any]], str]:
    """Execute one submitted notebook in its own kernel and folder, errors allowed.

    Returns (the executed notebook or None, the check log entries, an error that stopped the run
    or "")."""
    import nbformat
    from nbclient import NotebookClient

    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{path.stem}.checks.jsonl"
    log.unlink(missing_ok=True)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # a corrupt submission: graded as failing, the class goes on
        return None, [], f"the notebook could not be read ({type(exc).__name__}: {exc})"
    _inject_parameters(nb, fast)
    stopped = ""
    with _environment(**{GRADE_LOG_ENV: str(log), "POLYCODE_RESULTS_DIR": str(workdir / "results"),
                         "POLYCODE_STRICT_CHECKS": None}):
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(workdir)}})
        try:
            client.execute()
        except Exception as exc:  # timeout or a dead kernel: later exercises are "not run"
            stopped = f"the run stopped: {type(exc).__name__}: {str(exc)[:300]}"
    nbformat.write(nb, str(workdir / path.name))
    entries = []
    if log.exists():
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
    return nb, entries, stopped


def _cell_error(nb: Any, exercise: str) -> str | None:
    """The error output of the student's cell that holds ``check("exercise", ...)``, if any."""
    if nb is None:
        return None
    for cell in nb.cells:
        if cell.cell_type == "code" and exercise in CHECK_CALL.findall(cell.source):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"{out.get('ename')}: {out.get('evalue')}"
            return ""
    return None


def _grade_one(student: str, stem: str, exercise: str, nb: Any, entries: list[dict[str, Any]],
               stopped: str) -> ExerciseGrade:
    ex = get(exercise)
    worth = int(ex.difficulty)
    mine = [e for e in entries if e["exercise"] == exercise]
    base = dict(student=student, notebook=stem, exercise=exercise, title=ex.title, max_points=worth)
    if mine:
        last = mine[-1]
        feedback = " ".join(m for m in last["messages"][1:])
        if last["passed"]:
            return ExerciseGrade(status="pass", points=worth, message=feedback, **base)
        status = "not attempted" if not last["attempted"] else "fail"
        return ExerciseGrade(status=status, points=0, message=feedback, **base)
    error = _cell_error(nb, exercise)
    if error is None:
        msg = stopped or "the check(...) line of this exercise is not in the submitted notebook"
        return ExerciseGrade(status="fail" if not stopped else "not run", points=0, message=msg,
                             **base)
    if error:
        return ExerciseGrade(status="fail", points=0,
                             message=f"the exercise cell raised {error}", **base)
    return ExerciseGrade(status="not run", points=0,
                         message=stopped or "the check did not run (an earlier cell stopped it)",
                         **base)


def grade_class(submissions: Path, out_dir: Path, master_dir: Path, only: str | None = None,
                fast: bool = True, timeout: int = 600, progress: bool = True) -> list[ExerciseGrade]:
    """Grade every student folder of ``submissions`` against the master notebooks."""
    import nbformat

    from polycode_lite.course.reproduce import notebook_paths

    masters = {p.stem: exercises_in(nbformat.read(str(p), as_version=4))
               for p in notebook_paths(master_dir, only=only)}
    masters = {k: v for k, v in masters.items() if v}
    found = find_submissions(submissions, list(masters))
    grades: list[ExerciseGrade] = []
    n_runs = sum(len(v) for v in found.values())
    done = 0
    for student, notebooks in found.items():
        for stem, exercises in masters.items():
            if stem not in notebooks:
                if notebooks:  # the student handed in something, but not this notebook
                    grades += [ExerciseGrade(student, stem, e, get(e).title, "missing", 0,
                                             int(get(e).difficulty), "no submitted notebook")
                               for e in exercises]
                continue
            nb, entries, stopped = run_submission(notebooks[stem], out_dir / "runs" / student,
                                                  fast=fast, timeout=timeout)
            grades += [_grade_one(student, stem, e, nb, entries, stopped) for e in exercises]
            done += 1
            if progress:
                score = sum(g.points for g in grades if g.student == student and g.notebook == stem)
                worth = sum(int(get(e).difficulty) for e in exercises)
                print(f"[{done}/{n_runs}] {student} {stem}: {score}/{worth}", flush=True)
    return grades


def write_grades(grades: list[ExerciseGrade], out_dir: Path) -> tuple[Path, Path]:
    """Write ``grades.csv`` and ``grades.html`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "grades.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(ExerciseGrade.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(g) for g in grades)
    students = list(dict.fromkeys(g.student for g in grades))
    columns = list(dict.fromkeys((g.notebook, g.exercise) for g in grades))
    cell = {(g.student, g.notebook, g.exercise): g for g in grades}
    colour = {"pass": "#d4edda", "fail": "#f8d7da", "not attempted": "#fff3cd",
              "not run": "#e2e3e5", "missing": "#e2e3e5"}
    rows = ["<tr><th>student</th>" + "".join(f"<th title='{html.escape(n)}'>{html.escape(e)}</th>"
                                             for n, e in columns) + "<th>total</th></tr>"]
    for s in students:
        mine = [cell[(s, n, e)] for n, e in columns if (s, n, e) in cell]
        tds = "".join(
            f"<td style='background:{colour[g.status]}'>{html.escape(g.status)} "
            f"({g.points}/{g.max_points})</td>" if g else "<td></td>"
            for g in (cell.get((s, n, e)) for n, e in columns))
        total = f"{sum(g.points for g in mine)}/{sum(g.max_points for g in mine)}"
        rows.append(f"<tr><td>{html.escape(s)}</td>{tds}<td>{total}</td></tr>")
    failures = [f"<li><b>{html.escape(g.student)}</b> · {html.escape(g.notebook)} · "
                f"<code>{html.escape(g.exercise)}</code> ({html.escape(g.title)}): "
                f"<b>{html.escape(g.status)}</b><pre>{html.escape(g.message)}</pre></li>"
                for g in grades if g.status != "pass"]
    page = ("<!doctype html><meta charset='utf-8'><title>polycode_lite grades</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;"
            "padding:4px 8px}table{border-collapse:collapse}pre{white-space:pre-wrap}</style>"
            f"<h1>Grades</h1><p>{len(students)} students; points = exercise difficulty. "
            "One row per student in grades.csv.</p>"
            f"<table>{''.join(rows)}</table><h2>What did not pass</h2>"
            f"<ul>{''.join(failures) or '<li>everything passed</li>'}</ul>")
    html_path = out_dir / "grades.html"
    html_path.write_text(page, encoding="utf-8")
    return csv_path, html_path


OUT_OPTION = {"default": "grades", "help": "folder for grades.csv, grades.html and runs/ "
                                            "(default ./grades)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite grade``."""
    from polycode_lite.course.reproduce import NOTEBOOK_DIR

    parser.add_argument("submissions", help="folder with one sub-folder per student")
    parser.add_argument("--only", default=None, help="grade only notebooks whose name contains this")
    parser.add_argument("--notebooks", default=str(NOTEBOOK_DIR),
                        help="master notebooks that list the exercises (default: the course)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--full", action="store_true", help="run FAST = False (slow)")


def main(args: argparse.Namespace) -> int:
    """Run every student's notebooks (fast mode, one kernel each, every exercise even after a
    failure) and write grades.csv and grades.html. Exit status 2 when nothing matched."""
    if args.timeout < 1:
        raise ValueError(f"--timeout must be >= 1 second per cell, got {args.timeout}.")
    if not Path(args.submissions).is_dir():
        raise ValueError(f"submissions folder {args.submissions} does not exist; pass the folder "
                         "with one sub-folder per student.")
    out = Path(args.out)
    refuse_output_inside(out, args.submissions, source_option="submissions")
    refuse_output_inside(out, args.notebooks)
    grades = grade_class(Path(args.submissions), out, Path(args.notebooks), only=args.only,
                         fast=not args.full, timeout=args.timeout, progress=not args.no_progress)
    csv_path, html_path = write_grades(grades, out)
    n_students = len({g.student for g in grades})
    print(f"graded {n_students} students: {csv_path}, {html_path}")
    return 0
