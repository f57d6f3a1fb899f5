"""Exercises for notebook 06 (ResNet autoencoder under dropout)."""

from __future__ import annotations

from typing import Any

import numpy as np

from polycode_lite.course.exercises import Case, Exercise, register


def _lite_relu_calls() -> int:
    """Number of ReLU *calls* in one forward pass of the lite encoder (computed, not typed in)."""
    import torch

    from polycode_lite.models.resnet_vae import ResNetAutoencoder, count_dropout_after_relu_uses

    model = ResNetAutoencoder("lite", dropout=0.5)
    calls, _ = count_dropout_after_relu_uses(model.encoder, torch.rand(2, 3, 32, 32))
    return calls


def _diagnose_relu(got: Any, expected: Any, case: Any) -> str | None:
    if got == 9:
        return ("9 is the number of ReLU *modules*. torchvision's BasicBlock calls its single "
                "self.relu twice (after conv1 and after the residual sum), so count uses.")
    if got == 16:
        return "Close: did you forget the ReLU of the stem (conv1 → bn1 → relu)?"
    if got == 8:
        return ("8 is one per BasicBlock: each block calls ReLU twice (after conv1 and after the "
                "residual sum), and the stem adds one more.")
    return None


register(Exercise(
    id="autoencoder.relu_uses",
    title="How many times does dropout act in one pass of the encoder?",
    difficulty=1, importance=2, minutes=5, kind="value",
    reference=_lite_relu_calls,
    hint="Count the stem ReLU, then the ReLU uses inside each of the 8 BasicBlocks "
         "(read torchvision.models.resnet.BasicBlock.forward).",
    diagnose=_diagnose_relu,
    wrong_answer=9,
    mistakes=((9, "ReLU *modules*"), (16, "ReLU of the stem"), (8, "one per BasicBlock")),
    rtol=0, atol=0,
))


def _kl_reference(mu: np.ndarray, logvar: np.ndarray) -> float:
    """KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dimensions, averaged over the batch."""
    mu, logvar = np.asarray(mu, float), np.asarray(logvar, float)
    return float(-0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar)) / mu.shape[0])


def _diagnose_kl(got: Any, expected: Any, case: Any) -> str | None:
    try:
        g, e = float(got), float(expected)
    except (TypeError, ValueError):
        return None
    if e != 0 and np.isclose(g, 2 * e, rtol=1e-6):
        return "Your value is twice the reference: the KL has a factor ½."
    if e != 0 and np.isclose(g, -e, rtol=1e-6):
        return "Sign flipped: KL = −½ Σ (1 + log σ² − μ² − σ²) is non-negative."
    if case is not None and np.isclose(g, e * case.args[0].shape[0], rtol=1e-6):
        return "You summed over the batch; average over images (sum over latent dimensions only)."
    if case is not None and np.isclose(g, e / case.args[0].shape[1], rtol=1e-6):
        return ("You averaged over the latent dimensions too (a plain .mean()): sum over latent "
                "dimensions, average over the batch only.")
    return None


_rng = np.random.default_rng(6)
register(Exercise(
    id="autoencoder.kl_divergence",
    title="The VAE's KL term",
    difficulty=2, importance=2, minutes=10, kind="function",
    reference=_kl_reference,
    cases=(  # random first: on the prior itself every mistake also gives 0
        Case("random", (_rng.normal(size=(5, 8)), _rng.normal(scale=0.5, size=(5, 8)))),
        Case("prior itself", (np.zeros((2, 3)), np.zeros((2, 3)))),
        Case("shifted means", (np.ones((4, 2)), np.zeros((4, 2)))),
    ),
    hint="KL = −½ Σ_latent (1 + log σ² − μ² − σ²), then the mean over the batch. "
         "logvar is log σ², so σ² = exp(logvar).",
    diagnose=_diagnose_kl,
    wrong_answer=lambda mu, logvar: float(-np.sum(1 + logvar - mu**2 - np.exp(logvar)) / mu.shape[0]),
    mistakes=(
        (lambda mu, logvar: float(-np.sum(1 + logvar - mu**2 - np.exp(logvar)) / mu.shape[0]),
         "factor ½"),
        (lambda mu, logvar: float(-0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))),
         "summed over the batch"),
        (lambda mu, logvar: float(-0.5 * np.mean(1 + logvar - mu**2 - np.exp(logvar))),
         "averaged over the latent dimensions"),
    ),
    rtol=1e-6,
))


def _pooled_reference(acts: np.ndarray) -> np.ndarray:
    import torch

    from polycode_lite.models.resnet_vae import layer_features

    return layer_features(torch.from_numpy(np.asarray(acts, dtype=np.float64))).numpy()


def _diagnose_pooled(got: Any, expected: Any, case: Any) -> str | None:
    shape = np.shape(got)
    x = case.args[0] if case is not None else None
    if x is not None and shape == (x.shape[0], x.shape[1] * x.shape[2] * x.shape[3]):
        return ("You flattened C·H·W: every unit at every position became a feature. Here the "
                "channels are the features and space is averaged (docs/paper_guide.md pitfall 7).")
    if x is not None and shape == (x.shape[0] * x.shape[2] * x.shape[3], x.shape[1]):
        return ("You made every spatial position a sample (channel_features). This exercise "
                "averages over positions instead: one sample per image.")
    if x is not None and shape == np.shape(expected) and np.allclose(
            got, np.asarray(expected) * x.shape[2] * x.shape[3]):
        return "You summed over the positions; average them (divide by H·W), e.g. acts.mean(axis=(2, 3))."
    return None


register(Exercise(
    id="autoencoder.pooled_features",
    title="Conv activations → a (samples, features) matrix",
    difficulty=1, importance=3, minutes=5, kind="function",
    reference=_pooled_reference,
    cases=(
        Case("2 images, 3 channels", (_rng.normal(size=(2, 3, 4, 4)),)),
        Case("5 images, 8 channels", (_rng.normal(size=(5, 8, 2, 3)),)),
    ),
    hint="Average over the two spatial axes: acts.mean(axis=(2, 3)) gives (B, C).",
    diagnose=_diagnose_pooled,
    wrong_answer=lambda a: np.asarray(a).reshape(np.shape(a)[0], -1),
    mistakes=(
        (lambda a: np.asarray(a).reshape(np.shape(a)[0], -1), "flattened C·H·W"),
        (lambda a: np.asarray(a).transpose(0, 2, 3, 1).reshape(-1, np.shape(a)[1]),
         "every spatial position a sample"),
        (lambda a: np.asarray(a).sum(axis=(2, 3)), "summed over the positions"),
    ),
))
