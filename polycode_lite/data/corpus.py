"""Text offline: documents and fixed-length token windows (docs/paper_guide.md §3 E6, pitfall 8).

The default corpus is the Python documentation shipped with the standard library
(``pydoc_data.topics``, one document per topic), cut into 64-token windows as in OpenAI's
activation records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from polycode_lite import _checks as ck

if TYPE_CHECKING:  # pragma: no cover
    import torch


__all__ = [
    "Document", "TokenWindows", "load_documents", "make_windows", "pydoc_documents"
]


# --------------------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    """One document of a corpus: a name and its text."""

    name: str
    text: str


def pydoc_documents(min_chars: int = 200) -> list[Document]:
    """The Python documentation topics shipped in the standard library, one document per topic.

    ``pydoc_data.topics.topics`` holds 79 topics, about 465,000 characters of English.
    Topics shorter than ``min_chars`` are skipped.
    """
    from pydoc_data.topics import topics

    ck.integer("min_chars", min_chars, minimum=0)
    return [Document(k, v) for k, v in sorted(topics.items()) if len(v) >= min_chars]


def load_documents(source: str | Sequence[str | Path] = "pydoc", max_documents: int | None = None,
                   seed: int = 0) -> list[Document]:
    """Load a corpus as documents.

    Args:
        source: "pydoc" (default, offline everywhere); a text file, a folder (every ``*.txt``
            and ``*.md`` inside, one document per file) or a list of files; or
            ``"hf:<dataset>[:<config>][:<split>]"`` for a Hugging Face dataset with a ``text``
            column (needs the ``datasets`` package and internet).
        max_documents: keep at most this many documents (a seeded random subset).
        seed: seed of that subset.

    Raises:
        ValueError: unknown source, missing files, or no non-empty document.
    """
    ck.optional(ck.integer, "max_documents", max_documents, minimum=1); ck.seed("seed", seed)
    if not isinstance(source, (str, Path)) and (
            not isinstance(source, (list, tuple)) or not all(isinstance(p, (str, Path)) for p in source)):
        raise TypeError(f"source must be 'pydoc', 'hf:<dataset>', a path or a list of paths, got "
                        f"{type(source).__name__} {source!r}.")
    if isinstance(source, (str, Path)) and str(source) == "pydoc":
        docs = pydoc_documents()
    elif isinstance(source, str) and source.startswith("hf:"):
        docs = _hf_documents(source[3:])
    else:
        paths = [Path(source)] if isinstance(source, (str, Path)) else [Path(p) for p in source]
        files: list[Path] = []
        for p in paths:
            if p.is_dir():
                files.extend(sorted(q for q in p.rglob("*") if q.suffix in {".txt", ".md"}))
            elif p.is_file():
                files.append(p)
            else:
                raise ValueError(f"source {str(p)!r} is neither 'pydoc', 'hf:<name>', a file "
                                 "nor a folder of .txt/.md files.")
        docs = [Document(f.name, f.read_text(encoding="utf-8", errors="replace")) for f in files]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise ValueError(f"source {source!r} contains no non-empty document (an empty list, or empty files).")
    if max_documents is not None and len(docs) > max_documents:
        keep = np.sort(np.random.default_rng(seed).choice(len(docs), max_documents, replace=False))
        docs = [docs[i] for i in keep]
    return docs


def _hf_documents(spec: str) -> list[Document]:
    parts = spec.split(":")
    name = parts[0]
    config = parts[1] if len(parts) > 2 else None
    split = parts[-1] if len(parts) > 1 else "train"
    try:
        import datasets  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        raise ValueError("an 'hf:' corpus needs the `datasets` package (pip install datasets) and "
                         "internet access; offline, use 'pydoc' or your own text files.") from exc
    ds = datasets.load_dataset(name, config, split=split)
    if "text" not in ds.column_names:
        raise ValueError(f"dataset {name} has no 'text' column (columns: {ds.column_names}).")
    return [Document(f"{name}[{i}]", t) for i, t in enumerate(ds["text"]) if t and t.strip()]


@dataclass(frozen=True)
class TokenWindows:
    """Fixed-length token windows cut from documents.

    input_ids: (N, T) int64, each row [prefix] + content + [suffix] (BERT: [CLS] ... [SEP]).
    doc_ids: (N,) index of the document each window comes from. doc_names: names by index.
    n_prefix, n_suffix: special tokens at the start and end of every window.
    """

    input_ids: np.ndarray
    doc_ids: np.ndarray
    doc_names: tuple[str, ...]
    n_prefix: int = 0
    n_suffix: int = 0

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def length(self) -> int:
        """Window length T (positions per window, special tokens included)."""
        return int(self.input_ids.shape[1])

    @property
    def n_documents(self) -> int:
        return int(np.unique(self.doc_ids).size)

    def subset(self, index: Any) -> "TokenWindows":
        """Windows at ``index`` (indices or boolean mask), same documents table."""
        return TokenWindows(self.input_ids[index], self.doc_ids[index], self.doc_names,
                            self.n_prefix, self.n_suffix)

    def batches(self, batch_size: int, device: Any = "cpu") -> Iterator[dict[str, "torch.Tensor"]]:
        """Yield ``{"input_ids": (B, T) tensor}`` dicts for ``model(**batch)``."""
        import torch

        for start in range(0, len(self), batch_size):
            ids = torch.as_tensor(self.input_ids[start:start + batch_size], device=device)
            yield {"input_ids": ids}


def make_windows(
    lm: Any,
    documents: Sequence[Document],
    window: int = 64,
    max_windows: int | None = None,
    seed: int = 0,
) -> TokenWindows:
    """Tokenise documents into non-overlapping windows of ``window`` positions (OpenAI records: 64).

    ``lm`` is a :class:`~polycode_lite.models.language_models.LanguageModel`, or anything with
    ``tokenizer``, ``special_prefix`` and ``special_suffix`` (lists of token ids).

    For BERT the window is [CLS] + (window - 2) tokens + [SEP]. A document's last partial
    window is dropped. ``max_windows`` keeps a seeded random subset (in corpus order).

    Raises:
        ValueError: window too short, or no document long enough for one window.
    """
    prefix, suffix = lm.special_prefix, lm.special_suffix
    content = window - len(prefix) - len(suffix)
    if content < 2:
        raise ValueError(f"window={window} leaves {content} content tokens; use window >= 8.")
    rows: list[np.ndarray] = []
    owners: list[int] = []
    for d, doc in enumerate(documents):
        ids = np.asarray(_encode_quietly(lm.tokenizer, doc.text), dtype=np.int64)
        for start in range(0, ids.size - content + 1, content):
            rows.append(np.concatenate([prefix, ids[start:start + content], suffix]).astype(np.int64))
            owners.append(d)
    if not rows:
        raise ValueError(f"no document has {content} tokens: nothing to cut into {window}-token windows.")
    input_ids = np.stack(rows)
    doc_ids = np.asarray(owners, dtype=np.int64)
    if max_windows is not None and max_windows < len(rows):
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_windows, replace=False))
        input_ids, doc_ids = input_ids[keep], doc_ids[keep]
    return TokenWindows(input_ids, doc_ids, tuple(d.name for d in documents), len(prefix), len(suffix))


def _encode_quietly(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a whole document without the "longer than the maximum length" warning
    (windows are cut afterwards, so long documents are expected)."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        return tokenizer.encode(text, add_special_tokens=False)
    finally:
        hf_logging.set_verbosity(before)
