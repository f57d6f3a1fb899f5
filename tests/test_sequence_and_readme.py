"""One source of truth for times and claims: the notebooks, 00's map and the README agree with
polycode_lite.course.sequence and with the claims snapshot of the last full run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nbformat
import pytest

from polycode_lite.course import readme_tables as RT
from polycode_lite.course.reproduce import NOTEBOOK_DIR, notebook_paths
from polycode_lite.course.sequence import SEQUENCE, info, map_markdown, time_sentence


def test_sequence_lists_every_notebook():
    assert [e.stem for e in SEQUENCE] == [p.stem for p in notebook_paths(NOTEBOOK_DIR)]
    with pytest.raises(KeyError, match="known"):
        info("99_nothing")


@pytest.mark.parametrize("stem", [e.stem for e in SEQUENCE])
def test_each_notebook_states_the_sequence_times(stem):
    nb = nbformat.read(str(NOTEBOOK_DIR / f"{stem}.ipynb"), as_version=4)
    assert time_sentence(stem) in nb.cells[0].source, (
        f"{stem}: the first cell must carry polycode_lite.course.sequence.time_sentence({stem!r}) verbatim")
    assert "minute" not in nb.cells[0].source.replace(time_sentence(stem), ""), (
        f"{stem}: a second time statement in the first cell; keep times in course/sequence.py only")


def test_map_has_every_notebook():
    text = map_markdown()
    assert all(e.title in text for e in SEQUENCE)


def test_readme_matches_the_claims_snapshot_and_the_sequence():
    text = RT.README.read_text()
    assert RT.render_readme(text, RT.load_snapshot()) == text, (
        "README is out of date: run `polycode-lite readme-tables` (after a full run: "
        "`polycode-lite readme-tables --results build/results`)")


def test_every_claim_in_the_snapshot_has_a_control_and_a_verdict():
    from polycode_lite.course.claims import VERDICTS

    claims = RT.load_snapshot()
    assert claims, "the snapshot is empty"
    missing = [c["claim"] for c in claims if not str(c.get("control", "")).strip()]
    assert not missing, f"claims without a control: {missing}"
    assert all(c["verdict"] in VERDICTS for c in claims)
    assert not any(c.get("fast") for c in claims), "the README reports full runs only"


def test_readme_tables_merges_and_refuses_fast_runs(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(RT.README.read_text())
    snap = tmp_path / "claims.json"
    snap.write_text(json.dumps([{"notebook": "01_x", "claim": "old", "control": "c", "verdict": "holds"},
                                {"notebook": "02_y", "claim": "keep", "control": "c", "verdict": "partly"}]))
    monkeypatch.setattr(RT, "README", readme)
    monkeypatch.setattr(RT, "SNAPSHOT", snap)
    res = tmp_path / "results"
    res.mkdir()
    (res / "claims__01_x.json").write_text(json.dumps(
        [{"notebook": "01_x", "claim": "new", "measured": "1 | 2", "control": "ctl", "verdict": "holds", "fast": False}]))
    assert RT.main(argparse.Namespace(results=[str(res)])) == 0
    merged = json.loads(snap.read_text())
    assert [c["claim"] for c in merged] == ["new", "keep"]
    assert "| new | 01 | 1 \\| 2 | ctl | holds |" in readme.read_text()
    (res / "claims__01_x.json").write_text(json.dumps(
        [{"notebook": "01_x", "claim": "new", "control": "ctl", "verdict": "holds", "fast": True}]))
    with pytest.raises(ValueError, match="fast run"):
        RT.main(argparse.Namespace(results=[str(res)]))
    with pytest.raises(ValueError, match="no claims"):
        RT.main(argparse.Namespace(results=[str(tmp_path / "missing")]))
