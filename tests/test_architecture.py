"""The package layout: curated top-level API, old paths as aliases, one-way imports, module sizes."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import polycode_lite as pc

PKG = Path(pc.__file__).resolve().parent
WINGS = ("science", "data", "models", "experiments", "course", "plots")
#: wing -> the wings it may import (science <- models <- experiments <- course; data beside models)
ALLOWED = {
    "science": set(),
    "data": {"science"},
    "models": {"science", "data"},
    "plots": {"science"},
    "experiments": {"science", "data", "models", "plots"},
    "course": {"science", "data", "models", "experiments", "plots"},
}
REQUIRED_API = ("CovarianceAccumulator", "eigenspectrum", "cv_pca", "fit_power_law", "PowerLawFit",
                "layer_alphas", "ToyModel", "train_toy", "estimate_mutual_information",
                "ResNetAutoencoder", "shipped_models", "make_shapes", "load_language_model")


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_wings(path: Path) -> set[str]:
    """Wings named by every import in the file, lazy (inside functions) ones included."""
    rel = path.relative_to(PKG)
    here = ["polycode_lite", *rel.parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            names = [f"{names[0]}.{a.name}" for a in node.names] + names
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for n in names:
            parts = n.split(".")
            if parts[0] == "polycode_lite" and len(parts) > 1 and parts[1] in WINGS:
                found.add(parts[1])
    return found


def test_curated_api_is_complete_and_lazy() -> None:
    for name in REQUIRED_API:
        assert name in pc.__all__, name
        assert getattr(pc, name) is not None
    code = "import sys, polycode_lite; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "import polycode_lite must not import torch"
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        pc.not_a_name  # noqa: B018


@pytest.mark.parametrize("module", sorted(str(p.relative_to(PKG)) for p in _modules()))
def test_imports_run_one_way(module: str) -> None:
    path = PKG / module
    wing = path.relative_to(PKG).parts[0]
    if wing not in WINGS:
        return  # top-level glue (cli, _common, _legacy, __init__)
    bad = _imported_wings(path) - ALLOWED[wing] - {wing}
    assert not bad, f"{module} ({wing}) imports {sorted(bad)}; allowed: {sorted(ALLOWED[wing])}"


def test_no_module_over_450_lines() -> None:
    sizes = {str(p.relative_to(PKG)): len(p.read_text().splitlines()) for p in _modules()}
    big = {k: v for k, v in sizes.items() if v > 450}
    assert not big, f"modules over 450 lines: {big}"


def test_no_flat_modules_left() -> None:
    flat = sorted(p.name for p in PKG.glob("*.py"))
    assert flat == ["__init__.py", "_checks.py", "_common.py", "_legacy.py", "cli.py"], flat


def test_old_paths_alias_the_new_modules_with_a_warning() -> None:
    from polycode_lite._legacy import LEGACY_MODULES
    from polycode_lite.science.powerlaw import fit_power_law

    sys.modules.pop("polycode_lite.spectrum", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from polycode_lite import spectrum
    assert spectrum.fit_power_law is fit_power_law
    assert any("polycode_lite.science.powerlaw" in str(w.message) for w in caught)
    with pytest.raises(AttributeError, match="moved to"):
        spectrum.no_such_name  # noqa: B018
    for old, targets in LEGACY_MODULES.items():
        assert not (PKG / f"{old}.py").exists(), old
        for t in targets:
            assert (PKG / (t.replace(".", "/") + ".py")).exists() or (PKG / t.replace(".", "/")).is_dir(), t


def test_architecture_note_names_every_wing() -> None:
    note = (PKG.parent / "docs" / "architecture.md")
    if not note.exists():
        pytest.skip("not a source checkout")
    text = note.read_text()
    for wing in WINGS:
        assert f"`{wing}/`" in text, wing


def test_readme_names_every_old_module_path() -> None:
    from polycode_lite._legacy import LEGACY_MODULES

    readme = PKG.parent / "README.md"
    if not readme.exists():
        pytest.skip("not a source checkout")
    text = readme.read_text()
    for old in LEGACY_MODULES:
        assert f"`.{old}`" in text or f"`polycode_lite.{old}`" in text, old
