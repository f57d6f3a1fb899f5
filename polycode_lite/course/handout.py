"""``polycode-lite notebooks DIR``: copy the course out of the installed package.

A ``pip install`` puts the notebooks inside ``site-packages``, where a learner should neither edit
nor run them. This command copies them (the master version with solutions in collapsed cells, or
the ``--mode student`` handout without solutions) and a short README into a folder of the user's
own; outputs of every run then go under that folder's ``build/``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from polycode_lite._common import COURSE_NOTEBOOK_DIR, refuse_output_inside

__all__ = ["copy_course", "add_arguments", "main", "COURSE_README"]

COURSE_README = """\
# polycode_lite: the course

Notebooks for working through Marshall & Kirchner (2024), *Understanding polysemanticity in
neural networks through coding theory*, hands-on. Take them in order: `00_orientation.ipynb`
has the map (what each notebook asks, what it builds on, how long it takes).

    jupyter lab            # then open 00_orientation.ipynb

Every notebook has a `parameters` cell with `FAST`: `FAST = True` runs it in about a minute on a
laptop CPU, `FAST = False` is the full run. Figures and the claims each notebook records go to
`build/results/` under the folder you start Jupyter in.

Run the whole sequence headless and get a report: `polycode-lite reproduce --fast --notebooks .`
(writes `build/report.html`). Exercises check themselves: a `check(...)` line under each one says
whether your answer is right and, if not, what the mistake looks like.

{mode_note}
"""

_MODE_NOTES = {
    "master": "Solutions sit in collapsed cells under each exercise: try first, then expand.",
    "student": "This is the student handout: solutions are removed (`# YOUR CODE HERE`).",
    "instructor": "This is the instructor key: every solution cell is shown.",
}


def copy_course(out_dir: Path, mode: str = "master", force: bool = False) -> list[Path]:
    """Copy the course notebooks and a README into ``out_dir``; return the written paths.

    ``mode``: "master" (solutions in collapsed cells), "student" (solutions removed) or
    "instructor" (solutions shown). Raises FileExistsError, changing nothing, when a notebook
    would overwrite one already in ``out_dir`` (a learner's work) unless ``force``.
    """
    from polycode_lite.course.reproduce import notebook_paths
    from polycode_lite.course.student import convert_notebooks

    if mode not in _MODE_NOTES:
        raise ValueError(f"mode must be one of {sorted(_MODE_NOTES)}, got {mode!r}.")
    out_dir = Path(out_dir)
    sources = notebook_paths(COURSE_NOTEBOOK_DIR)
    refuse_output_inside(out_dir, COURSE_NOTEBOOK_DIR, "DIR", "package's own notebook")
    clashes = [out_dir / p.name for p in sources if (out_dir / p.name).exists()]
    if clashes and not force:
        raise FileExistsError(
            f"{len(clashes)} notebook(s) already in {out_dir} (e.g. {clashes[0].name}); they may "
            "hold your work. Pick another folder, or pass --force to overwrite them.")
    out_dir.mkdir(parents=True, exist_ok=True)
    if mode == "master":
        written = []
        for p in sources:
            shutil.copyfile(p, out_dir / p.name)
            written.append(out_dir / p.name)
    else:
        written = convert_notebooks(sources, out_dir, mode=mode)
    readme = out_dir / "README.md"
    readme.write_text(COURSE_README.format(mode_note=_MODE_NOTES[mode]), encoding="utf-8")
    return [*written, readme]


OUT_OPTION = {"default": None, "help": "same as DIR"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite notebooks``."""
    parser.add_argument("dir", nargs="?", default=None, help="folder to copy the course into")
    parser.add_argument("--mode", choices=sorted(_MODE_NOTES), default="master",
                        help="master: solutions collapsed (default); student: solutions removed; "
                             "instructor: solutions shown")
    parser.add_argument("--force", action="store_true",
                        help="overwrite notebooks already in DIR")


def main(args: argparse.Namespace) -> int:
    """Copy the course notebooks (and a short README) into DIR, for a pip-installed package."""
    target = args.dir or args.out
    if target is None:
        raise ValueError("give the folder to copy into, e.g. `polycode-lite notebooks course/`.")
    target = Path(target)
    written = copy_course(target, mode=args.mode, force=args.force)
    print(f"copied {len(written) - 1} notebooks and README.md into {target}/; "
          f"next: cd {target} && jupyter lab")
    return 0
