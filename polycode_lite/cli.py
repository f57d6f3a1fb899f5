"""``polycode-lite``: one command line, one argparse subcommand per long-running job.

Each command lives in the module that does the work, which exposes ``add_arguments(parser)``
and ``main(args) -> int``. This file builds the subparsers, gives them the shared options and
imports only the module of the command being run (so ``--help`` stays fast).

Shared options: every command takes ``--out``, ``--threads`` and ``--no-progress``; commands
that draw random numbers also take ``--seed``. A module may set ``OUT_OPTION`` (keyword
arguments for ``--out``: ``required``, ``default``, ``help``; and ``"kind": "file"`` when
``--out`` names a file to write rather than a folder).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]

#: command -> (module, one-line help, whether it takes --seed)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "reproduce": ("polycode_lite.course.reproduce",
                  "run the notebook sequence headless and write build/ with report.html", False),
    "student-notebooks": ("polycode_lite.course.student",
                          "write student (or instructor) versions of the notebooks", False),
    "notebooks": ("polycode_lite.course.handout",
                  "copy the course (notebooks + a short README) into a folder of your own", False),
    "grade": ("polycode_lite.course.grading",
              "grade a class: run every student's notebooks, write grades.csv and grades.html",
              False),
    "readme-tables": ("polycode_lite.course.readme_tables",
                      "regenerate the README's claims table and run times from a full run", False),
    "train-autoencoder": ("polycode_lite.experiments.train",
                          "train ResNet autoencoders across dropout rates (resumable)", True),
    "dropout-experiments": ("polycode_lite.experiments.alpha_vs_dropout",
                            "MI through a deep dropout net, and alpha against dropout "
                            "(seeds fixed by the preset)", False),
    "language-spectra": ("polycode_lite.experiments.language_depth",
                         "alpha across the depth of a language model (resumable)", True),
}


def _version() -> str:
    from polycode_lite import __version__

    return __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _shared_options(parser: argparse.ArgumentParser, module: Any, takes_seed: bool) -> None:
    out = {"default": None, "help": "output folder"}
    out.update({k: v for k, v in getattr(module, "OUT_OPTION", {}).items() if k != "kind"})
    group = parser.add_argument_group("shared options")
    group.add_argument("--out", **out)
    group.add_argument("--threads", type=_positive_int, default=None,
                       help="CPU threads for torch and BLAS (default: their own choice; 1 is "
                            "often fastest on a busy 2-core machine)")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")
    group.add_argument("--debug", action="store_true",
                       help="on an error, show the full traceback instead of the one-line message")
    if takes_seed:
        group.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``polycode-lite`` parser; the options of ``command`` (if given) are filled in."""
    parser = argparse.ArgumentParser(
        prog="polycode-lite",
        description="polycode_lite: work through Marshall & Kirchner (2024) hands-on. "
                    "Run 'polycode-lite COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"polycode-lite {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module_name, help_text, takes_seed) in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        doc = inspect.cleandoc(module.main.__doc__ or help_text)
        p = sub.add_parser(name, help=help_text, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        _shared_options(p, module, takes_seed)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``polycode-lite`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    args._argv = argv[argv.index(args.command) + 1:]
    if args.threads is not None:
        # notebooks run by `reproduce` start their own kernels: they read these
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    from polycode_lite._common import limit_threads

    try:
        if getattr(args, "out", None) is not None:
            if getattr(args._module, "OUT_OPTION", {}).get("kind") == "file":
                check_writable_file(Path(args.out), "--out")
            else:
                check_writable_folder(Path(args.out), "--out")
        with limit_threads(args.threads):
            return int(args._module.main(args) or 0)
    except (ValueError, TypeError, OSError, FloatingPointError) as exc:
        # a bad argument, a missing input, an unwritable folder or a diverged training loop
        # (NonFiniteLossError): the message names it and the fix
        if getattr(args, "debug", False):
            raise
        print(f"polycode-lite {args.command}: error: {exc} (--debug shows the traceback)", file=sys.stderr)
        return 2


def check_writable_folder(folder: Path, option: str) -> None:
    """Refuse, before any work, a folder that cannot be created or written (creates nothing)."""
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {folder} is a file, not a folder; pass a folder.")
    ancestor = folder
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{option} {folder} cannot be created: {ancestor} is a file, not a folder.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {folder} is not writable ({ancestor} does not allow writing); "
                         "pass a folder you can write to.")


def check_writable_file(path: Path, option: str) -> None:
    """Refuse, before any work, a file path that is a folder or whose folder cannot be written
    (an existing file is fine: it is replaced when the work is done)."""
    path = path.expanduser()
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; pass the path of a file to write.")
    check_writable_folder(path.parent if str(path.parent) else Path("."), f"the folder of {option}")


def run_command(command: str, argv: Sequence[str] | None = None) -> int:
    """Run one command as if typed: ``run_command("reproduce", ["--fast"])``."""
    return main([command, *(sys.argv[1:] if argv is None else list(argv))])


if __name__ == "__main__":
    raise SystemExit(main())
