"""The reproduction report: claims table first, figure links, failing notebooks named with
their failing cell, and the rest of the sequence still running after a failure."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from polycode_lite.course.claims import record_claim
from polycode_lite.course.report import render_report, write_report
from polycode_lite.course.reproduce import NotebookRun, reproduce


def _claims() -> list[dict]:
    return [
        dict(notebook="01_toy", claim="D* sticks at 1/2 <antipodal>", expected="1/2 [C-ext]",
             measured="0.49 ± 0.02", verdict="holds", figure="01_toy__dstar.png"),
        dict(notebook="05_dropout", claim="alpha rises with dropout", expected="rises [S]",
             measured="slope 0.1 [-0.2, 0.4]", verdict="does not hold at this scale",
             figure=None),
    ]


def test_claims_table_comes_first_and_links_figures(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    png = tmp_path / "results" / "01_toy__dstar.png"
    png.write_bytes(b"\x89PNG fake")
    html_nb = tmp_path / "01_toy.html"
    html_nb.write_text("<html></html>")
    runs = [NotebookRun("01_toy", True, 12.0, tmp_path / "01_toy.ipynb", html_nb),
            NotebookRun("05_dropout", False, 3.0, None, None, "ValueError: bad p", 7,
                        {"failing_source": "estimate(p=-1)"})]
    page = render_report(runs, tmp_path, True, _claims(),
                         [("01_toy", png, "D* falls with sparsity.")], total_seconds=15.0)
    assert page.index("<h2 id='claims'>") < page.index("<h2 id='notebooks'>") < page.index(
        "<h2 id='figures'>")
    # claim text is escaped, verdicts are coloured, figure and executed notebook are linked
    assert "D* sticks at 1/2 &lt;antipodal&gt;" in page
    assert "<tr class='holds'>" in page and "<tr class='fails'>" in page
    assert "href='results/01_toy__dstar.png'" in page
    assert "href='01_toy.html'" in page
    assert "0.49 ± 0.02" in page and "slope 0.1 [-0.2, 0.4]" in page
    # the failed notebook is named with its cell, error and source; its claim is flagged
    assert "FAILED" in page and "cell 7" in page and "ValueError: bad p" in page
    assert "estimate(p=-1)" in page
    assert "(notebook failed in this run)" in page
    assert "D* falls with sparsity." in page
    assert "1/2</b> notebooks ran" in page and "15 s in total" in page
    # the source tags used in the table are explained once, and only those
    legend = page[page.index("class='legend'"):]
    assert "[C-ext]</b> from the cited external source" in legend
    assert "[S]</b> from secondary summaries" in legend
    assert "[O]" not in legend and "[C-fig]" not in legend


def test_write_report_reads_results_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POLYCODE_RESULTS_DIR", str(tmp_path / "results"))
    record_claim(notebook="02_cap", claim="C(1-D) capacity", measured="0.80 (tol 0.02)",
                 verdict="partly", expected="0.8")
    path = write_report([{"name": "02_cap", "ok": True, "seconds": 1.0}], tmp_path, fast=False)
    page = path.read_text()
    assert path == tmp_path / "report.html"
    assert "C(1-D) capacity" in page and "<tr class='partly'>" in page
    assert "full mode" in page


def test_empty_run_says_so(tmp_path: Path) -> None:
    page = write_report([], tmp_path, fast=True).read_text()
    assert "No claims were recorded" in page and "No figures were saved" in page


def _nb(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for kind, src in cells:
        cell = nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(
            src)
        nb.cells.append(cell)
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def test_reproduce_reports_failing_cell_and_keeps_going(tmp_path: Path, monkeypatch,
                                                        capsys) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    bad = _nb([("md", "# bad"), ("code", "FAST = False"), ("code", "x = 1"),
               ("code", "raise ValueError('deliberate failure')"), ("code", "y = 2")])
    good = _nb([
        ("md", "# good"), ("code", "FAST = False"),
        ("code", "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                 "from polycode_lite.course.claims import record_claim, show_figure\n"
                 "fig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\n"
                 "ax.set(title='t', xlabel='x', ylabel='y')\n"
                 "p = show_figure(fig, 'line', 'A rising line.', notebook='02_good')\n"
                 "record_claim(notebook='02_good', claim='lines rise', measured=f'FAST={FAST}',"
                 " verdict='holds', figure=p.name)"),
    ])
    nbformat.write(bad, str(nbs / "01_bad.ipynb"))
    nbformat.write(good, str(nbs / "02_good.ipynb"))
    out = tmp_path / "build"
    # a stale claim from an earlier run of 02_good must be replaced, not shown
    (out / "results").mkdir(parents=True)
    (out / "results" / "claims__02_good.json").write_text(json.dumps(
        [dict(notebook="02_good", claim="stale claim", measured="old", verdict="holds")]))
    monkeypatch.setenv("POLYCODE_RESULTS_DIR", str(out / "results"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runs = reproduce(out, fast=True, notebook_dir=nbs)
    printed = capsys.readouterr().out
    assert [r.name for r in runs] == ["01_bad", "02_good"]
    bad_run, good_run = runs
    assert not bad_run.ok and good_run.ok
    assert bad_run.failing_cell == 4  # position in the source notebook, 1-based
    assert "deliberate failure" in bad_run.error
    assert "raise ValueError" in bad_run.extra["failing_source"]
    assert "[1/2] 01_bad.ipynb: FAILED in cell 4" in printed
    assert "1/2 notebooks ran in" in printed
    page = (out / "report.html").read_text()
    assert "lines rise" in page and "FAST=True" in page and "stale claim" not in page
    assert "href='results/02_good__line.png'" in page
    assert (out / "02_good.html").exists() and "href='02_good.html'" in page
    summary = json.loads((out / "runs.json").read_text())
    assert summary["fast"] is True and summary["notebooks"][0]["failing_cell"] == 4


def test_cli_rejects_unknown_notebook(tmp_path: Path, capsys) -> None:
    from polycode_lite.course.reproduce import cli_main

    assert cli_main(["--only", "no_such_notebook_xyz", "--out", str(tmp_path)]) == 2
    assert "no notebook" in capsys.readouterr().err
    assert cli_main(["--notebooks", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    assert "no NN_name.ipynb notebooks" in capsys.readouterr().err
    assert not (tmp_path / "b" / "report.html").exists()


def test_grading_a_submission_with_strict_checks(tmp_path: Path, monkeypatch, capsys) -> None:
    """An instructor runs a student's folder with POLYCODE_STRICT_CHECKS=1: a wrong answer
    fails the notebook at its check cell, and the report names that cell and the feedback."""
    from polycode_lite.course.reproduce import cli_main

    subs = tmp_path / "alice"
    subs.mkdir()
    nb = _nb([("md", "# hw"), ("code", "FAST = False"),
              ("code", "from polycode_lite.course.exercises import check"),
              ("code", "def smoothness_threshold(d):\n    return 1 + 1 / d\n"
                       "check('orientation.smoothness_threshold', smoothness_threshold);")])
    nbformat.write(nb, str(subs / "00_hw.ipynb"))
    monkeypatch.setenv("POLYCODE_STRICT_CHECKS", "1")
    monkeypatch.setenv("POLYCODE_RESULTS_DIR", str(tmp_path / "build" / "results"))
    rc = cli_main(["--fast", "--notebooks", str(subs), "--out", str(tmp_path / "build")])
    assert rc == 1
    printed = capsys.readouterr().out
    assert "00_hw.ipynb: FAILED in cell 4: AssertionError" in printed
    page = (tmp_path / "build" / "report.html").read_text()
    import html

    from polycode_lite.course.exercises import check

    feedback = check("orientation.smoothness_threshold", lambda d: 1 + 1 / d, verbose=False,
                     strict=False)
    case_line = next(m for m in feedback.messages if m.startswith("✘ case"))
    assert html.escape(case_line) in page


def test_claim_figure_found_by_show_figure_name(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "07_lm__alpha-depth.png").write_bytes(b"png")
    claims = [dict(notebook="07_lm", claim="c", measured="m", verdict="holds",
                   figure="alpha_depth.png"),
              dict(notebook="07_lm", claim="d", measured="m", verdict="holds",
                   figure="missing.png")]
    page = render_report([], tmp_path, True, claims, [])
    assert "href='results/07_lm__alpha-depth.png'" in page
    assert "missing.png" in page and "href='results/missing.png'" not in page
