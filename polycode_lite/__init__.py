"""polycode_lite: a hands-on toolkit for Marshall & Kirchner (2024),
"Understanding polysemanticity in neural networks through coding theory".

``import polycode_lite as pc`` gives the curated API below; names are imported on first use
(PEP 562), so ``import polycode_lite`` stays fast and torch loads only when needed.

Wings (docs/architecture.md): ``science`` (pure math), ``data``, ``models``, ``experiments``
(Config → run → Result), ``course`` (exercises, student versions, reproduce, report) and
``plots``. The guide to the paper is docs/paper_guide.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_API: dict[str, str] = {
    # science: covariances, spectra, alpha, capacity, projections, MINE
    "CovarianceAccumulator": "science.covariance",
    "eigenspectrum": "science.eigen",
    "topk_eigenvalues": "science.eigen",
    "cv_pca": "science.eigen",
    "participation_ratio": "science.eigen",
    "fit_power_law": "science.powerlaw",
    "PowerLawFit": "science.powerlaw",
    "default_fit_window": "science.powerlaw",
    "powerlaw_gaussian": "science.powerlaw",
    "smoothness_threshold": "science.powerlaw",
    "estimate_mutual_information": "science.mine",
    "MINEConfig": "science.mine",
    "random_projection": "science.projections",
    "energy_scaling_slope": "science.projections",
    "dimensions_per_feature": "science.superposition",
    # data
    "make_shapes": "data.shapes",
    "moving_dot_images": "data.stimuli",
    "load_documents": "data.corpus",
    # models
    "ActivationRecorder": "models.hooks",
    "record_activations": "models.hooks",
    "ToyModel": "models.toy",
    "train_toy": "models.toy_training",
    "ResNetAutoencoder": "models.resnet_vae",
    "shipped_models": "models.checkpoints",
    "load_autoencoder": "models.checkpoints",
    "load_language_model": "models.language_models",
    # experiments
    "estimate_alpha": "experiments.alpha",
    "Spectrum": "science.spectrum",
    "repeats_spectrum": "science.repeats",
    "layer_alphas": "experiments.alpha",
    "AlphaTable": "experiments.alpha",
    "phase_diagram": "experiments.phase_diagram",
    "PhaseDiagramConfig": "experiments.phase_diagram",
    "PhaseDiagramResult": "experiments.phase_diagram",
    "CorrelationConfig": "experiments.feature_correlation",
    "CorrelationResult": "experiments.feature_correlation",
    "train_sae": "models.sae",
    "SAE": "models.sae",
    "load_sae": "models.sae",
    "feature_recovery": "models.sae",
    "feature_recovery_per_feature": "models.sae",
    "RecoveryConfig": "experiments.sae_recovery",
    "SAELanguageConfig": "experiments.sae_language",
    # the machine
    "set_threads": "_common",
    "limit_threads": "_common",
    # course
    "check": "course.exercises",
    "record_claim": "course.claims",
    "show_figure": "course.claims",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'polycode_lite' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"polycode_lite.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


from polycode_lite import _legacy  # noqa: E402  (old flat module paths keep importing)

_legacy.install()
