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


def test_installed_dependencies_satisfy_pyproject():
    """Every pyproject dependency (dev extra included) that is installed here has a version its
    specifier admits; torch and torchvision, the local wheels, must be installed."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    project = _pyproject()["project"]
    reqs = [Requirement(d) for d in project["dependencies"] + project["optional-dependencies"]["dev"]]
    checked, wrong = set(), []
    for req in reqs:
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            continue
        checked.add(req.name)
        if not req.specifier.contains(installed, prereleases=True):
            wrong.append(f"{req.name} {installed} not in '{req.specifier}'")
    assert {"torch", "torchvision", "numpy"} <= checked
    assert not wrong, "installed versions outside pyproject's ranges: " + "; ".join(wrong)


def _make_rules(text):
    """{target: (prerequisites, recipe lines)} of a simple Makefile."""
    rules, current = {}, None
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            rules[current][1].append(line.strip())
            continue
        m = re.match(r"^([A-Za-z0-9_.$()-]+)\s*:(?!=)\s*(.*)$", line)
        current = None
        if m and m.group(1) != ".PHONY":
            current = m.group(1)
            rules[current] = (m.group(2).split(), [])
    return rules


def test_ci_runs_a_make_target_that_runs_pytest():
    commands = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    targets = [t for c in commands for t in re.findall(r"^make\s+([\w-]+)", c)]
    assert targets, ".ci/run must call a make target"
    makefile = (ROOT / "Makefile").read_text()
    rules = _make_rules(makefile)
    phony = re.search(r"^\.PHONY:(.*)$", makefile, flags=re.MULTILINE).group(1).split()
    for target in targets:
        assert target in rules, f".ci/run calls 'make {target}', which the Makefile does not define"
        assert target in phony, f"'{target}' must be .PHONY (a file of that name would skip it)"
        seen, todo, recipe = set(), [target], []
        while todo:
            t = todo.pop()
            if t in seen or t not in rules:
                continue
            seen.add(t)
            todo += rules[t][0]
            recipe += rules[t][1]
        assert any("-m pytest" in r for r in recipe), f"'make {target}' never runs pytest"


def test_console_script_resolves_and_version_matches():
    import importlib
    from importlib.metadata import PackageNotFoundError, distribution

    import polycode_lite

    project = _pyproject()["project"]
    assert polycode_lite.__version__ == project["version"]
    assert project["scripts"], "pyproject.toml declares no console script"
    for name, target in project["scripts"].items():
        module, _, attr = target.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        assert callable(obj), f"console script {name} -> {target} is not callable"
    try:
        dist = distribution(project["name"])
    except PackageNotFoundError:
        return  # not installed (e.g. run from a bare checkout): nothing more to compare
    assert dist.version == project["version"], "the installed metadata is stale: reinstall"
    eps = {e.name: e.value for e in dist.entry_points if e.group == "console_scripts"}
    assert eps == project["scripts"], "installed console scripts differ from pyproject.toml"
