"""ResNet-18-encoder (variational) autoencoder with dropout after every ReLU (docs/paper_guide.md §3 E5).

The authors' model (Marshall & Kirchner 2024, supplementary code ``ResNetVAE``) is a VAE whose
encoder is torchvision's ``resnet18`` trained from scratch, with ``nn.Dropout(p)`` after every
ReLU. torchvision's ``BasicBlock`` calls its one ``self.relu`` module twice per block, so
replacing that module by ``Sequential(ReLU, Dropout(p))`` puts dropout after *both* uses
(:func:`insert_dropout_after_relu`). The encoder's 512-d output goes through
fc1 → BN → ReLU → fc2 → BN → ReLU → (μ, log σ²); the decoder is fc4 → BN → ReLU → fc5 → BN →
ReLU → reshape → three stride-2 transposed convolutions (BN + ReLU between them, BN on the
last) → bilinear resize to the input size → sigmoid (the authors resize after the sigmoid; both
orders give values in (0, 1)). Loss: BCE(sum) + KL (:func:`vae_loss`).

Two presets of one code path (:data:`CONFIGS`):

* ``paper``: 224×224 input, torchvision ``resnet18`` (ImageNet stem), FC 1024/1024, 256-d
  latent, decoder channels 64→32→8→3 (the authors' sizes).
* ``lite``: 32×32 input, a ResNet-18-shaped encoder built from torchvision's ``BasicBlock`` with
  a CIFAR-style 3×3 stem, no max-pool, stage widths 16/32/64/128; FC 256/256, 64-d latent,
  decoder channels 32→16→8→3, no BN before the output, and a learnable per-pixel output bias
  started at the mean training image (see :class:`AutoencoderConfig`). ~1 M parameters.

Analysis layers (:data:`ANALYSIS_LAYERS`, dotted names for :mod:`polycode_lite.models.hooks`):
``encoder.layer1..4`` (stage outputs, (B, C, H, W); after the stage's last ReLU+dropout),
``fc1``, ``fc2`` (post-ReLU), ``mu``, ``fc4``, ``fc5`` (decoder FCs, post-ReLU). Conv outputs are
analysed channel-wise with spatial positions averaged (global average pooling, (B, C)); see
:func:`layer_features` and docs/paper_guide.md pitfall 7.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from polycode_lite import _checks as ck

__all__ = [
    "ANALYSIS_LAYERS",
    "CONFIGS",
    "AutoencoderConfig",
    "ResNetAutoencoder",
    "build_autoencoder",
    "count_dropout_after_relu_uses",
    "get_config",
    "insert_dropout_after_relu",
    "layer_features",
    "vae_loss",
]

ANALYSIS_LAYERS = (
    "encoder.layer1", "encoder.layer2", "encoder.layer3", "encoder.layer4",
    "fc1", "fc2", "mu", "fc4", "fc5",
)


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture of a :class:`ResNetAutoencoder`.

    name: preset name. image_size: input/output side in pixels. encoder: "torchvision_resnet18"
    (the real ``torchvision.models.resnet18``, 64/128/256/512 channels, ImageNet stem) or
    "basicblock" (ResNet-18 layout from torchvision's ``BasicBlock`` at ``widths``).
    stem: "imagenet" (7×7 stride 2 + max-pool) or "cifar" (3×3 stride 1, no max-pool); only
    used by "basicblock". fc_hidden: width of fc1, fc2, fc4. latent_dim: size of μ and log σ².
    decoder_channels: channels of the reshaped fc5 output and after each transposed conv
    (4 entries; the last is 3 for RGB). decoder_start: spatial side of the reshaped fc5 output.
    bn_momentum: BatchNorm momentum of the FC head (0.01 in the authors' code).
    variational: VAE (True) or plain autoencoder (False: μ is the code, no KL).
    output_bn: BatchNorm before the final sigmoid, as the authors (paper preset). The lite
    preset drops it: with few CPU training steps it kept the output far from the data.
    mean_image_bias: add a learnable per-pixel bias before the sigmoid, initialised by the
    trainer to logit(mean training image) (:meth:`set_mean_image`), so training starts at
    the mean-image baseline and spends its few steps on image-specific structure (lite only).
    """

    name: str = "lite"
    image_size: int = 32
    encoder: str = "basicblock"
    stem: str = "cifar"
    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    fc_hidden: int = 256
    latent_dim: int = 64
    decoder_channels: tuple[int, int, int, int] = (32, 16, 8, 3)
    decoder_start: int = 4
    bn_momentum: float = 0.01
    variational: bool = True
    output_bn: bool = False
    mean_image_bias: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AutoencoderConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ValueError."""
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown AutoencoderConfig field(s) {sorted(extra)}; known: {sorted(known)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


CONFIGS: dict[str, AutoencoderConfig] = {
    "lite": AutoencoderConfig(),
    "paper": AutoencoderConfig(
        name="paper", image_size=224, encoder="torchvision_resnet18", stem="imagenet",
        widths=(64, 128, 256, 512), fc_hidden=1024, latent_dim=256,
        decoder_channels=(64, 32, 8, 3), decoder_start=4, output_bn=True, mean_image_bias=False,
    ),
}


def get_config(name: str, **overrides: Any) -> AutoencoderConfig:
    """Preset ``name`` ("lite" or "paper") with optional field overrides (e.g. variational=False)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown autoencoder config {name!r}; choose from {sorted(CONFIGS)}.")
    return replace(CONFIGS[name], **overrides) if overrides else CONFIGS[name]


def insert_dropout_after_relu(module: nn.Module, p: float) -> int:
    """Replace every ``nn.ReLU`` inside ``module`` by ``Sequential(ReLU, Dropout(p))``, in place.

    A ReLU module that is *called* several times (BasicBlock's ``self.relu`` runs after conv1
    and after the residual sum) is replaced once and therefore gets dropout after every use,
    as in the authors' recursive replacement. Returns the number of modules replaced.
    """
    from torch import nn

    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout rate p must be in [0, 1), got {p}.")
    n = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.ReLU):
            setattr(module, name, nn.Sequential(nn.ReLU(inplace=False), nn.Dropout(p)))
            n += 1
        else:
            n += insert_dropout_after_relu(child, p)
    return n


def count_dropout_after_relu_uses(module: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """Run ``x`` through ``module`` and count (ReLU calls, ReLU calls followed by a Dropout).

    Used by the tests to prove dropout follows *every* ReLU use, including the second use of
    BasicBlock's shared ReLU.
    """
    import torch
    from torch import nn

    calls = {"relu": 0, "relu_then_dropout": 0}
    handles = []
    for m in module.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(lambda *_: calls.__setitem__("relu", calls["relu"] + 1)))
        if isinstance(m, nn.Sequential) and len(m) == 2 and isinstance(m[0], nn.ReLU) \
                and isinstance(m[1], nn.Dropout):
            handles.append(m.register_forward_hook(
                lambda *_: calls.__setitem__("relu_then_dropout", calls["relu_then_dropout"] + 1)))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return calls["relu"], calls["relu_then_dropout"]


class _BasicBlockEncoder(nn.Module):
    """ResNet-18 layout ([2, 2, 2, 2] BasicBlocks) at ``cfg.widths``, output (B, widths[3])."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        from torchvision.models.resnet import BasicBlock

        super().__init__()
        w = cfg.widths
        if cfg.stem == "cifar":
            self.conv1 = nn.Conv2d(3, w[0], 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        elif cfg.stem == "imagenet":
            self.conv1 = nn.Conv2d(3, w[0], 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {cfg.stem!r}.")
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        in_ch = w[0]
        for i, (width, stride) in enumerate(zip(w, (1, 2, 2, 2)), start=1):
            blocks = []
            for b in range(2):
                s = stride if b == 0 else 1
                down = None
                if s != 1 or in_ch != width:
                    down = nn.Sequential(nn.Conv2d(in_ch, width, 1, stride=s, bias=False),
                                         nn.BatchNorm2d(width))
                blocks.append(BasicBlock(in_ch, width, stride=s, downsample=down))
                in_ch = width
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_features = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


def _build_encoder(cfg: AutoencoderConfig) -> tuple[nn.Module, int]:
    if cfg.encoder == "torchvision_resnet18":
        from torchvision.models import resnet18

        enc = resnet18(weights=None)  # from scratch, as the authors (pretrained=False)
        n_out = enc.fc.in_features
        enc.fc = nn.Identity()
        return enc, n_out
    if cfg.encoder == "basicblock":
        enc = _BasicBlockEncoder(cfg)
        return enc, enc.out_features
    raise ValueError(f"encoder must be 'torchvision_resnet18' or 'basicblock', got {cfg.encoder!r}.")


class ResNetAutoencoder(nn.Module):
    """The ResNet-encoder (V)AE.

    Args:
        config: preset name ("lite", "paper") or an :class:`AutoencoderConfig`.
        dropout: rate p of the ``nn.Dropout`` after every encoder ReLU use, 0 <= p < 1.
        variational: override ``config.variational`` (False gives a plain autoencoder).
        seed: seed of the weight initialisation (a forked RNG: global state is untouched);
            None uses the current global RNG.

    ``forward(x)`` maps (B, 3, S, S) in [0, 1] to (reconstruction (B, 3, S, S), μ (B, L),
    log σ² (B, L) or None, z (B, L)). An ordinary module-level class: ``isinstance`` works
    and whole models pickle (``torch.save(model)``); checkpoints store the ``state_dict``.
    """

    def __init__(self, config: str | AutoencoderConfig = "lite", dropout: float = 0.0,
                 variational: bool | None = None, seed: int | None = 0) -> None:
        cfg = get_config(config) if isinstance(config, str) else config
        if not isinstance(cfg, AutoencoderConfig):
            raise TypeError(f"config must be a preset name or AutoencoderConfig, got {type(config).__name__}.")
        dropout = ck.probability("dropout", dropout)
        if dropout >= 1.0:
            raise ValueError(f"dropout must be below 1 (a rate of 1 drops every unit), got {dropout}.")
        ck.optional(ck.seed, "seed", seed); ck.optional(ck.boolean, "variational", variational)
        if variational is not None:
            cfg = replace(cfg, variational=bool(variational))
        super().__init__()
        if seed is None:
            self._build(cfg, dropout)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self._build(cfg, dropout)

    def _build(self, cfg: AutoencoderConfig, dropout: float) -> None:
        if cfg.image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {cfg.image_size}.")
        self.config = cfg
        self.dropout = float(dropout)
        self.encoder, n_enc = _build_encoder(cfg)
        self.n_dropout_modules = insert_dropout_after_relu(self.encoder, self.dropout)
        h, mom = cfg.fc_hidden, cfg.bn_momentum

        def fc_block(n_in: int, n_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out, momentum=mom),
                                 nn.ReLU(inplace=True))

        self.fc1 = fc_block(n_enc, h)
        self.fc2 = fc_block(h, h)
        self.mu = nn.Linear(h, cfg.latent_dim)
        self.logvar = nn.Linear(h, cfg.latent_dim) if cfg.variational else None
        c0, c1, c2, c3 = cfg.decoder_channels
        self.fc4 = fc_block(cfg.latent_dim, h)
        self.fc5 = fc_block(h, c0 * cfg.decoder_start**2)

        def up(cin: int, cout: int, last: bool) -> nn.Sequential:
            norm = nn.BatchNorm2d(cout, momentum=mom) if (cfg.output_bn or not last) else nn.Identity()
            return nn.Sequential(
                nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2), norm,
                nn.Identity() if last else nn.ReLU(inplace=True),
            )

        self.deconv1 = up(c0, c1, False)
        self.deconv2 = up(c1, c2, False)
        self.deconv3 = up(c2, c3, True)
        s = cfg.image_size
        self.out_bias = nn.Parameter(torch.zeros(1, c3, s, s)) if cfg.mean_image_bias else None

    def set_mean_image(self, mean_image: torch.Tensor) -> None:
        """Initialise ``out_bias`` to logit(mean image), (3, S, S) in (0, 1)."""
        if self.out_bias is None:
            raise ValueError("this config has mean_image_bias=False; nothing to set.")
        m = mean_image.detach().to(self.out_bias).reshape(self.out_bias.shape).clamp(1e-3, 1 - 1e-3)
        with torch.no_grad():
            self.out_bias.copy_(torch.log(m / (1 - m)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 3, S, S) -> μ (B, latent), log σ² (B, latent) or None for a plain AE."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got shape {tuple(x.shape)}.")
        h = self.fc2(self.fc1(self.encoder(x)))
        return self.mu(h), (self.logvar(h) if self.logvar is not None else None)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) -> reconstruction (B, 3, S, S) in (0, 1)."""
        cfg = self.config
        h = self.fc5(self.fc4(z)).view(-1, cfg.decoder_channels[0], cfg.decoder_start,
                                       cfg.decoder_start)
        out = self.deconv3(self.deconv2(self.deconv1(h)))  # logits
        out = F.interpolate(out, size=(cfg.image_size, cfg.image_size), mode="bilinear",
                            align_corners=False)
        if self.out_bias is not None:
            out = out + self.out_bias
        return torch.sigmoid(out)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Returns (reconstruction, μ, log σ² or None, z). In train mode a VAE samples
        z = μ + σ·ε (ε from ``generator`` if given); in eval mode z = μ."""
        mu, logvar = self.encode(x)
        if self.training and logvar is not None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps
        else:
            z = mu
        return self.decode(z), mu, logvar, z


build_autoencoder = ResNetAutoencoder


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
             logvar: torch.Tensor | None, beta: float = 1.0) -> dict[str, torch.Tensor]:
    """BCE(sum) + β·KL, averaged over the batch (per-image values; the authors summed).

    BCE = -Σ_pixels [x log x̂ + (1-x) log(1-x̂)];  KL = -½ Σ (1 + log σ² - μ² - σ²).
    ``logvar=None`` (plain autoencoder) gives KL = 0. Returns {"loss", "bce", "kl"} scalars.
    """
    import torch
    import torch.nn.functional as F

    if recon.shape != x.shape:
        raise ValueError(f"reconstruction shape {tuple(recon.shape)} != input shape {tuple(x.shape)}.")
    b = x.shape[0]
    bce = F.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), x, reduction="sum") / b
    if logvar is None:
        kl = torch.zeros((), device=x.device, dtype=bce.dtype)
    else:
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
    return {"loss": bce + beta * kl, "bce": bce, "kl": kl}


def layer_features(t: torch.Tensor) -> torch.Tensor:
    """Activation -> (samples, features) for the analysis: conv outputs (B, C, H, W) are
    averaged over space to (B, C) (channels are the features; docs/paper_guide.md pitfall 7); (B, D) is
    returned unchanged."""
    from polycode_lite.models.hooks import pooled_features

    return pooled_features(t)
