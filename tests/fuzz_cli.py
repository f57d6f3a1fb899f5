"""Table-driven fuzz of every ``polycode-lite`` command: each row is a bad command line.

An outcome is "clear" when the command exits 2 with an error message (one line, or a line and a
how-to list; or argparse's usage error) that names the offending option and writes nothing into ``--out``; "obscure" when it
fails any other way (a traceback, another exit status, a message not naming the option, or
files written first); "silent" when it exits 0. ``run_cli_fuzz()`` runs the table in-process
(``polycode_lite.cli.main``); benchmarks/bench_fuzz.py prints the summary.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# command -> good arguments every row of that command starts from (each must run on its own)
BASE: dict[str, list[str]] = {
    "train-autoencoder": ["--widths", "4", "8", "8", "8", "--latent-dim", "4", "--n-train", "64",
                          "--n-test", "32", "--batch-size", "32", "--epochs", "1", "--dropout", "0"],
    "language-spectra": ["--model", "minilm", "--tokens", "2000", "--layers", "0,1"],
    "dropout-experiments": [],  # each row names the experiment (a positional argument)
    "reproduce": ["--fast", "--only", "00_"],
    "student-notebooks": [],
    "notebooks": [],
    "grade": [],
    "readme-tables": [],
}

# (command, extra arguments, the option the message must name); {tmp} is a scratch folder
ROWS: list[tuple[str, list[str], str]] = [
    # train-autoencoder (issue 16's list first)
    ("train-autoencoder", ["--n-train", "0"], "--n-train"),
    ("train-autoencoder", ["--n-train", "-1"], "--n-train"),
    ("train-autoencoder", ["--n-train", "x"], "--n-train"),
    ("train-autoencoder", ["--n-test", "0"], "--n-test"),
    ("train-autoencoder", ["--dropout", "0", "1.5"], "--dropout"),
    ("train-autoencoder", ["--dropout", "-0.1"], "--dropout"),
    ("train-autoencoder", ["--dropout", "nan"], "--dropout"),
    ("train-autoencoder", ["--dropout", "0.2", "0.2"], "--dropout"),
    ("train-autoencoder", ["--latent-dim", "0"], "--latent-dim"),
    ("train-autoencoder", ["--n-train", "32", "--batch-size", "64"], "--n-train"),
    ("train-autoencoder", ["--batch-size", "0"], "--batch-size"),
    ("train-autoencoder", ["--batch-size", "1"], "--batch-size"),
    ("train-autoencoder", ["--epochs", "0"], "--epochs"),
    ("train-autoencoder", ["--epochs", "2.5"], "--epochs"),
    ("train-autoencoder", ["--lr", "0"], "--lr"),
    ("train-autoencoder", ["--lr", "inf"], "--lr"),
    ("train-autoencoder", ["--lr=-0.001"], "--lr"),
    ("train-autoencoder", ["--widths", "4", "0", "8", "8"], "--widths"),
    ("train-autoencoder", ["--widths", "4", "8"], "--widths"),
    ("train-autoencoder", ["--num-workers", "-1"], "--num-workers"),
    ("train-autoencoder", ["--seed", "-1"], "--seed"),
    ("train-autoencoder", ["--seed", "1.5"], "--seed"),
    ("train-autoencoder", ["--config", "paper", "--widths", "4", "8", "8", "8"], "--widths"),
    ("train-autoencoder", ["--config", "huge"], "--config"),
    ("train-autoencoder", ["--dataset", "mnist"], "--dataset"),
    ("train-autoencoder", ["--dataset", "cifar10"], "--data-root"),
    ("train-autoencoder", ["--dataset", "cifar10", "--data-root", "{tmp}/missing"], "--data-root"),
    ("train-autoencoder", ["--device", "gpu"], "device"),
    ("train-autoencoder", ["--device", "cuda:7"], "device"),
    ("train-autoencoder", ["--save-dtype", "int8"], "--save-dtype"),
    ("train-autoencoder", ["--threads", "0"], "--threads"),
    # language-spectra
    ("language-spectra", ["--tokens", "-100"], "--tokens"),
    ("language-spectra", ["--tokens", "0"], "--tokens"),
    ("language-spectra", ["--tokens", "many"], "--tokens"),
    ("language-spectra", ["--layers", "5-2"], "--layers"),
    ("language-spectra", ["--layers", "0-5:0"], "--layers"),
    ("language-spectra", ["--layers", "a,b"], "--layers"),
    ("language-spectra", ["--layers", "0,99"], "--layers"),
    ("language-spectra", ["--layers=-99"], "--layers"),  # negative indices count from the end
    ("language-spectra", ["--batch-size", "0"], "--batch-size"),
    ("language-spectra", ["--window", "0"], "--window"),
    ("language-spectra", ["--window", "8", "--drop-first", "8"], "--drop-first"),
    ("language-spectra", ["--drop-first=-1"], "--drop-first"),
    ("language-spectra", ["--groups", "0"], "--groups"),
    ("language-spectra", ["--n-boot", "0"], "--n-boot"),
    ("language-spectra", ["--layers-per-pass=-1"], "--layers-per-pass"),
    ("language-spectra", ["--sites", "mlp.nope"], "--sites"),
    ("language-spectra", ["--sites", ""], "--sites"),
    ("language-spectra", ["--dtype", "float13"], "--dtype"),
    ("language-spectra", ["--acc-dtype", "int8"], "--acc-dtype"),
    ("language-spectra", ["--device", "gpu"], "device"),
    ("language-spectra", ["--corpus", "{tmp}/no_such_file.txt"], "--corpus"),
    ("language-spectra", ["--model", "{tmp}/no_such_model"], "model"),
    # dropout-experiments
    ("dropout-experiments", ["depth", "--preset", "huge"], "--preset"),
    ("dropout-experiments", ["alpha", "--preset", "cpu"], "--preset"),
    ("dropout-experiments", ["nothing"], "experiment"),
    ("dropout-experiments", ["depth", "--preset", "fast", "--out", "{tmp}"], "--out"),
    ("dropout-experiments", ["depth", "--preset", "fast", "--out", "{tmp}/a_file.json/y.json"], "--out"),
    # reproduce
    ("reproduce", ["--only", "no_such_notebook"], "no_such_notebook"),
    ("reproduce", ["--notebooks", "{tmp}/missing"], "missing"),
    ("reproduce", ["--notebooks", "{nbs}", "--out", "{nbs}"], "--out"),
    ("reproduce", ["--notebooks", "{nbs}", "--out", "{nbs}/build"], "--out"),
    # student-notebooks
    ("student-notebooks", ["--notebooks", "{nbs}", "--out", "{nbs}"], "--out"),
    ("student-notebooks", ["--notebooks", "{nbs}", "--out", "{nbs}/student"], "--out"),
    ("student-notebooks", ["--only", "no_such_notebook"], "no_such_notebook"),
    ("student-notebooks", ["--nbgrader", "--mode", "student"], "--nbgrader"),
    ("student-notebooks", ["--mode", "teacher"], "--mode"),
    # notebooks (the course hand-out)
    ("notebooks", ["{pkgnbs}"], "DIR"),
    ("notebooks", ["--mode", "teacher"], "--mode"),
    # grade
    ("grade", ["{tmp}/no_submissions"], "submissions"),
    ("grade", ["{tmp}/subs", "--timeout", "0"], "--timeout"),
    ("grade", ["{tmp}/subs", "--out", "{tmp}/subs/grades"], "--out"),
    ("grade", ["{tmp}/subs", "--only", "no_such_notebook"], "no_such_notebook"),
    # readme-tables
    ("readme-tables", ["--results", "{tmp}/missing"], "--results"),
    ("readme-tables", ["--results", "{tmp}/subs"], "--results"),
]


@dataclass(frozen=True)
class CliOutcome:
    command: str
    argv: str
    outcome: str  # "clear", "obscure" or "silent"
    message: str
    seconds: float


def _prepare(tmp: Path) -> dict[str, str]:
    """Scratch folders: a copy of two master notebooks, an empty class, a package notebooks path."""
    import shutil

    from polycode_lite._common import COURSE_NOTEBOOK_DIR

    nbs = tmp / "masters"
    nbs.mkdir()
    for p in sorted(COURSE_NOTEBOOK_DIR.glob("0[01]_*.ipynb")):
        shutil.copy(p, nbs / p.name)
    (tmp / "subs" / "alice").mkdir(parents=True)
    (tmp / "a_file.json").write_text("{}")
    return {"tmp": str(tmp), "nbs": str(nbs), "pkgnbs": str(COURSE_NOTEBOOK_DIR)}


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def run_row(command: str, extra: list[str], named: str, tmp: Path, places: dict[str, str]) -> CliOutcome:
    from polycode_lite.cli import main

    extra = [a.format(**places) for a in extra]
    out = tmp / f"out_{abs(hash((command, tuple(extra)))) % 10**8}"
    out_args = [] if "--out" in extra else ["--out", str(out)]
    argv = [command, *BASE[command], *extra, *out_args, "--threads", "1", "--no-progress"]
    if command == "notebooks":  # its folder is the positional DIR; --out is an alias
        argv = [command, *extra, *(["--out", str(out)] if not extra or extra[0].startswith("-") else [])]
    before = _tree(Path(places["nbs"])) | _tree(tmp / "subs")
    err, stdout = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdout):
            code = main(argv)
    except SystemExit as exc:  # argparse's usage errors exit 2 themselves
        code = exc.code if isinstance(exc.code, int) else 1
        if not isinstance(exc.code, int):
            err.write(str(exc.code))
    except Exception as exc:  # noqa: BLE001 - an escaped exception is an obscure outcome
        code, msg = None, f"{type(exc).__name__}: {exc}"
        return CliOutcome(command, " ".join(extra), "obscure", msg, time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    # the error: argparse's last line, or ours (its first line; a how-to list may follow)
    message = next((ln for ln in lines if ": error: " in ln), lines[-1] if lines else "")
    message = err.getvalue()[err.getvalue().index(message):] if message else ""
    wrote = (out.exists() and any(out.iterdir())) or \
        (_tree(Path(places["nbs"])) | _tree(tmp / "subs")) != before
    if code == 0:
        outcome = "silent"
    elif code == 2 and named in message and "Traceback" not in err.getvalue() and not wrote:
        outcome = "clear"
    else:
        outcome = "obscure"
        message = f"exit {code}{', wrote files' if wrote else ''}: {message}"
    return CliOutcome(command, " ".join(extra), outcome, message, seconds)


def run_cli_fuzz(rows: list[tuple[str, list[str], str]] | None = None) -> list[CliOutcome]:
    """Run every row of ``ROWS`` (or ``rows``) in a scratch folder; one outcome per row."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        places = _prepare(tmp)
        return [run_row(c, e, n, tmp, places) for c, e, n in (ROWS if rows is None else rows)]
