"""How bad inputs fare: the fuzz tables of the public API and of every CLI command (issue 16).

Runs ``tests/fuzz_api.py`` (bad values for each argument of the public functions and classes)
and ``tests/fuzz_cli.py`` (bad command lines for every ``polycode-lite`` command) and counts
each outcome: *clear* (ValueError/TypeError, or exit 2 with one line, naming the argument, state
unchanged), *obscure* (any other failure, or a message that does not name the argument) and
*silent* (accepted). The target is 0 obscure and 0 silent; tests/test_fuzz_api.py and
tests/test_fuzz_cli.py assert it in CI.

    .venv/bin/python benchmarks/bench_fuzz.py

Writes benchmarks/results/fuzz.json and prints a markdown table (and every non-clear case).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
OUT = Path(__file__).resolve().parent / "results"

from fuzz_api import run_api_fuzz  # noqa: E402
from fuzz_cli import run_cli_fuzz  # noqa: E402

KINDS = ("clear", "obscure", "silent")


def main() -> int:
    rows = []
    failures = []
    t0 = time.perf_counter()
    api = [o for o in run_api_fuzz() if o.outcome in KINDS]
    api_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    cli = run_cli_fuzz()
    cli_seconds = time.perf_counter() - t0
    for suite, outcomes, targets, seconds in (
            ("public API", api, {o.callable for o in api}, api_seconds),
            ("CLI", cli, {o.command for o in cli}, cli_seconds)):
        counts = Counter(o.outcome for o in outcomes)
        rows.append({"suite": suite, "targets": len(targets), "tried": len(outcomes),
                     **{k: counts.get(k, 0) for k in KINDS}, "seconds": round(seconds, 1)})
        for o in outcomes:
            if o.outcome != "clear":
                where = f"{o.callable}({o.argument}={o.variant})" if suite == "public API" else \
                    f"polycode-lite {o.command} {o.argv}"
                failures.append({"suite": suite, "outcome": o.outcome, "where": where,
                                 "message": o.message})
    OUT.mkdir(exist_ok=True)
    (OUT / "fuzz.json").write_text(json.dumps({"rows": rows, "not_clear": failures}, indent=1) + "\n")
    print("| suite | functions / commands | bad inputs tried | rejected clearly | obscure | silent | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['suite']} | {r['targets']} | {r['tried']} | {r['clear']} | {r['obscure']} | "
              f"{r['silent']} | {r['seconds']} |")
    for f in failures:
        print(f"{f['outcome']}: {f['where']} -> {f['message'][:200]}")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
