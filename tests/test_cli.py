"""The ``polycode-lite`` command line: subcommands, shared options, --version, --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polycode_lite import __version__
from polycode_lite.cli import COMMANDS, build_parser, main


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"polycode-lite {__version__}"


def test_help_lists_every_command(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out, name


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_help_names_the_command_as_typed(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: polycode-lite {command} "), out[:200]
    assert "python -m" not in out
    for option in ("--out", "--threads", "--no-progress"):
        assert option in out, (command, option)
    assert ("--seed" in out) == COMMANDS[command][2]


def test_every_command_module_exposes_add_arguments_and_main() -> None:
    import importlib

    for name, (module_name, _, _) in COMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.main), name
        assert module.main.__doc__, f"{name}: main() needs a docstring (it is the --help text)"


def test_unknown_command_and_bad_threads_are_argparse_errors(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--threads", "0", "--only", "none"])
    assert exc.value.code == 2
    assert "--threads" in capsys.readouterr().err


def test_required_out_is_enforced(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train-autoencoder"])
    assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_parser_fills_only_the_chosen_command() -> None:
    args = build_parser("student-notebooks").parse_args(["student-notebooks", "--mode", "instructor"])
    assert args.mode == "instructor" and args.out is None and args.threads is None


def test_console_script_runs() -> None:
    exe = [sys.executable, "-m", "polycode_lite.cli", "--version"]
    out = subprocess.run(exe, capture_output=True, text=True, check=True).stdout
    assert __version__ in out


def test_an_unwritable_out_is_refused_before_any_work(tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code = main(["language-spectra", "--out", str(blocker / "run"), "--tokens", "64"])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "is a file, not a folder" in err and "--debug" in err
    assert not (blocker.parent / "run").exists()
    with pytest.raises(ValueError, match="is a file, not a folder"):
        main(["language-spectra", "--out", str(blocker), "--debug"])


def test_a_file_valued_out_may_exist_but_not_be_a_folder(tmp_path, capsys) -> None:
    """dropout-experiments writes --out as a JSON file: rerunning over the shipped file must pass
    the check (the null: a folder there is refused, and so is a file inside a file)."""
    from polycode_lite.cli import check_writable_file

    existing = tmp_path / "depth.json"
    existing.write_text("{}")
    check_writable_file(existing, "--out")
    check_writable_file(tmp_path / "new" / "depth.json", "--out")
    with pytest.raises(ValueError, match="is a folder"):
        check_writable_file(tmp_path, "--out")
    with pytest.raises(ValueError, match="the folder of --out"):
        check_writable_file(existing / "x.json", "--out")
    code = main(["dropout-experiments", "depth", "--preset", "fast", "--out", str(tmp_path)])
    assert code == 2 and "is a folder" in capsys.readouterr().err
