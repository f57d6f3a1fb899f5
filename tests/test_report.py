"""The reproduction report: claims table first, figure links, failing notebooks named with
their failing cell, and the rest of the sequence still running after a failure."""

from __future__ import annotations

import html
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
                 verdict="partly", expected="0.8", why="0.80 sits outside the tolerance on one unit")
    path = write_report([{"name": "02_cap", "ok": True, "seconds": 1.0}], tmp_path, fast=False)
    page = path.read_text()
    assert path == tmp_path / "report.html"
    assert "C(1-D) capacity" in page and "<tr class='partly'>" in page
    assert "full mode" in page


def test_a_verdict_other_than_holds_needs_why(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POLYCODE_RESULTS_DIR", str(tmp_path / "results"))
    with pytest.raises(ValueError, match="needs why="):
        record_claim(notebook="02_cap", claim="c", measured="m", verdict="partly")
    with pytest.raises(TypeError, match="why must be a string"):
        record_claim(notebook="02_cap", claim="c", measured="m", verdict="holds", why=None)
    assert not (tmp_path / "results" / "claims__02_cap.json").exists()
    record_claim(notebook="02_cap", claim="c", measured="m", verdict="holds")


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
    (tmp_path / "empty").mkdir()
    assert cli_main(["--notebooks", str(tmp_path / "empty"), "--out", str(tmp_path / "b")]) == 2
    assert "no NN_name.ipynb notebooks" in capsys.readouterr().err
    assert not (tmp_path / "b" / "report.html").exists()
    assert cli_main(["--notebooks", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    assert "inside the --notebooks folder" in capsys.readouterr().err


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


# ------------------------------------------------------------------ the report as a handout
TOY, CODING, EIGEN = ("01_toy_models_of_superposition", "02_coding_theory_of_superposition",
                      "03_eigenspectra_and_alpha")
ENV = {"git commit": "0123abc", "mode": "FAST (reduced sizes)", "python": "3.x", "GPU": "none"}


def _section(page: str, key: str) -> str:
    start = page.index(f"<h2 id='{key}'>")
    return page[start:page.index("</section>", start)]


def _executed(tmp_path: Path, stem: str, cells: list[tuple[str, str, str]],
              anchors: bool = True) -> tuple[Path, Path]:
    """An executed notebook (code cells: id, source, printed text) and an HTML file that
    carries nbconvert's cell anchors (or not)."""
    nb = nbformat.v4.new_notebook()
    for cid, src, printed in cells:
        cell = nbformat.v4.new_code_cell(src)
        cell.id = cid
        if printed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        nb.cells.append(cell)
    ipynb = tmp_path / f"{stem}.ipynb"
    nbformat.write(nb, str(ipynb))
    html_nb = tmp_path / f"{stem}.html"
    html_nb.write_text("".join(f'<div class="jp-Cell" id="cell-id={cid}"></div>' if anchors
                               else "<div></div>" for cid, _, _ in cells))
    return ipynb, html_nb


def _handout(tmp_path: Path) -> tuple[str, list[dict]]:
    res = tmp_path / "results"
    res.mkdir()
    figs = {}
    for stem, name, caption in [(TOY, "zz-first-shown", "Toy: shown first."),
                                (TOY, "aa-shown-second", "Toy: shown second, linked by a claim."),
                                (CODING, "entropy", "Coding: entropy <vs> dimensions."),
                                (EIGEN, "spectrum", "Eigen: a spectrum.")]:
        png = res / f"{stem}__{name}.png"
        png.write_bytes(b"\x89PNG fake")
        png.with_suffix(".txt").write_text(caption)
        figs[name] = (stem, png, caption)
    claims = [
        dict(notebook=TOY, claim="Sparse features <b>superpose</b>",
             expected="5 [C-ext Elhage 2022]",
             measured="5 of 5", control="untrained: 2 of 5", verdict="holds",
             figure=f"{TOY}__aa-shown-second.png"),
        dict(notebook=TOY, claim="D* sticks at 1/2", expected="1/2 [C-ext]", measured="0.5",
             control="dense: 1.0", verdict="holds", figure=None),
        dict(notebook=CODING, claim="Entropy predicts dimensions", expected="ρ > 0.9 [O]",
             measured="ρ = 0.71 [0.6, 0.8]", control="shuffled null: ρ = 0.1",
             verdict="partly", figure=f"{CODING}__entropy.png",
             why="the entropy bound follows the trend but not the plateau at 1/2"),
    ]
    toy = _executed(tmp_path, TOY, [
        ("c-imports", "from polycode_lite.course.claims import record_claim, show_figure", ""),
        ("c-figs", "show_figure(a)\nshow_figure(b)",
         "Figure: Toy: shown first.\nFigure: Toy: shown second, linked by a claim.\n"),
        ("c-sparse", 'record_claim(notebook=NB, claim="Sparse features <b>superpose</b>")', ""),
        ("c-loop", "for c in res.claims():\n    print(c['claim'])\n    record_claim(**c)",
         "D* sticks at 1/2\n"),
    ])
    coding = _executed(tmp_path, CODING, [
        ("d-claim", 'record_claim(notebook=NB, claim="Entropy predicts dimensions", ...)', "")],
        anchors=False)
    runs = [NotebookRun(TOY, True, 30.0, *toy), NotebookRun(CODING, True, 20.0, *coding),
            NotebookRun(EIGEN, False, 5.0, None, None, "RuntimeError: boom", 3)]
    # figures handed over in file-name order, the coding notebook first: the gallery reorders
    figures = [figs["entropy"], figs["aa-shown-second"], figs["spectrum"], figs["zz-first-shown"]]
    return render_report(runs, tmp_path, True, claims, figures, environment=ENV), claims


def test_handout_has_every_section_in_order(tmp_path: Path) -> None:
    page, _ = _handout(tmp_path)
    keys = ["summary", "claims", "not-reproduced", "notebooks", "figures", "environment"]
    positions = [page.index(f"<h2 id='{k}'>") for k in keys]
    assert positions == sorted(positions)
    assert "What did not reproduce, and why" in page
    assert "<dt>why</dt><dd>the entropy bound follows the trend but not the plateau at 1/2</dd>" in page
    # it prints: a page per section, images within the page width
    assert "@media print" in page and "break-before:page" in page and "max-width:100%" in page


def test_handout_summarises_each_notebook(tmp_path: Path) -> None:
    from polycode_lite.course.sequence import info

    summary = _section(_handout(tmp_path)[0], "summary")
    boxes = summary.split("<div class='nb-summary'")[1:]
    assert [b.split("'")[1] for b in boxes] == [f"nb-{TOY}", f"nb-{CODING}", f"nb-{EIGEN}"]
    toy, coding, eigen = boxes
    for box, stem in zip(boxes, (TOY, CODING, EIGEN)):
        assert f"<h3>{html.escape(info(stem).title)}</h3>" in box
        assert html.escape(info(stem).question) in box
    assert "Claims: <b>2 holds</b>" in toy and "Claims: <b>1 partly</b>" in coding
    assert "no claims recorded" in eigen and "FAILED" in eigen
    # key figure: the first figure a claim links, else the notebook's first saved figure
    assert f"src='results/{TOY}__aa-shown-second.png'" in toy and "zz-first" not in toy
    assert f"src='results/{EIGEN}__spectrum.png'" in eigen
    assert f"href='{TOY}.html'" in toy


def test_claim_rows_show_their_figure_and_link_the_cell(tmp_path: Path) -> None:
    table = _section(_handout(tmp_path)[0], "claims")
    rows = {r.split("<td>")[1].split("</td>")[0]: r for r in table.split("<tr class=")[1:]}
    sparse = rows["Sparse features &lt;b&gt;superpose&lt;/b&gt;"]  # escaped
    assert f"<img src='results/{TOY}__aa-shown-second.png'" in sparse
    assert "alt='Toy: shown second, linked by a claim.'" in sparse
    # found by its text in the cell's source, or by what a record_claim loop printed
    assert f"href='{TOY}.html#cell-id=c-sparse'" in sparse
    assert f"href='{TOY}.html#cell-id=c-loop'" in rows["D* sticks at 1/2"]
    assert "<img" not in rows["D* sticks at 1/2"]
    # an HTML without cell anchors: the claim links the top of the notebook
    entropy = rows["Entropy predicts dimensions"]
    assert f"href='{CODING}.html'" in entropy and "#cell-id" not in entropy
    assert f"<img src='results/{CODING}__entropy.png'" in entropy
    assert "shuffled null: ρ = 0.1" in entropy  # the control column


def test_did_not_reproduce_lists_only_claims_that_do_not_hold(tmp_path: Path) -> None:
    section = _section(_handout(tmp_path)[0], "not-reproduced")
    assert "Entropy predicts dimensions" in section and "<b>partly</b>" in section
    for text in ("ρ = 0.71 [0.6, 0.8]", "shuffled null: ρ = 0.1", "ρ &gt; 0.9 [O]"):
        assert text in section  # measured, control, expected
    assert "superpose" not in section and "D* sticks" not in section
    assert "RuntimeError: boom" in section  # the failed notebook is named too
    empty = render_report([], tmp_path, False, [_claims()[0]], [], environment=ENV)
    assert "Every recorded claim holds" in _section(empty, "not-reproduced")


def test_legend_lists_only_the_tags_used(tmp_path: Path) -> None:
    from polycode_lite.course.claims import SOURCE_TAGS
    from polycode_lite.course.report_sections import tags_used

    page, claims = _handout(tmp_path)
    legend = page[page.index("<p class='legend'>"):]
    legend = legend[:legend.index("</p>")]
    assert tags_used(claims) == ["C-ext", "O"]
    for tag in SOURCE_TAGS:
        assert (f"<b>[{tag}]</b>" in legend) == (tag in ("C-ext", "O")), tag
    assert tags_used([dict(expected="[C-supp theorem, I units]; CI [0.98, 1.04]")]) == [
        "C-supp", "I"]


def test_gallery_follows_notebook_order_titled_by_captions(tmp_path: Path) -> None:
    gallery = _section(_handout(tmp_path)[0], "figures")
    order = [gallery.index(f"__{name}.png") for name in
             ("zz-first-shown", "aa-shown-second", "entropy", "spectrum")]
    assert order == sorted(order)  # by notebook, then as the executed notebook showed them
    assert "<figcaption>Coding: entropy &lt;vs&gt; dimensions." in gallery
    assert gallery.index("<h3>01 toy models") < gallery.index("<h3>02 coding")


def test_saved_figures_come_in_save_order(tmp_path: Path) -> None:
    import os

    from polycode_lite.course.report import _figures

    for i, name in enumerate(["zz", "aa"]):
        png = tmp_path / f"{TOY}__{name}.png"
        png.write_bytes(b"png")
        os.utime(png, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    assert [p.stem.split("__")[1] for _, p, _ in _figures(tmp_path)] == ["zz", "aa"]


def test_environment_names_commit_versions_and_mode(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from polycode_lite.course.report_sections import environment, git_commit

    env_page = _section(_handout(tmp_path)[0], "environment")
    assert "<th>git commit</th><td>0123abc</td>" in env_page and "FAST" in env_page
    env = environment(fast=False)
    assert env["mode"] == "full"
    for key in ("git commit", "python", "numpy", "torch", "transformers", "polycode_lite",
                "CPU", "GPU"):
        assert env[key], key
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_commit(outside) == "not a git checkout"
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_commit(repo) == head
    (repo / "a.py").write_text("x = 2\n")
    assert git_commit(repo) == f"{head} (with uncommitted changes)"
    (repo / "untracked").mkdir()
    assert git_commit(repo / "untracked") == "not a git checkout"
    page = render_report([], tmp_path, False, [], [], environment=environment(False))
    assert "<th>git commit</th>" in page and "<th>GPU</th>" in page


def test_claim_anchor_matches_what_nbconvert_writes(tmp_path: Path) -> None:
    """The cell anchors the report links are the ones nbconvert's HTML really carries."""
    from nbconvert import HTMLExporter

    from polycode_lite.course.report_sections import Executed

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"),
                nbformat.v4.new_code_cell('record_claim(notebook="x", claim="the claim")')]
    nb.cells[1].id = "abc123"
    ipynb = tmp_path / "x.ipynb"
    nbformat.write(nb, str(ipynb))
    body, _ = HTMLExporter().from_notebook_node(nb)
    html_nb = tmp_path / "x.html"
    html_nb.write_text(body, encoding="utf-8")
    assert Executed(ipynb, html_nb).claim_anchor({"claim": "the claim"}) == "cell-id=abc123"
    assert Executed(ipynb, html_nb).claim_anchor({"claim": "another claim"}) is None


def test_the_kernel_draws_inline_even_under_mplbackend_agg(tmp_path: Path, monkeypatch) -> None:
    """An inherited MPLBACKEND=Agg would leave a widget's plt.show() output empty."""
    from polycode_lite.course.reproduce import execute_notebook

    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("FAST = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import os, matplotlib\nprint('backend:', os.environ.get('MPLBACKEND'), "
                                          "matplotlib.get_backend())")]
    src = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, src)
    run = execute_notebook(src, tmp_path / "out", fast=True, html=False, timeout=120)
    assert run.ok, run.error
    text = "".join(o.get("text", "") for c in nbformat.read(run.output, as_version=4).cells
                   for o in c.get("outputs", []))
    assert "backend_inline" in text and "agg" not in text.split("backend:")[1].lower(), text
    import os
    assert os.environ["MPLBACKEND"] == "Agg"  # the caller's environment is restored
