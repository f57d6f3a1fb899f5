"""Running the course without a local install: every notebook's Colab badge and Colab setup cell
(polycode_lite.course.colab), and the Binder configuration in binder/ (kept equal to pyproject)."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from polycode_lite.course import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
BADGE_URL = re.compile(r"\]\((https://colab\.research\.google\.com/github/[^)\s]+)\)")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_every_course_notebook_is_covered():
    assert len(NOTEBOOKS) >= 8 and IDS[0].startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_badge_points_at_the_notebooks_own_file(path):
    first = _load(path)["cells"][0]
    text = _src(first)
    assert first["cell_type"] == "markdown" and text.startswith("#"), "the title stays first"
    urls = BADGE_URL.findall(text)
    assert len(urls) == 1 and colab.badge_markdown(path.stem) in text.splitlines(), (
        f"{path.name}: one badge, colab.badge_markdown({path.stem!r}); rerun "
        "`python -m polycode_lite.course.colab`")
    prefix = f"https://colab.research.google.com/github/{colab.REPOSITORY}/blob/main/"
    assert urls[0].startswith(prefix)
    in_repo = urls[0][len(prefix):]
    # the real file, not a path through the notebooks/ symlink (Colab cannot follow one)
    assert not (ROOT / in_repo).parent.is_symlink()
    assert (ROOT / in_repo).resolve() == path.resolve(), f"{path.name}: badge points at {in_repo}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_setup_cell_right_after_the_parameters_cell(path):
    nb = _load(path)
    cells = nb["cells"]
    setup = [i for i, c in enumerate(cells) if "colab-setup" in _tags(c)]
    assert len(setup) == 1, f"{path.name}: needs exactly one cell tagged colab-setup"
    cell = cells[setup[0]]
    assert cell["cell_type"] == "code" and _src(cell) == colab.setup_cell_source()
    assert cell["outputs"] == [] and cell["execution_count"] is None
    assert re.fullmatch(r"[0-9a-f]{8}", cell["id"])
    params = [i for i, c in enumerate(cells) if "parameters" in _tags(c)]
    assert setup[0] == params[0] + 1, "the setup cell follows the parameters cell"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in _tags(code[0]), "the parameters cell stays the first code cell"
    ids = [c["id"] for c in cells]
    assert len(set(ids)) == len(ids)


def test_notebooks_are_up_to_date():
    assert colab.refresh_notebooks(check=True) == [], (
        "run `python -m polycode_lite.course.colab` to refresh the badges and setup cells")
    assert colab.main(["--check"]) == 0


def _toy_notebook() -> dict:
    def cell(kind, source, cid, tags=None):
        c = {"cell_type": kind, "id": cid, "metadata": {"tags": tags} if tags else {},
             "source": source.splitlines(keepends=True)}
        if kind == "code":
            c.update(execution_count=None, outputs=[])
        return c

    title = "# 99 · Title\n\nSome text.\n**Time:** 5 minutes."
    return {"cells": [cell("markdown", title, "aaaa0000"),
                      cell("code", "FAST = False", "bbbb0000", ["parameters"]),
                      cell("code", "import numpy", "cccc0000"),
                      cell("markdown", "## Recap", "dddd0000")],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_apply_is_idempotent_and_keeps_the_other_cells(monkeypatch):
    nb = _toy_notebook()
    original = copy.deepcopy(nb)
    colab.apply_to_notebook(nb, "99_toy")
    once = copy.deepcopy(nb)
    assert colab.apply_to_notebook(nb, "99_toy") == once
    cells = nb["cells"]
    assert cells[0]["id"] == original["cells"][0]["id"]
    assert cells[1] == original["cells"][1] and cells[3:] == original["cells"][2:]
    assert colab.setup_cells(nb) == [cells[2]]
    assert _src(cells[0]) == ("# 99 · Title\n\n" + colab.badge_markdown("99_toy")
                              + "\n\nSome text.\n**Time:** 5 minutes.")
    # a fork: a new REPOSITORY rewrites the badge and the setup cell, keeping the setup cell's id
    monkeypatch.setattr(colab, "REPOSITORY", "someone/fork")
    colab.apply_to_notebook(nb, "99_toy")
    assert len(colab.setup_cells(nb)) == 1 and cells[2]["id"] == once["cells"][2]["id"]
    assert "git+https://github.com/someone/fork" in _src(cells[2])
    assert _src(cells[0]).count("Open in Colab") == 1 and "github/someone/fork/" in _src(cells[0])
    assert _src(cells[0]).endswith("\n\nSome text.\n**Time:** 5 minutes.")


def test_refresh_writes_the_notebook_format(tmp_path):
    path = tmp_path / "99_toy.ipynb"
    path.write_text(json.dumps(_toy_notebook(), indent=1, ensure_ascii=False) + "\n")
    assert colab.refresh_notebooks(tmp_path) == [path]
    assert colab.refresh_notebooks(tmp_path) == []
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1, ensure_ascii=False) + "\n"


def _run_setup(monkeypatch, capsys):
    calls = []

    class FakeShell:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    code = compile(colab.setup_cell_source(), "<colab-setup>", "exec")
    exec(code, {"get_ipython": FakeShell, "__name__": "__main__"})  # noqa: S102 (our own cell)
    return calls, capsys.readouterr().out


def test_setup_cell_off_colab_installs_nothing(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls, out = _run_setup(monkeypatch, capsys)
    assert calls == []
    assert len(out.strip().splitlines()) <= 1 and len(out) < 80


def test_setup_cell_off_colab_in_plain_python():
    """Valid Python that needs no IPython off Colab: a bare interpreter runs it quietly."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    run = subprocess.run([sys.executable, "-I", "-c", colab.setup_cell_source()], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Not on Colab: nothing to set up."


def test_setup_cell_on_colab_installs_from_repository_and_reports_the_device(monkeypatch,
                                                                                capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "polycode_lite" else real(name, *a))
    calls, out = _run_setup(monkeypatch, capsys)
    spec = f"polycode-lite @ git+https://github.com/{colab.REPOSITORY}"
    assert calls == [("pip", f'install -q "{spec}"')]
    assert "Colab with" in out and "FAST" in out
    # already installed (the cell rerun): no second install
    monkeypatch.setattr(importlib.util, "find_spec", real)
    calls, _ = _run_setup(monkeypatch, capsys)
    assert calls == []


def test_only_the_exact_setup_cell_is_exempt_from_the_pip_ban():
    test_notebooks = pytest.importorskip("test_notebooks")
    import nbformat

    source = colab.setup_cell_source()
    assert test_notebooks.NETWORK_CALL.search(source), "the ban must see the install"
    tagged = nbformat.v4.new_code_cell(source, metadata={"tags": ["colab-setup"]})
    assert test_notebooks._is_colab_setup(tagged)
    assert not test_notebooks._is_colab_setup(nbformat.v4.new_code_cell(source))
    assert not test_notebooks._is_colab_setup(nbformat.v4.new_code_cell(
        source + "\nget_ipython().run_line_magic('pip', 'install x')\n",
        metadata={"tags": ["colab-setup"]}))


def test_binder_link():
    assert colab.binder_url() == (f"https://mybinder.org/v2/gh/{colab.REPOSITORY}/HEAD"
                                  "?labpath=notebooks%2F00_orientation.ipynb")
    assert (ROOT / "notebooks" / "00_orientation.ipynb").exists()


# --- Binder (repo2docker reads binder/) ---------------------------------------------------------

def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement_lines() -> list[str]:
    return [ln.strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def test_binder_requirements_equal_pyproject_dependencies():
    lines = _requirement_lines()
    options = [ln for ln in lines if ln.startswith("-")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"], (
        f"only the CPU torch index may be an option line (no -e, -r or a local path): {options}")
    ours = {Requirement(ln).name.lower(): Requirement(ln) for ln in lines if not ln.startswith("-")}
    theirs = {Requirement(d).name.lower(): Requirement(d)
              for d in _pyproject()["project"]["dependencies"]}
    assert set(ours) == set(theirs), (f"binder/requirements.txt and pyproject differ: only binder "
                                      f"{sorted(set(ours) - set(theirs))}, only pyproject "
                                      f"{sorted(set(theirs) - set(ours))}")
    wrong = [f"{n}: binder '{ours[n].specifier}' vs pyproject '{theirs[n].specifier}'"
             for n in ours if (ours[n].specifier, ours[n].extras, ours[n].marker)
             != (theirs[n].specifier, theirs[n].extras, theirs[n].marker)]
    assert not wrong, "specifiers differ: " + "; ".join(wrong)
    assert not any(r.url for r in ours.values())


def test_binder_postbuild_installs_the_package_without_resolving_again():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
    commands = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    installs = [c for c in commands if re.search(r"\bpip\s+install\b", c)]
    assert len(installs) == 1, installs
    args = installs[0].split()
    assert args[-1] == "." and "--no-deps" in args, "pip install --no-deps . (deps come first)"
    assert not {"-e", "--editable", "-r", "--requirement"} & set(args)
    assert 'cd "$(dirname "$0")/.."' in commands, "run from the repository root"


def test_binder_python_satisfies_requires_python():
    from packaging.specifiers import SpecifierSet

    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert m, f"binder/runtime.txt must read python-X.Y, not {runtime!r}"
    assert SpecifierSet(_pyproject()["project"]["requires-python"]).contains(m.group(1) + ".0")
