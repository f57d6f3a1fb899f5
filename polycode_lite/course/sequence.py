"""The notebook sequence in one place: what each notebook asks, what it builds on, and how long
it takes to study and to run.

Every time the project states comes from :data:`SEQUENCE`: notebook 00's map
(:func:`map_markdown`), the "Time" line at the top of each notebook (:func:`time_sentence`; a test
checks the notebooks carry it verbatim) and the README's notebook table (a test checks it). The run
times are measurements (:data:`MEASURED_ON` says where and when): fast mode from ``make test``'s
notebook tests (``build/notebook_times.json``) or ``polycode-lite reproduce --fast`` (``build/runs.json``), full mode from ``polycode-lite reproduce``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NotebookInfo", "SEQUENCE", "MEASURED_ON", "info", "time_sentence", "map_markdown",
           "format_seconds", "format_minutes"]

#: where and when the run times below were measured
MEASURED_ON = ("2026-12-01/02 on the project's shared 2-core CPU machine (no GPU), often while other jobs ran: "
               "a quiet laptop is faster")


@dataclass(frozen=True)
class NotebookInfo:
    """One notebook of the sequence. fast_seconds / full_minutes: measured run times."""

    stem: str
    title: str
    question: str
    builds_on: str
    study_minutes: int
    fast_seconds: float
    full_minutes: float
    note: str = ""


SEQUENCE: tuple[NotebookInfo, ...] = (
    NotebookInfo("00_orientation", "00 orientation",
                 "What is polysemanticity, and what does the paper argue?", "—", 20, 17, 0.6),
    NotebookInfo("01_toy_models_of_superposition", "01 toy models of superposition",
                 "When and how does a network store more features than it has neurons?", "00", 60, 33, 5.5),
    NotebookInfo("02_coding_theory_of_superposition", "02 coding theory of superposition",
                 "Can the entropy of sparse inputs predict the dimensions each feature gets? "
                 "What does dropout do to capacity?", "01", 45, 14, 5.2,
                 "full mode is quicker when notebook 01 has stored its dimensionality curve"),
    NotebookInfo("03_eigenspectra_and_alpha", "03 eigenspectra and α",
                 "How do we measure how spread-out or redundant a code is, and what biases the estimate?",
                 "00, PCA", 60, 16, 1.4),
    NotebookInfo("04_random_projections_and_smooth_codes", "04 random projections and smoothness",
                 "When is a code smooth enough to interpret, and what does α have to do with it?", "03", 60, 55, 3.1),
    NotebookInfo("05_dropout_capacity_and_error_correction", "05 dropout, MINE and error correction",
                 "Does dropout make networks learn redundant, error-correcting codes?", "02, 03", 60, 131, 7.7,
                 "full mode loads the shipped deep-network and α-control results; recomputing them "
                 "(`RECOMPUTE_FULL = True`) took about 26 and 17 minutes"),
    NotebookInfo("06_resnet_autoencoder_under_dropout", "06 ResNet autoencoder under dropout",
                 "Does α rise with dropout in a real vision model, and how does it change with depth?",
                 "03–05", 45, 139, 25, "it never trains: the five checkpoints ship with the package"),
    NotebookInfo("07_language_models_depth_and_pseudo_neurons", "07 language models",
                 "How does α change across the depth of a transformer, and are random directions as "
                 "explainable as neurons?", "03, 04", 60, 92, 10,
                 "GPT-2 XL runs through the command-line tool on a GPU"),
    NotebookInfo("08_sparse_dictionaries", "08 sparse dictionaries",
                 "Can a sparse autoencoder read a superposed code, does the entropy capacity predict when, and "
                 "are its latents more explainable than neurons?", "01, 02, 07", 60, 116, 13.7),
)


def info(stem: str) -> NotebookInfo:
    """The entry of notebook ``stem`` (e.g. "03_eigenspectra_and_alpha"); KeyError names the stems."""
    for entry in SEQUENCE:
        if entry.stem == stem:
            return entry
    raise KeyError(f"no notebook {stem!r} in the sequence; known: {[e.stem for e in SEQUENCE]}")


def format_seconds(seconds: float) -> str:
    """"40 s", "2.5 min": the unit a reader expects for a run of that length."""
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.1f} min".replace(".0 min", " min")


def format_minutes(minutes: float) -> str:
    """"3 min", "10.6 min"."""
    return f"{minutes:g} min"


def time_sentence(stem: str) -> str:
    """The "Time" line each notebook opens with, built from :data:`SEQUENCE`."""
    e = info(stem)
    s = (f"**Time:** about {e.study_minutes} minutes to read, play and do the exercises. Running it takes "
         f"about {format_seconds(e.fast_seconds)} in fast mode (`FAST = True`) and about "
         f"{format_minutes(e.full_minutes)} with the full settings, measured {MEASURED_ON}")
    return s + (f"; {e.note}." if e.note else ".")


def map_markdown() -> str:
    """Notebook 00's map of the sequence, as a Markdown table."""
    rows = ["| notebook | the question it answers | builds on | study time | run: fast / full |",
            "|---|---|---|---|---|"]
    for e in SEQUENCE:
        rows.append(f"| **{e.title}** | {e.question} | {e.builds_on} | {e.study_minutes} min | "
                    f"{format_seconds(e.fast_seconds)} / {format_minutes(e.full_minutes)} |")
    return "\n".join(rows) + f"\n\nRun times measured {MEASURED_ON}."
