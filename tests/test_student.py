"""Student/instructor notebook generation: solutions removed (or shown), cells un-hidden,
outputs stripped, and the student version still runs to the end with "not attempted" feedback."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from polycode_lite.cli import COMMANDS, main
from polycode_lite.course.exercises import Case, Exercise, check, register
from polycode_lite.course.student import (
    BEGIN,
    END,
    convert_notebooks,
    make_instructor_notebook,
    make_student_notebook,
    strip_solutions,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob(
    "[0-9][0-9]_*.ipynb"))

FUNC_CELL = f"""import numpy as np
def square_sum(x):
    '''Sum of squares.'''
    {BEGIN}
    y = np.asarray(x) ** 2
    return y.sum()
    {END}
check("studenttest.square_sum", square_sum)"""

VALUE_CELL = f"""{BEGIN}
threshold = 1 + 2 / 1
a, b = 1, 2
{END}
check("studenttest.threshold", threshold)"""

DEF_CELL = f"""{BEGIN}
def double(x, factor=2):
    return factor * x
{END}
print('after')"""


def _master() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("FAST = False", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from polycode_lite.course.exercises import check"),
        nbformat.v4.new_code_cell(FUNC_CELL, metadata={"jupyter": {"source_hidden": True}}),
        nbformat.v4.new_code_cell(VALUE_CELL, metadata={"jupyter": {"source_hidden": True}}),
        nbformat.v4.new_markdown_cell(f"Why?\n{BEGIN}\nBecause smooth codes need it.\n{END}"),
        nbformat.v4.new_code_cell("print('the end')"),
    ]
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="✔ all 2 cases passed.")]
    nb.cells[3].execution_count = 3
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _register_test_exercises() -> None:
    register(Exercise(
        id="studenttest.square_sum", title="sum of squares", difficulty=1, importance=1,
        minutes=2, kind="function", reference=lambda x: float((__import__("numpy").asarray(
            x) ** 2).sum()), hint="square, then sum",
        cases=(Case("small", ([1.0, 2.0],)), Case("neg", ([-3.0],))),
        wrong_answer=lambda x: float(sum(x))))
    register(Exercise(
        id="studenttest.threshold", title="smoothness threshold d=1", difficulty=1,
        importance=2, minutes=1, kind="value", reference=lambda: 3.0, hint="1 + 2/d",
        wrong_answer=2.0))


def test_strip_function_region_raises_not_implemented() -> None:
    out = strip_solutions(FUNC_CELL)
    assert BEGIN not in out and END not in out and "np.asarray(x) ** 2" not in out
    assert "    raise NotImplementedError(" in out  # keeps the body's indentation
    assert "'''Sum of squares.'''" in out and 'check("studenttest.square_sum"' in out
    ast.parse(out)


def test_strip_top_level_value_and_def_regions_keep_cell_running() -> None:
    out = strip_solutions(VALUE_CELL)
    assert "threshold = ...\n" in out and "a = ...\n" in out and "b = ...\n" in out
    assert "1 + 2 / 1" not in out
    ns: dict = {}
    exec(compile(out.replace('check("studenttest.threshold", threshold)', ""), "<cell>", "exec"),
         ns)
    assert ns["threshold"] is Ellipsis
    out = strip_solutions(DEF_CELL)
    assert "def double(x, factor=2):" in out and "factor * x" not in out
    ns = {}
    exec(compile(out, "<cell>", "exec"), ns)
    with pytest.raises(NotImplementedError):
        ns["double"](1)


def test_strip_markdown_and_malformed_regions() -> None:
    assert strip_solutions(f"Q?\n{BEGIN}\nsecret\n{END}", "markdown") == "Q?\nYOUR ANSWER HERE"
    with pytest.raises(ValueError, match="without a matching"):
        strip_solutions(f"x = 1\n{BEGIN}\ny = 2\n")
    with pytest.raises(ValueError, match="nested"):
        strip_solutions(f"{BEGIN}\n{BEGIN}\n{END}\n")
    with pytest.raises(ValueError, match="without a matching"):
        strip_solutions(f"{END}\n")


def test_student_notebook_unhides_and_strips_outputs() -> None:
    master = _master()
    student = make_student_notebook(master)
    assert master.cells[3].outputs, "the master must not be modified"
    for cell in student.cells:
        assert BEGIN not in cell.source
        assert "source_hidden" not in cell.metadata.get("jupyter", {})
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "Because smooth codes" not in student.cells[5].source


def test_instructor_notebook_shows_all_solutions() -> None:
    inst = make_instructor_notebook(_master())
    assert BEGIN in inst.cells[3].source and "np.asarray(x) ** 2" in inst.cells[3].source
    assert all("source_hidden" not in c.metadata.get("jupyter", {}) for c in inst.cells)
    assert inst.cells[3].outputs == []


def test_nbgrader_source_splits_checks_into_graded_cells() -> None:
    from polycode_lite.course.nbgrader_course import nbgrader_notebook

    _register_test_exercises()
    nb = nbgrader_notebook(_master(), "07_x")
    md = [c.metadata.get("nbgrader") for c in nb.cells]
    assert [m and (m["solution"], m["grade"]) for m in md] == [
        None, None, None, (True, False), (False, True), (True, False), (False, True),
        (True, True), None]
    assert md[4]["grade_id"] == "07_x-check-studenttest-square_sum" and md[4]["locked"]
    assert "strict=True" in nb.cells[4].source and "check(" not in nb.cells[3].source
    assert "FAST = True" in nb.cells[1].source
    assert all(m["schema_version"] == 3 for m in md if m)
    # after nbgrader clears the regions (stub "# YOUR CODE HERE") the cells still run to the end
    import re

    ns: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            src = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "# YOUR CODE HERE",
                         cell.source, flags=re.DOTALL)
            if "strict=True" in src:
                with pytest.raises(AssertionError, match="Not attempted"):
                    exec(compile(src, "<cell>", "exec"), ns)
            else:
                exec(compile(src, "<cell>", "exec"), ns)


def test_master_only_markdown_is_dropped_for_students() -> None:
    nb = _master()
    nb.cells[0].source = "# T\n\nTry it.<!-- master-only --> Expand the hidden cell.<!-- /master-only -->"
    assert "hidden" not in make_student_notebook(nb).cells[0].source
    assert "hidden" in make_instructor_notebook(nb).cells[0].source


def test_student_version_runs_and_reports_not_attempted(capsys) -> None:
    """Executing the student cells in order: nothing raises, both checks say not attempted;
    the master (solution) version passes both."""
    _register_test_exercises()
    for nb, expect in ((make_student_notebook(_master()), "Not attempted"),
                       (_master(), "✔")):
        ns: dict = {}
        for cell in nb.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, "<cell>", "exec"), ns)
        out = capsys.readouterr().out
        assert out.count(expect) == 2, out
        assert "the end" in out


def test_strict_mode_raises_for_autograding(monkeypatch) -> None:
    _register_test_exercises()
    assert not check("studenttest.threshold", 2.0, verbose=False)
    monkeypatch.setenv("POLYCODE_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="expected 3"):
        check("studenttest.threshold", 2.0, verbose=False)
    assert check("studenttest.threshold", 3.0, verbose=False)


def test_cli_writes_both_versions(tmp_path: Path, capsys) -> None:
    assert "student-notebooks" in COMMANDS
    src = tmp_path / "nbs"
    src.mkdir()
    nbformat.write(_master(), str(src / "09_demo.ipynb"))
    assert main(["student-notebooks", "--notebooks", str(src), "--out",
                 str(tmp_path / "s")]) == 0
    assert main(["student-notebooks", "--mode", "instructor", "--notebooks", str(src), "--out",
                 str(tmp_path / "i")]) == 0
    s = nbformat.read(str(tmp_path / "s" / "09_demo.ipynb"), as_version=4)
    i = nbformat.read(str(tmp_path / "i" / "09_demo.ipynb"), as_version=4)
    assert "NotImplementedError" in s.cells[3].source and BEGIN in i.cells[3].source
    assert "1 student notebooks" in capsys.readouterr().out
    with pytest.raises(ValueError, match="mode"):
        convert_notebooks([src / "09_demo.ipynb"], tmp_path, mode="teacher")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_real_notebook_converts_to_valid_python(path: Path) -> None:
    """Every landed notebook's student version parses, keeps its check calls, and has no
    solution left; cells with solutions are hidden in the master."""
    master = nbformat.read(str(path), as_version=4)
    student = make_student_notebook(master)
    for m, s in zip(master.cells, student.cells):
        if BEGIN in m.source:
            assert m.metadata.get("jupyter", {}).get("source_hidden") is True, (
                f"{path.name}: a solution cell must be collapsed in the master "
                "(metadata jupyter.source_hidden = true)")
        if s.cell_type == "code":
            assert BEGIN not in s.source
            src = "\n".join(line for line in s.source.splitlines()
                            if not line.lstrip().startswith(("%", "!")))
            ast.parse(src)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_version_runs_to_the_end(path: Path, tmp_path: Path, monkeypatch) -> None:
    """The student version of each notebook runs headless in fast mode without stopping, and
    every exercise reports "Not attempted" (slow: executes every notebook a second time)."""
    from polycode_lite.course.reproduce import execute_notebook

    master = nbformat.read(str(path), as_version=4)
    n_checks = sum(c.source.count("check(") for c in master.cells
                   if c.cell_type == "code" and BEGIN in c.source)
    written = convert_notebooks([path], tmp_path / "student", mode="student")
    monkeypatch.setenv("POLYCODE_RESULTS_DIR", str(tmp_path / "results"))
    run = execute_notebook(written[0], tmp_path / "out", fast=True, html=False)
    assert run.ok, f"student {path.name} stopped in cell {run.failing_cell}: {run.error}"
    executed = nbformat.read(str(run.output), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")
    assert text.count("Not attempted") >= n_checks
