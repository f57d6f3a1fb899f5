"""Packaging invariants: environment.yml agrees with pyproject.toml, the CLI dispatches."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_consistent_with_pyproject():
    env = (ROOT / "environment.yml").read_text()
    project = _pyproject()["project"]
    m = re.search(r"python\s*=\s*([0-9.]+)", env)
    assert m, "environment.yml must pin a python version"
    major_minor = tuple(int(p) for p in m.group(1).split(".")[:2])
    req = re.search(r">=\s*([0-9.]+)", project["requires-python"]).group(1)
    assert major_minor >= tuple(int(p) for p in req.split(".")[:2])
    # the pip section installs this package with its dev extra, so dependencies come from pyproject
    assert re.search(r"-\s*-e\s+\.\[dev\]", env), "environment.yml must pip-install '-e .[dev]'"
    assert "dev" in project["optional-dependencies"]
    # no conda package may duplicate (and so drift from) a pyproject dependency
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["dependencies"]}
    conda_pkgs = re.findall(r"^\s*-\s*([A-Za-z0-9_.-]+)\s*(?:[=<>].*)?$", env, flags=re.M)
    dupes = {p.lower() for p in conda_pkgs} & names
    assert not dupes, f"environment.yml lists {dupes} outside pip; keep them in pyproject.toml"


def test_torch_ranges_admit_local_wheels():
    deps = _pyproject()["project"]["dependencies"]
    torch_dep = next(d for d in deps if d.startswith("torch") and not d.startswith("torchvision"))
    tv_dep = next(d for d in deps if d.startswith("torchvision"))
    from packaging.specifiers import SpecifierSet

    assert "2.14.1" in SpecifierSet(torch_dep[len("torch"):])
    assert "0.29.1" in SpecifierSet(tv_dep[len("torchvision"):])


def test_cli_help_and_unknown_command(capsys):
    from polycode_lite.cli import main

    assert main(["--help"]) == 0
    assert "reproduce" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2


def test_ci_script_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    mk = (ROOT / "Makefile").read_text()
    for target in ("run:", "test:", "lab:"):
        assert target in mk
