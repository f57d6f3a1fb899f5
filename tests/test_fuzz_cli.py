"""Every bad command line in tests/fuzz_cli.py exits 2 with one line naming the option, before
any work (issue 16); the classifier is checked on good and crashing command lines (the nulls)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_cli import ROWS, run_cli_fuzz, run_row  # noqa: E402


def test_every_bad_command_line_is_refused_clearly():
    outcomes = run_cli_fuzz()
    assert len(outcomes) == len(ROWS) >= 70
    bad = [f"{o.outcome}: polycode-lite {o.command} {o.argv} -> {o.message}" for o in outcomes
           if o.outcome != "clear"]
    assert not bad, "\n".join(bad)
    commands = {o.command for o in outcomes}
    from polycode_lite.cli import COMMANDS

    assert commands == set(COMMANDS), f"commands without a row: {set(COMMANDS) - commands}"


def test_the_classifier_calls_a_good_command_line_silent_and_a_crash_obscure(tmp_path, monkeypatch):
    from fuzz_cli import _prepare

    places = _prepare(tmp_path)
    good = run_row("student-notebooks", ["--only", "00_"], "--only", tmp_path, places)
    assert good.outcome == "silent", good
    from polycode_lite.course import student

    def crash(args):
        raise IndexError("list index out of range")

    monkeypatch.setattr(student, "main", crash)
    crashed = run_row("student-notebooks", ["--only", "00_"], "--only", tmp_path, places)
    assert crashed.outcome == "obscure", crashed


@pytest.mark.parametrize("extra", [[], ["--dropout", "0", "0.25"]])
def test_train_autoencoders_base_settings_pass_its_checks(extra, tmp_path):
    """The null of the train-autoencoder rows: their base command line is valid."""
    from fuzz_cli import BASE

    from polycode_lite.cli import build_parser
    from polycode_lite.experiments.train import configs_from_args

    argv = ["train-autoencoder", *BASE["train-autoencoder"], *extra, "--out", str(tmp_path)]
    assert configs_from_args(build_parser("train-autoencoder").parse_args(argv))
