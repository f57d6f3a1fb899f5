"""An nbgrader course made from the master notebooks: ``student-notebooks --nbgrader``.

nbgrader (https://nbgrader.readthedocs.io) grades the cells it knows as *graded*: it runs the
notebook and gives a graded cell its points when the cell does not raise. So this module writes,
for each master notebook, an nbgrader *source* notebook in which

* each exercise cell is a solution cell (``nbgrader generate_assignment`` clears its
  ``### BEGIN SOLUTION`` region), carrying a stub outside the region so the student version keeps
  *Run All* going (``raise NotImplementedError`` inside a function, ``name = ...`` for a value);
* each ``check(...)`` moves into its own locked, graded cell with ``strict=True``, worth the
  exercise's difficulty in points, so a wrong answer raises there (with the checker's feedback)
  whatever the environment;
* the ``parameters`` cell sets ``FAST = True``, so every cell finishes well inside the timeout.

Beside the ``source/<notebook>/<notebook>.ipynb`` folders it writes ``nbgrader_config.py`` (the
stub, a 300 s cell timeout) and a README with the commands. The stub must be nbgrader's
``ClearSolutions.code_stub`` from that config: nbgrader's own default stub raises at top level.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

from polycode_lite.course.student import (
    BEGIN,
    CHECK_CALL,
    END,
    STUB_MESSAGE,
    _clear_outputs,
    _top_level_stub,
    _unhide,
    has_solution,
)

__all__ = ["CELL_TIMEOUT_S", "nbgrader_notebook", "write_nbgrader_course", "graded_check_source"]

#: seconds per cell under nbgrader (its default, 30 s, kills the slower fast-mode cells)
CELL_TIMEOUT_S = 300
#: what ``nbgrader generate_assignment`` puts where a solution region was
CODE_STUB = "# YOUR CODE HERE"

CONFIG = f'''\
# nbgrader configuration for the polycode_lite course, written by
# `polycode-lite student-notebooks --nbgrader`. Run nbgrader from this folder.
c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "polycode_lite"
# Solution regions become a comment: each exercise cell already carries a stub outside its
# region (raise NotImplementedError inside a function, `name = ...` for a value), so the student
# version runs to the end. nbgrader's default stub would raise at the top level of a cell.
c.ClearSolutions.code_stub = {{"python": "{CODE_STUB}"}}
# Fast mode (FAST = True in each parameters cell) keeps every cell well under this limit.
c.Execute.timeout = {CELL_TIMEOUT_S}
'''

README = """\
# nbgrader course: polycode_lite

Written by `polycode-lite student-notebooks --nbgrader`. Each notebook is an assignment under
`source/`. From this folder:

    nbgrader generate_assignment {first} --force    # student version in release/
    # students submit into submitted/<student>/{first}/{first}.ipynb (or use the exchange)
    nbgrader autograde {first} --create --force     # runs each submission; scores in gradebook.db
    nbgrader generate_feedback {first} --force      # feedback/<student>/{first}/*.html

Each `check(...)` is its own graded cell (points = the exercise's difficulty, 1-3) run with
`strict=True`: a wrong answer raises there and the feedback shows the checker's diagnosis.
`FAST = True` is set in every parameters cell; `nbgrader_config.py` sets the cell timeout to
{timeout} s and the solution stub. Students' code runs on the grading machine: grade in a
container or a throwaway account.
"""


def _grade_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _is_check_stmt(node: ast.stmt) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "check"
               for n in ast.walk(node))


def _split_checks(source: str) -> tuple[str, list[str]]:
    """(the cell without its top-level ``check(...)`` statements, those statements' sources)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, []
    lines = source.splitlines(keepends=True)
    spans = [(n.lineno, n.end_lineno) for n in tree.body
             if not isinstance(n, (ast.FunctionDef, ast.ClassDef)) and _is_check_stmt(n)]
    keep = [ln for i, ln in enumerate(lines, 1) if not any(a <= i <= b for a, b in spans)]
    checks = ["".join(lines[a - 1:b]) for a, b in spans]
    return "".join(keep).rstrip() + "\n", checks


class _Strict(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "check":
            node.keywords = [k for k in node.keywords if k.arg != "strict"]
            node.keywords.append(ast.keyword(arg="strict", value=ast.Constant(True)))
        return node


def graded_check_source(check_source: str, points: int) -> str:
    """A graded cell: the learner's ``check(...)`` calls with ``strict=True`` (raise on failure)."""
    tree = _Strict().visit(ast.parse(check_source))
    body = "\n".join(ast.unparse(stmt) + ";" for stmt in tree.body)
    return (f"# Graded check ({points} point{'s' if points != 1 else ''}): do not edit this cell."
            f"\n{body}")


def _exercise_ids(check_sources: list[str]) -> list[str]:
    ids = []
    for src in check_sources:
        for n in ast.walk(ast.parse(src)):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "check"
                    and n.args and isinstance(n.args[0], ast.Constant)):
                ids.append(str(n.args[0].value))
    return ids


def _points(exercise_ids: list[str]) -> int:
    from polycode_lite.course.exercises import get

    total = 0
    for eid in exercise_ids:
        try:
            total += int(get(eid).difficulty)
        except KeyError:
            total += 1
    return max(total, 1)


def _prestub(source: str) -> str:
    """Put a stub outside each solution region (see the module docstring)."""
    out: list[str] = []
    region: list[str] | None = None
    begin_at, indent = 0, ""
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            region, begin_at = [], len(out)
            indent = line[: len(line) - len(line.lstrip())]
        elif stripped.startswith(END) and region is not None:
            out.append(line)
            if indent:  # a function body: reached only once nbgrader has cleared the region
                out.append(f'{indent}raise NotImplementedError("{STUB_MESSAGE}")\n')
            else:  # top level: `name = ...` / a raising def before the region
                out[begin_at:begin_at] = _top_level_stub("".join(region))
            region = None
            continue
        elif region is not None:
            region.append(line)
        out.append(line)
    return "".join(out)


def nbgrader_notebook(nb: Any, stem: str) -> Any:
    """The nbgrader source version of one master notebook (a copy; outputs stripped)."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells: list[Any] = []
    for cell in nb.cells:
        _unhide(cell)
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "parameters" in tags:
            cell.source = re.sub(r"^FAST\s*=\s*False\b.*$",
                                 "FAST = True  # nbgrader: every cell must finish inside the timeout",
                                 cell.source, flags=re.MULTILINE)
        if cell.cell_type == "code" and (has_solution(cell.source) or CHECK_CALL.search(cell.source)):
            solution_src, checks = _split_checks(cell.source)
            ids = _exercise_ids(checks)
            tag = "-".join(ids) or str(len(cells))
            if has_solution(cell.source):
                cell.source = _prestub(solution_src)
                cell.metadata["nbgrader"] = {
                    "solution": True, "grade": False, "locked": False, "schema_version": 3,
                    "grade_id": _grade_id(f"{stem}-answer-{tag}")}
                cells.append(cell)
            elif solution_src.strip():
                cell.source = solution_src
                cells.append(cell)
            if checks:
                points = _points(ids)
                graded = nbformat.v4.new_code_cell(graded_check_source("".join(checks), points))
                graded.metadata["nbgrader"] = {
                    "solution": False, "grade": True, "locked": True, "points": points,
                    "schema_version": 3,
                    "grade_id": _grade_id(f"{stem}-check-{tag}")}
                cells.append(graded)
            continue
        if cell.cell_type == "markdown" and has_solution(cell.source):
            # a written answer: nbgrader's "manually graded answer"
            cell.metadata["nbgrader"] = {
                "solution": True, "grade": True, "locked": False, "points": 1,
                "schema_version": 3, "grade_id": _grade_id(f"{stem}-written-{len(cells)}")}
        cells.append(cell)
    nb.cells = cells
    _clear_outputs(nb)
    return nb




def write_nbgrader_course(notebooks: list[Path], out_dir: Path) -> list[Path]:
    """Write ``out_dir/source/<stem>/<stem>.ipynb`` for each notebook, ``nbgrader_config.py``
    and ``README.md``; return the notebook paths."""
    import nbformat

    out_dir = Path(out_dir)
    written = []
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        try:
            new = nbgrader_notebook(nb, path.stem)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"{Path(path).name}: {exc}") from exc
        target = out_dir / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(new, str(target))
        written.append(target)
    (out_dir / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    first = notebooks[0].stem if notebooks else "00_orientation"
    (out_dir / "README.md").write_text(README.format(first=first, timeout=CELL_TIMEOUT_S),
                                       encoding="utf-8")
    return written
