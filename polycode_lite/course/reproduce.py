"""Run the notebook sequence headless and write executed copies and HTML to ``build/``.

``make run`` calls ``polycode-lite reproduce``; the tests call :func:`execute_notebook` with
``fast=True``. Every notebook has a cell tagged ``parameters`` with at least ``FAST = False``;
papermill injects the overrides after it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

__all__ = ["NotebookRun", "notebook_paths", "execute_notebook", "reproduce", "cli_main"]

from polycode_lite._common import COURSE_NOTEBOOK_DIR, default_output_root, refuse_output_inside

#: The course notebooks shipped inside the package (``notebooks/`` in a checkout links here).
NOTEBOOK_DIR = COURSE_NOTEBOOK_DIR


@dataclass
class NotebookRun:
    """Outcome of one notebook execution."""

    name: str
    ok: bool
    seconds: float
    output: Path | None = None
    html: Path | None = None
    error: str | None = None
    failing_cell: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def notebook_paths(notebook_dir: Path = NOTEBOOK_DIR, only: str | None = None) -> list[Path]:
    """Notebooks of the sequence, in order (NN_name.ipynb); ``only`` filters by substring.

    Raises ValueError (naming the folder) when the folder is missing or holds no notebook, so
    that no command reports "0/0 notebooks ran" as a success."""
    notebook_dir = Path(notebook_dir)
    if not notebook_dir.is_dir():
        raise ValueError(f"notebook folder {notebook_dir} does not exist; pass the folder that "
                         "holds the NN_name.ipynb notebooks.")
    paths = sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ValueError(f"no NN_name.ipynb notebooks in {notebook_dir}; pass the folder that "
                         "holds them (`polycode-lite notebooks DIR` copies the course).")
    if only:
        paths = [p for p in paths if only in p.stem]
        if not paths:
            raise ValueError(f"no notebook in {notebook_dir} matches {only!r}.")
    return paths


def execute_notebook(
    path: Path,
    out_dir: Path | None = None,
    fast: bool = False,
    parameters: dict[str, Any] | None = None,
    timeout: int = 1800,
    html: bool = True,
) -> NotebookRun:
    """Execute one notebook with papermill (FAST injected), never raising on cell errors.

    Writes ``out_dir/<name>.ipynb`` (and ``.html`` when ``html``). The kernel's working folder is
    ``out_dir``, so nothing is written beside the source notebook (which may be the installed
    package).
    """
    import papermill as pm

    path = Path(path)
    out_dir = Path(out_dir) if out_dir is not None else default_output_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / path.name
    params = {"FAST": bool(fast), **(parameters or {})}
    start = time.perf_counter()
    error = None
    failing_cell = None
    # the kernel draws inline, as in JupyterLab: an inherited MPLBACKEND=Agg would leave
    # plt.show() in a widget's Output area empty (and the offline page's static view blank)
    kernel_env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    try:
        with mock.patch.dict(os.environ, kernel_env, clear=True):
            pm.execute_notebook(
                str(path), str(out_path), parameters=params, kernel_name="python3",
                progress_bar=False, cwd=str(out_dir), execution_timeout=timeout,
                log_output=False, kernel_manager_class=_ipc_kernel_manager(),
            )
    except pm.PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel death, timeout: report, keep going
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    extra: dict[str, Any] = {}
    if error is not None and out_path.exists():
        failing_cell, extra = _failing_cell(out_path)
    html_path = None
    if html and out_path.exists():
        try:
            html_path = _to_html(out_path)
        except Exception as exc:  # a broken export must not hide the run's result
            extra["html_error"] = f"{type(exc).__name__}: {exc}"
    return NotebookRun(path.stem, error is None, seconds, out_path, html_path, error,
                       failing_cell, extra)


_IPC_KM: Any = None


def _ipc_kernel_manager() -> Any:
    """A KernelManager talking to the kernel over local IPC sockets (no TCP ports, and no
    "running over TCP without encryption" warning from ipykernel 7)."""
    global _IPC_KM
    if _IPC_KM is None:
        from jupyter_client.manager import KernelManager

        class IPCKernelManager(KernelManager):
            def __init__(self, **kwargs: Any) -> None:
                import tempfile
                import uuid

                kwargs.setdefault("transport", "ipc")
                # IPC socket files live in the temp folder, never next to the notebooks
                kwargs.setdefault("ip", str(Path(tempfile.gettempdir())
                                            / f"polycode-kernel-{uuid.uuid4().hex[:12]}"))
                super().__init__(**kwargs)

        _IPC_KM = IPCKernelManager
    return _IPC_KM


def _failing_cell(executed: Path) -> tuple[int | None, dict[str, Any]]:
    """The failing cell of an executed notebook: its 1-based position in the *source* notebook
    (papermill's injected-parameters and error-marker cells not counted) and the start of its
    source."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    position = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            continue
        position += 1
        if cell.cell_type != "code":
            continue
        pm_meta = cell.metadata.get("papermill", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or pm_meta.get("exception") or pm_meta.get("status") == "failed":
            lines = cell.source.splitlines()
            snippet = "\n".join(lines[:8]) + ("\n..." if len(lines) > 8 else "")
            return position, {"failing_source": snippet,
                              "execution_count": cell.get("execution_count")}
    return None, {}


def _to_html(nb_path: Path) -> Path:
    """The executed notebook as an HTML page that works offline: local MathJax in
    ``_static/`` beside it and a static view of each widget (see
    :mod:`polycode_lite.course.offline_html`)."""
    from polycode_lite.course.offline_html import write_offline_html

    return write_offline_html(nb_path)


def reproduce(
    out_dir: Path | None = None,
    fast: bool = False,
    only: str | None = None,
    notebook_dir: Path = NOTEBOOK_DIR,
) -> list[NotebookRun]:
    """Execute every notebook in order, printing one progress line each and the total time.

    A failing notebook is reported (name, failing cell, error) and the rest still run. Writes
    the executed notebooks, their HTML, ``runs.json`` and ``report.html`` into ``out_dir``.
    """
    import os

    out_dir = Path(out_dir) if out_dir is not None else default_output_root()
    os.environ["POLYCODE_RESULTS_DIR"] = str((out_dir / "results").resolve())
    paths = notebook_paths(notebook_dir, only=only)
    runs = []
    t0 = time.perf_counter()
    for i, p in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {p.name} ...", flush=True)
        _clear_results(out_dir / "results", p.stem)
        run = execute_notebook(p, out_dir, fast=fast)
        status = "ok" if run.ok else f"FAILED in cell {run.failing_cell}: {run.error}"
        print(f"[{i}/{len(paths)}] {p.name}: {status} ({run.seconds:.0f} s)", flush=True)
        runs.append(run)
    total = time.perf_counter() - t0
    summary = [
        {"name": r.name, "ok": r.ok, "seconds": round(r.seconds, 1), "error": r.error,
         "failing_cell": r.failing_cell, **r.extra}
        for r in runs
    ]
    (out_dir / "runs.json").write_text(json.dumps({"fast": fast, "total_seconds": round(total, 1),
                                                    "notebooks": summary}, indent=2))
    from polycode_lite.course.report import write_report

    report = write_report(runs, out_dir, fast=fast, total_seconds=total)
    n_ok = sum(r.ok for r in runs)
    print(f"{n_ok}/{len(runs)} notebooks ran in {total:.0f} s; outputs in {out_dir}/; "
          f"report: {report}")
    for r in runs:
        if not r.ok:
            print(f"  FAILED {r.name}, cell {r.failing_cell}: {r.error}")
    return runs


def _clear_results(results: Path, stem: str) -> None:
    """Remove a notebook's claims and figures from an earlier run before it runs again, so the
    report never mixes old numbers with new ones."""
    if not results.exists():
        return
    for p in [results / f"claims__{stem}.json", *results.glob(f"{stem}__*")]:
        if p.is_file():
            p.unlink()


OUT_OPTION = {"default": "build",
              "help": "output folder (default ./build): report.html, executed notebooks, results"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite reproduce``."""
    parser.add_argument("--fast", action="store_true", help="run each notebook in its fast mode")
    parser.add_argument("--only", default=None, help="run only notebooks whose name contains this")
    parser.add_argument("--notebooks", default=str(NOTEBOOK_DIR),
                        help="folder of NN_*.ipynb notebooks to run (default: the course inside "
                             "the package; `polycode-lite grade` grades students' notebooks)")


def main(args: argparse.Namespace) -> int:
    """Run the notebook sequence headless; write the executed notebooks and report.html.

    Exit status 1 if any notebook failed (the report names the failing cell)."""
    refuse_output_inside(args.out, args.notebooks)
    notebook_paths(Path(args.notebooks), only=args.only)  # nothing matched: refused before any work
    runs = reproduce(Path(args.out), fast=args.fast, only=args.only,
                     notebook_dir=Path(args.notebooks))
    return 0 if all(r.ok for r in runs) else 1


def cli_main(argv: list[str] | None = None) -> int:
    """``polycode-lite reproduce ...`` from Python (argv without the command name)."""
    from polycode_lite.cli import run_command

    return run_command("reproduce", argv)


if __name__ == "__main__":
    sys.exit(cli_main())
