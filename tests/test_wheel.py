"""The wheel carries the course: built here, installed into a fresh folder outside the repository,
used from an empty folder (copy the course, load the shipped models, run one notebook fast), and
nothing is written next to the installed package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, installed (without dependencies: they are this
    environment's) into an empty target folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("polycode_lite-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert sum(n.startswith("polycode_lite/course/notebooks/") for n in names) >= 8
    assert "polycode_lite/data/shipped/resnet_ae/MANIFEST.json" in names
    assert sum(n.endswith(".safetensors") for n in names) == 5
    assert "polycode_lite/data/shipped/dropout/alpha_full.json" in names
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    return target


def _run(args: list[str], cwd: Path, target: Path, timeout: int = 600, python: bool = True) -> str:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("POLYCODE_")}
    env["PYTHONPATH"] = str(target)
    proc = subprocess.run([sys.executable, *args] if python else args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.notebook
def test_installed_wheel_runs_the_course_from_an_empty_folder(installed: Path, tmp_path: Path):
    work = tmp_path / "empty"
    work.mkdir()
    before = _files(installed)
    where = _run(["-c", "import polycode_lite; print(polycode_lite.__file__)"], work, installed)
    assert where.strip().startswith(str(installed)), where  # not the checkout's package

    # the console script the wheel installed, exactly as a pip user types it
    script = installed / "bin" / "polycode-lite"
    assert script.exists()
    out = _run([str(script), "notebooks", "course/"], work, installed, python=False)
    assert "copied 9 notebooks" in out
    assert len(list((work / "course").glob("[0-9][0-9]_*.ipynb"))) == 9
    assert (work / "course" / "README.md").exists()

    loaded = _run(["-c", "from polycode_lite.models.checkpoints import shipped_models;"
                   "from polycode_lite.experiments.alpha_vs_dropout import load_shipped;"
                   "m = shipped_models(); print(sorted(m)); print(len(load_shipped('alpha_full')))"],
                  work, installed)
    assert "[0.0, 0.2, 0.4, 0.6, 0.8]" in loaded

    _run(["-m", "polycode_lite.cli", "reproduce", "--fast", "--only", "03", "--notebooks",
          "course", "--out", "build", "--no-progress"], work, installed)
    runs = json.loads((work / "build" / "runs.json").read_text())
    assert [r["ok"] for r in runs["notebooks"]] == [True]
    assert (work / "build" / "report.html").exists()
    assert list((work / "build" / "results").glob("03_*.png"))
    assert _files(installed) == before, "something was written inside the installed package"


def test_course_copy_refuses_to_overwrite_work(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    _run(["-m", "polycode_lite.cli", "notebooks", "course", "--mode", "student"], work, installed)
    nb = work / "course" / "03_eigenspectra_and_alpha.ipynb"
    nb.write_text(nb.read_text().replace("YOUR CODE HERE", "MY WORK"))
    env = {**os.environ, "PYTHONPATH": str(installed)}
    proc = subprocess.run([sys.executable, "-m", "polycode_lite.cli", "notebooks", "course"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert "MY WORK" in nb.read_text()
