"""Shared test settings: headless plotting, offline Hugging Face, small thread count."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


import pytest  # noqa: E402


@pytest.fixture
def exercise_course(tmp_path):
    """A master folder holding notebook 03 cut down to its exercises (title, parameters, imports,
    and each exercise with the markdown before it): the real exercise cells, run in seconds."""
    import nbformat

    from polycode_lite.course.reproduce import NOTEBOOK_DIR

    path = NOTEBOOK_DIR / "03_eigenspectra_and_alpha.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    keep = {0}
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags or (cell.cell_type == "code" and i == 3):
            keep.add(i)
        if "### BEGIN SOLUTION" in cell.source:
            keep |= {i - 1, i}
    nb.cells = [c for i, c in enumerate(nb.cells) if i in keep]
    folder = tmp_path / "masters"
    folder.mkdir()
    nbformat.write(nb, str(folder / path.name))
    return folder
