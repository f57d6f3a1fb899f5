"""Student and instructor versions of the notebooks, generated from the one master source.

The notebooks in ``notebooks/`` are the *master* (instructor) source. Each exercise solution
sits between nbgrader-style markers inside a code cell whose metadata hides its source in
JupyterLab (``"jupyter": {"source_hidden": true}``)::

    def dims_per_feature(W):
        ### BEGIN SOLUTION
        return W.shape[-2] / (W ** 2).sum()
        ### END SOLUTION
    check("toy.dims_per_feature", dims_per_feature)

``student`` mode (the default) replaces every marked region:

* inside a function body (indented region): ``raise NotImplementedError(...)``, so
  :func:`polycode_lite.course.exercises.check` answers "not attempted yet" and the notebook still
  runs to the end;
* at the top level of a cell (a value exercise such as ``answer = 0.5``): each name the
  solution assigns becomes ``name = ...`` (Ellipsis, which ``check`` also reads as "not
  attempted"), so *Run All* does not stop there either;
* in markdown cells: the region becomes "YOUR ANSWER HERE" (nbgrader's convention).

Solution cells are un-hidden (the learner must see the stub), and all outputs and execution
counts are stripped. ``instructor`` mode keeps the solutions, un-hides every solution cell and
strips outputs: one switch to show all solutions. ``--nbgrader``
instead writes an nbgrader course (:mod:`polycode_lite.course.nbgrader_course`): solution cells,
each ``check(...)`` in its own graded cell, ``FAST = True`` and an ``nbgrader_config.py``.

Command line: ``polycode-lite student-notebooks [--mode student|instructor] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
import textwrap
from pathlib import Path
from typing import Any


__all__ = [
    "BEGIN",
    "CHECK_CALL",
    "END",
    "has_solution",
    "strip_solutions",
    "make_student_notebook",
    "make_instructor_notebook",
    "convert_notebooks",
    "cli_main",
]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB_MESSAGE = "Exercise: replace this line with your code"
#: a top-level ``check("topic.name", ...)`` line; findall gives the exercise ids
CHECK_CALL = re.compile(r"^\s*(?:assert\s+)?check\(\s*[\"']([\w.]+)[\"']", re.MULTILINE)


def has_solution(source: str) -> bool:
    """Whether a cell source contains a ``### BEGIN SOLUTION`` marker."""
    return BEGIN in source


def _top_level_stub(code: str) -> list[str]:
    """Stub lines for a top-level solution region: defs keep their signature and raise;
    every other name the solution binds becomes ``name = ...`` (read as "not attempted")."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return ["# YOUR CODE HERE\n", "pass\n"]
    lines: list[str] = []
    names: list[str] = []

    def add(target: ast.AST) -> None:
        if isinstance(target, ast.Name) and target.id not in names:
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                add(elt)

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kw = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
            lines += [f"{kw} {node.name}({ast.unparse(node.args)}):\n",
                      "    # YOUR CODE HERE\n",
                      f"    raise NotImplementedError(\"{STUB_MESSAGE}\")\n"]
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                add(t)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            add(node.target)
    if names:
        lines = ["# YOUR CODE HERE: replace each ... with your answer\n"] + [
            f"{name} = ...\n" for name in names] + lines
    return lines or ["# YOUR CODE HERE\n", "pass\n"]


def _code_stub(region: list[str], indent: str) -> list[str]:
    """Replacement lines for one solution region of a code cell."""
    if indent:  # inside a function/loop body: raising keeps the cell runnable
        return [f"{indent}# YOUR CODE HERE\n",
                f"{indent}raise NotImplementedError(\"{STUB_MESSAGE}\")\n"]
    return _top_level_stub("".join(region))


def strip_solutions(source: str, cell_type: str = "code") -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a cell source.

    Code regions become a stub (see the module docstring); markdown regions become
    "YOUR ANSWER HERE". Raises ValueError on an unclosed or nested region, naming the line.
    """
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    region: list[str] | None = None
    indent = ""
    for i, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if region is not None:
                raise ValueError(f"nested '{BEGIN}' at line {i}: close the first region "
                                 f"with '{END}' before opening another.")
            region = []
            indent = line[: len(line) - len(line.lstrip())]
        elif stripped.startswith(END):
            if region is None:
                raise ValueError(f"'{END}' at line {i} without a matching '{BEGIN}'.")
            if cell_type == "code":
                out.extend(_code_stub(region, indent))
            else:
                out.append("YOUR ANSWER HERE\n")
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise ValueError(f"'{BEGIN}' without a matching '{END}': add '{END}' after the "
                         "solution.")
    return "".join(out).rstrip("\n")


def _clear_outputs(nb: Any) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)


def _unhide(cell: Any) -> None:
    jup = cell.metadata.get("jupyter")
    if isinstance(jup, dict):
        jup.pop("source_hidden", None)
        jup.pop("outputs_hidden", None)
        if not jup:
            cell.metadata.pop("jupyter")


#: markdown shown only in the master notebooks (e.g. "the solution is in the collapsed cell")
MASTER_ONLY = re.compile(r"<!-- master-only -->.*?<!-- /master-only -->\s*", re.DOTALL)


def make_student_notebook(nb: Any) -> Any:
    """Return a copy of ``nb`` with solutions removed, solution cells visible, outputs stripped,
    and master-only markdown (``<!-- master-only -->`` ... ``<!-- /master-only -->``) dropped."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = MASTER_ONLY.sub("", cell.source)
        if has_solution(cell.source):
            cell.source = strip_solutions(cell.source, cell.cell_type)
            _unhide(cell)
    _clear_outputs(nb)
    return nb


def make_instructor_notebook(nb: Any) -> Any:
    """Return a copy of ``nb`` with every solution cell shown (not hidden), outputs stripped."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if has_solution(cell.source):
            _unhide(cell)
    _clear_outputs(nb)
    return nb


def convert_notebooks(notebooks: list[Path], out_dir: Path, mode: str = "student") -> list[Path]:
    """Write the ``mode`` version ("student" or "instructor") of each notebook into ``out_dir``.

    Returns the written paths. Raises ValueError for an unknown mode or a missing notebook.
    """
    import nbformat

    if mode not in {"student", "instructor"}:
        raise ValueError(f"mode must be 'student' or 'instructor', got {mode!r}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    make = make_student_notebook if mode == "student" else make_instructor_notebook
    written = []
    for path in notebooks:
        path = Path(path)
        if not path.exists():
            raise ValueError(f"notebook {path} does not exist; list notebooks/ for the names.")
        nb = nbformat.read(str(path), as_version=4)
        try:
            new = make(nb)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        target = out_dir / path.name
        nbformat.write(new, str(target))
        written.append(target)
    return written


OUT_OPTION = {"default": None,
              "help": "output folder (default ./build/student or ./build/instructor)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite student-notebooks``."""
    from polycode_lite.course.reproduce import NOTEBOOK_DIR

    parser.add_argument("--mode", choices=["student", "instructor"], default=None,
                        help="student (default): solutions removed; instructor: all shown")
    parser.add_argument("--only", default=None, help="only notebooks whose name contains this")
    parser.add_argument("--nbgrader", action="store_true",
                        help="write an nbgrader course instead: source/<notebook>/ with solution "
                             "cells and one graded check cell per exercise, nbgrader_config.py")
    parser.add_argument("--notebooks", default=str(NOTEBOOK_DIR), help="master notebook folder")


def main(args: argparse.Namespace) -> int:
    """Write the student version (solutions removed) or the instructor version (all solutions
    shown) of the notebook sequence."""
    from polycode_lite._common import refuse_output_inside
    from polycode_lite.course.reproduce import notebook_paths

    if args.nbgrader and args.mode == "student":
        raise ValueError("--nbgrader writes the instructor source (nbgrader generate_assignment "
                         "makes the student version): drop --mode student.")
    kind = "nbgrader" if args.nbgrader else (args.mode or "student")
    out = Path(args.out) if args.out else Path("build") / kind
    source = Path(args.notebooks)
    refuse_output_inside(out, source)
    paths = notebook_paths(source, only=args.only)
    if args.nbgrader:
        from polycode_lite.course.nbgrader_course import write_nbgrader_course

        written = write_nbgrader_course(paths, out)
    else:
        written = convert_notebooks(paths, out, mode=kind)
    for p in written:
        print(f"wrote {p}")
    print(f"{len(written)} {kind} notebooks in {out}/")
    if args.nbgrader:
        print(f"next: cd {out} && nbgrader generate_assignment {paths[0].stem} (see README.md)")
    return 0


def cli_main(argv: list[str] | None = None) -> int:
    """``polycode-lite student-notebooks ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("student-notebooks", argv)


if __name__ == "__main__":
    sys.exit(cli_main())
