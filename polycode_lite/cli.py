"""``polycode-lite`` command line: one subcommand per long-running job.

Each subcommand lives in the module that does the work and exposes ``cli_main(argv)``;
this file only dispatches, so modules stay independent.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "reproduce": ("polycode_lite.course.reproduce", "run the notebook sequence headless and write build/"),
    "train-autoencoder": ("polycode_lite.experiments.train", "train ResNet autoencoders across dropout rates"),
    "language-spectra": ("polycode_lite.experiments.language_depth", "alpha across depth of a language model"),
    "dropout-experiments": ("polycode_lite.experiments.alpha_vs_dropout",
                            "MI through a deep dropout net, and alpha against dropout"),
    "student-notebooks": ("polycode_lite.course.student", "write student (or instructor) notebook versions"),
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``polycode-lite`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: polycode-lite COMMAND [options]\n\ncommands:")
        for name, (_, help_text) in COMMANDS.items():
            print(f"  {name:<20} {help_text}")
        print("\nRun 'polycode-lite COMMAND --help' for a command's options.")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"polycode-lite: unknown command {name!r}; choose from {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.cli_main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
