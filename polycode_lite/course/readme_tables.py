"""The README's generated parts: the claims table (from the claims a full run recorded, the same
ones the reproduction report shows) and the run-time column of the notebook table (from
:mod:`polycode_lite.course.sequence`).

``polycode-lite readme-tables --results build/results`` copies the run's claims to
``docs/claims_full.json`` (the snapshot the README is built from) and rewrites the README between
``<!-- claims:begin -->`` and ``<!-- claims:end -->``; without ``--results`` it rebuilds the README
from the snapshot. A test checks the README agrees with the snapshot and the sequence, so the
front door cannot drift from what was measured.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, Sequence

from polycode_lite._common import REPO_ROOT

__all__ = ["SNAPSHOT", "README", "claims_markdown", "render_readme", "load_snapshot", "main", "add_arguments"]

SNAPSHOT = REPO_ROOT / "docs" / "claims_full.json"
README = REPO_ROOT / "README.md"
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
OUT_OPTION = {"help": "unused (the README and docs/claims_full.json are rewritten in place)"}


def _cell(text: Any) -> str:
    return str(text or "—").replace("|", "\\|").replace("\n", " ").strip()


def claims_markdown(claims: Sequence[dict[str, Any]]) -> str:
    """The README claims table: paper claim, notebook, measured, control, verdict, one row per
    claim in notebook order; claims from a fast run are marked."""
    rows = ["| paper claim | notebook | our measured result | control | holds? |", "|---|---|---|---|---|"]
    for c in claims:
        nb = str(c.get("notebook", ""))[:2]
        fast = " (fast mode)" if c.get("fast") else ""
        rows.append(f"| {_cell(c.get('claim'))} | {nb} | {_cell(c.get('measured'))}{fast} | "
                    f"{_cell(c.get('control'))} | {_cell(c.get('verdict'))} |")
    return "\n".join(rows)


def load_snapshot(path: Path | None = None) -> list[dict[str, Any]]:
    """The claims of the last full run that was copied into the repository."""
    path = SNAPSHOT if path is None else path
    if not Path(path).exists():
        raise FileNotFoundError(f"no claims snapshot at {path}: run `polycode-lite reproduce` and then "
                                "`polycode-lite readme-tables --results build/results`.")
    return json.loads(Path(path).read_text())


def _time_column(text: str) -> str:
    from polycode_lite.course.sequence import SEQUENCE, format_minutes, format_seconds

    for e in SEQUENCE:
        pattern = re.compile(rf"^(\| {e.stem[:2]} \| `{re.escape(e.stem)}` \|.*\| )([^|]*)( \|)$", re.M)
        times = f"{format_seconds(e.fast_seconds)} / {format_minutes(e.full_minutes)}"
        text, n = pattern.subn(lambda m: m.group(1) + times + m.group(3), text)
        if n != 1:
            raise ValueError(f"the README's notebook table has no single row for {e.stem}.")
    return text


def render_readme(text: str, claims: Sequence[dict[str, Any]]) -> str:
    """``text`` (the README) with the claims table and the notebook run times regenerated."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"the README needs exactly one {BEGIN} ... {END} block for the claims table.")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return _time_column(head + BEGIN + "\n" + claims_markdown(claims) + "\n" + END + tail)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``polycode-lite readme-tables``."""
    parser.add_argument("--results", nargs="+", default=None, metavar="DIR",
                        help="results folders of full runs (build/results); their notebooks' claims "
                             "replace those notebooks' claims in the snapshot")


def main(args: argparse.Namespace) -> int:
    """Regenerate the README's claims table (and notebook run times) from a full run's claims.

    With ``--results DIR ...`` the claims in each DIR (``claims__*.json``) replace the claims of
    the same notebooks in the snapshot ``docs/claims_full.json`` (other notebooks keep theirs);
    claims from a fast run are refused."""
    from polycode_lite.course.claims import load_claims

    if args.results is not None:
        fresh: list[dict[str, Any]] = []
        for d in map(Path, args.results):
            claims = load_claims(d) if d.is_dir() else []
            if not claims:
                raise ValueError(f"--results {d} holds no claims__*.json; pass the results folder of a run.")
            fresh.extend(claims)
        fast = sorted({c["notebook"] for c in fresh if c.get("fast")})
        if fast:
            raise ValueError(f"--results: the claims of {fast} come from a fast run; the README "
                             "reports full runs (run `polycode-lite reproduce` without --fast).")
        new_nbs = {c["notebook"] for c in fresh}
        old = [c for c in (load_snapshot() if SNAPSHOT.exists() else []) if c["notebook"] not in new_nbs]
        merged = sorted(old + fresh, key=lambda c: c["notebook"])  # stable: keeps each notebook's order
        SNAPSHOT.write_text(json.dumps(merged, indent=1, ensure_ascii=False, default=float) + "\n")
    README.write_text(render_readme(README.read_text(), load_snapshot()))
    print(f"README claims table and run times rewritten from {SNAPSHOT}")
    return 0
