"""Rows of the API fuzz for data, models, experiments and course (the science rows are in
tests/fuzz_api_table.py, which joins both into CASES)."""

from __future__ import annotations

import numpy as np
from fuzz_api import (
                               NAN,
                               Case,
                               array,
                               choice,
                               count,
                               positive,
                               probability,
                               real,
                               seed,
                               values,
                               window,
)
from fuzz_api_fixtures import (
                               TRAJ,
                               X,
                               _inputs,
                               _model_state,
                               _record,
                               _recorder,
                               _shipped_path,
                               _threads,
                               _tiny_net,
                               _toy,
                               _train_toy,
)

def _probe():
    from polycode_lite.models.probe_cnn import make_probe_cnn

    return make_probe_cnn(width=2)


MORE: list[Case] = [
    # ---------------- data ----------------
    Case("moving_dot_images", "data.stimuli:moving_dot_images", {"n_frames": 4, "size": 16},
         {"n_frames": count(2, huge=True), "size": count(2, huge=True), "radius": positive(optional=True, allow_zero=True),  # 0: a still dot
          "sigma": positive(), "channels": count(huge=True), "phase": real(), "background": probability(),
          "color": [("two values for 3 channels", (1.0, 0.5)), ("nan inside", (1.0, NAN, 0.0)), ("'red'", "red")]}),
    Case("circle_angles", "data.stimuli:circle_angles", {"n_points": 8},
         {"n_points": count(huge=True), "phase": real()}),
    Case("dot_centres", "data.stimuli:dot_centres", {"n_frames": 4},
         {"n_frames": count(2, huge=True), "size": count(2), "radius": positive(optional=True, allow_zero=True),
          "phase": real()}),
    Case("power_law_circle_code", "data.stimuli:power_law_circle_code", {"alpha": 2.0, "n_points": 16, "n_dims": 6},
         {"alpha": positive(), "n_points": count(2, huge=True), "n_dims": count(2, huge=True), "seed": seed()}),
    Case("power_law_torus_code", "data.stimuli:power_law_torus_code",
         {"alpha": 2.0, "angles": np.linspace(0, 6, 16).reshape(8, 2), "n_dims": 8},
         {"alpha": positive(), "angles": array(np.linspace(0, 6, 16).reshape(8, 2), ndim=2),
          "n_dims": count(2, huge=True), "seed": seed()}),
    Case("torus_frequencies", "data.stimuli:torus_frequencies", {"n_pairs": 4, "d": 2},
         {"n_pairs": count(huge=True), "d": count()}),
    Case("torus_loop_angles", "data.stimuli:torus_loop_angles", {"n_points": 8},
         {"n_points": count(huge=True), "winding": [("()", ()), ("(1.5, 1)", (1.5, 1)), ("'11'", "11"), ("None", None)]}),
    Case("make_shapes", "data.shapes:make_shapes", {"n": 3},
         {"n": count(huge=True), "seed": seed(), "chunk": count(), "cfg": [("a dict", {"size": 8}), ("None", None)]}),
    Case("ShapesConfig", "data.shapes:ShapesConfig", {},
         {"size": count(4, huge=True), "scale": [("(9, 4) reversed", (9.0, 4.0)), ("(0, 4)", (0.0, 4.0)), ("nan", (NAN, 4.0)), ("'4'", "4")],
          "margin": positive(allow_zero=True), "bg_contrast": [("(0.5, 0.1)", (0.5, 0.1)), ("(-1, 0.3)", (-1.0, 0.3))],
          "grating_freq": [("(4, 1)", (4.0, 1.0)), ("(nan, 1)", (NAN, 1.0))], "fg_value": probability(),
          "bg_value": probability(), "aa_width": positive()}),
    Case("ShapesDataset", "data.shapes:ShapesDataset", {"n": 3},
         {"n": count(huge=True), "seed": seed()}),
    Case("pydoc_documents", "data.corpus:pydoc_documents", {"min_chars": 200}, {"min_chars": count(0)}),
    Case("load_documents", "data.corpus:load_documents", {"source": "pydoc", "max_documents": 2},
         {"source": [("3 (int)", 3), ("None", None), ("'bogus-source'", "bogus-source"), ("[]", [])],
          "max_documents": count(optional=True), "seed": seed()}),
    # ---------------- models ----------------
    Case("ToyModel", "models.toy:ToyModel", {"n_features": 5, "n_hidden": 2},
         {"n_features": count(huge=True), "n_hidden": count(huge=True), "n_instances": count(huge=True),
          "feature_probability": values(1.0, 0.0, 1.0), "importance": values(1.0, 0.0), "variant": choice(),
          "n_correlated_pairs": count(0), "n_anticorrelated_pairs": count(0), "seed": seed()},
         extra=[("n_correlated_pairs", "pairs exceed features", {"n_correlated_pairs": 3}),
                ("feature_probability", "0 (no features ever)", {"feature_probability": 0.0})]),
    Case("ToyModel.generate_batch", lambda: ((m := _toy()).generate_batch, m), {"batch_size": 4, "seed": 1},
         {"batch_size": count(huge=True), "seed": seed(optional=True)}, state=_model_state),
    # NaN in x gives NaN out (it propagates, nothing is hidden): not checked on this per-step path
    Case("ToyModel.forward", lambda: ((m := _toy()).forward, m), lambda: {"x": __import__("torch").ones(2, 3, 5)},
         {"x": [("numpy array", np.ones((2, 3, 5))), ("None", None), ("wrong shape", np.ones((3, 5))),
                ("complex", np.ones((2, 3, 5)) * 1j)]}, state=_model_state),
    Case("ActionMoments.update", lambda: ((a := __import__("polycode_lite.science.action", fromlist=["x"])
                                           .ActionMoments(3)).update, a), {"x": TRAJ[None]},
         {"x": array(TRAJ[None], ndim=3)}, extra=[("x", "wrong width", {"x": TRAJ[None, :, :2]})],
         state=lambda a: (a.n, a.n_diff, a._s1.copy(), a._s2.copy(), a._d2.copy())),
    Case("train_toy", _train_toy, {"steps": 2, "batch_size": 8},
         {"steps": count(huge=False), "batch_size": count(), "lr": positive(), "seed": seed(), "optimizer": choice(),
          "weight_decay": positive(allow_zero=True), "lr_schedule": choice(), "log_every": count(),
          "method": choice(), "chunk": count(optional=True), "num_threads": count(optional=True)},
         state=_model_state),
    Case("evaluate_loss", lambda: (lambda **kw: __import__("polycode_lite.models.toy_training", fromlist=["x"])
                                   .evaluate_loss(_toy(), **kw), None), {"batch_size": 16},
         {"batch_size": count(huge=True), "seed": seed()}),
    Case("importance_decay", "models.toy:importance_decay", {"n_features": 5, "rate": 0.9},
         {"n_features": count(huge=True), "rate": positive()}),
    Case("sparsity_sweep", "models.toy:sparsity_sweep", {"n_instances": 4},
         {"n_instances": count(huge=True), "max_inverse_density": [("0.5 (< 1)", 0.5)] + positive()}),
    Case("ActivationRecorder", _recorder, {"layers": ["1"]},
         {"layers": [("[]", []), ("['nope']", ["nope"]), ("3 (int)", 3), ("None", None)],
          "on_output": [("3 (not callable)", 3)], "features": [("3 (not callable)", 3)]}),
    Case("record_activations", _record, _inputs,
         {"layers": [("[]", []), ("['nope']", ["nope"]), ("None", None)], "batch_size": count(optional=True),
          "inputs": [("None", None), ("'x'", "x")]}),
    Case("get_module", lambda: ((lambda **kw: __import__("polycode_lite.models.hooks", fromlist=["x"])
                                 .get_module(_tiny_net(), **kw)), None), {"name": "1"},
         {"name": [("'nope'", "nope"), ("3 (int)", 3), ("None", None), ("''", "")]}),
    Case("token_features", "models.hooks:token_features", {"drop_first": 1}, {"drop_first": count(0)}),
    Case("make_probe_cnn", "models.probe_cnn:make_probe_cnn", {"width": 2},
         {"width": count(maximum=4096), "n_classes": count(huge=True), "seed": seed()}),
    Case("train_probe_cnn", lambda: ((lambda **kw: __import__("polycode_lite.models.probe_cnn", fromlist=["x"])
                                      .train_probe_cnn(_probe(), progress=False, **kw)), None),
         {"n_train": 16, "n_test": 8, "steps": 1, "batch_size": 8},
         {"n_train": count(huge=True), "n_test": count(), "steps": count(), "batch_size": count(), "lr": positive(),
          "seed": seed(), "threads": count(optional=True)}),
    Case("ResNetAutoencoder", "models.resnet_vae:ResNetAutoencoder", {"config": "lite", "dropout": 0.1},
         {"config": [("'bogus'", "bogus"), ("3 (int)", 3), ("None", None)], "dropout": probability(open_high=True),
          "seed": seed(optional=True)}),
    # ---------------- experiments ----------------
    # estimate_alpha and layer_alphas document capping a window's hi at what the data supports, and
    # n_boot = 0 (no CI) is valid with ci="none"; neither is a bad input
    Case("estimate_alpha", "experiments.alpha:estimate_alpha", {"data": X, "ci": "none", "correct_bias": False},
         {"data": array(X, ndim=(2), min_len=3), "window": window(), "ci": choice(), "n_boot": count(0),
          "seed": seed(), "repeats_method": choice(), "min_r2": probability()},
         extra=[("groups", "wrong length", {"groups": np.arange(7), "ci": "bootstrap", "n_boot": 10})]),
    Case("layer_alphas", "experiments.alpha:layer_alphas", {"data": {"a": X}, "n_boot": 10, "window_grid": False},
         {"data": [("{}", {}), ("a list", [X]), ("NaN inside", {"a": np.full((60, 12), NAN)}), ("None", None)],
          "estimator": choice(), "window": window(), "n_boot": count(0), "seed": seed(),
          "ci_method": choice(), "min_r2": probability(), "full_spectrum_max": count()}),
    Case("BiasConfig", "experiments.alpha_estimation:BiasConfig", {},
         {"m": count(huge=True), "true_alpha": positive(), "n_seeds": count(), "n_boot": count(),
          "seed_offset": seed(), "ratios": [("()", ()), ("(0,)", (0.0,)), ("(nan,)", (NAN,)), ("'1'", "1")]}),
    Case("NoiseConfig", "experiments.alpha_estimation:NoiseConfig", {},
         {"m": count(huge=True), "true_alpha": positive(), "n_over_m": count(), "n_shuffles": count(),
          "seed": seed(), "window": window(166), "noise_vars": [("()", ()), ("(-1,)", (-1.0,)), ("(nan,)", (NAN,))]}),
    Case("MaskNoiseConfig", "experiments.mask_noise:MaskNoiseConfig", {},
         {"n_eval": count(huge=True), "seed": seed(), "data_seed": seed(), "window": window(256),
          "widths": [("()", ()), ("(0,)", (0,)), ("(2.5,)", (2.5,))],
          "dropouts": [("()", ()), ("(1.5,)", (1.5,)), ("(nan,)", (NAN,)), ("('0.2',)", ("0.2",))],
          "masks": [("(1,)", (1,)), ("(2.5,)", (2.5,)), ("('8',)", ("8",))]}),
    Case("DropoutNoiseConfig", "experiments.repeats_estimation:DropoutNoiseConfig", {},
         {"m": count(huge=True), "n_over_m": count(), "alpha_gen": positive(), "n_repeats": count(2),
          "seed": seed(), "dropouts": [("()", ()), ("(1.0,)", (1.0,)), ("(nan,)", (NAN,))]}),
    Case("ChannelConfig", "experiments.superposition_capacity:ChannelConfig", {},
         {"c_bits": count(maximum=24), "n_samples": count(2, huge=True), "seed": seed(),
          "dropout_rates": [("()", ()), ("(1.5,)", (1.5,)), ("(nan,)", (NAN,))]}),
    Case("DimensionalityConfig", "experiments.toy_dimensionality:DimensionalityConfig", {},
         {"n_features": count(huge=True), "n_hidden": count(huge=True), "n_instances": count(huge=True),
          "max_inverse_density": [("0.5 (< 1)", 0.5)] + positive(), "steps": count(), "batch_size": count(),
          "seed": seed()}),
    Case("PhaseDiagramConfig", "experiments.phase_diagram:PhaseDiagramConfig", {},
         {"relative_importance": [("()", ()), ("(0.1, -1)", (0.1, -1.0)), ("(nan,)", (NAN,)), ("'1' (str)", "1")],
          "feature_density": [("()", ()), ("(0, 0.5)", (0.0, 0.5)), ("(1.5,)", (1.5,)), ("(nan,)", (NAN,))],
          "n_seeds": count(), "steps": count(), "batch_size": count(), "lr": positive(), "seed": seed()}),
    Case("CorrelationConfig", "experiments.feature_correlation:CorrelationConfig", {},
         {"n_features": count(2), "n_hidden": count(), "feature_probability": probability(open_low=True),
          "n_instances": count(2), "steps": count(), "batch_size": count(), "lr": positive(), "seed": seed()}),
    Case("TeaserConfig", "experiments.toy_teaser:TeaserConfig", {},
         {"n_features": count(huge=True), "n_hidden": count(huge=True), "n_levels": count(2, huge=True),
          "max_inverse_density": [("0.5 (< 1)", 0.5)] + positive(), "importance_rate": positive(),
          "steps": count(), "batch_size": count(), "lr": positive(), "seed": seed()}),
    # the run functions refuse anything but their Config (rows for the two that run in well under a second)
    Case("superposition_capacity.run", "experiments.superposition_capacity:run",
         lambda: {"config": __import__("polycode_lite.experiments.superposition_capacity", fromlist=["x"])
                  .ChannelConfig(n_samples=1000, dropout_rates=(0.2,))},
         {"config": [("3 (int)", 3), ("None", None), ("a dict", {"n_samples": 1000})]}),
    Case("toy_dimensionality.run", lambda: ((lambda **kw: __import__(
        "polycode_lite.experiments.toy_dimensionality", fromlist=["x"]).run(progress=False, **kw)), None),
         lambda: {"config": __import__("polycode_lite.experiments.toy_dimensionality", fromlist=["x"])
                  .DimensionalityConfig(n_features=5, n_hidden=2, n_instances=2, steps=2, batch_size=8)},
         {"config": [("3 (int)", 3), ("None", None), ("a dict", {"n_features": 5})]}),
    Case("normalize_activations", "experiments.explanation_scoring:normalize_activations",
         {"activations": [0.5, 1.0], "max_activation": 1.0},
         # any shape (empty too) is documented, and max_activation <= 0 gives zeros (documented)
         {"activations": array(np.array([0.5, 1.0]), ndim=1, empty=False, wrong_ndim=False), "max_activation": real()}),
    Case("correlation_score", "experiments.explanation_scoring:correlation_score",
         {"true": [0.1, 0.5, 0.9], "predicted": [0.2, 0.4, 1.0]},
         {"true": array(np.array([0.1, 0.5, 0.9]), ndim=1, min_len=2, wrong_ndim=False)},  # raveled (documented)
         extra=[("predicted", "different length", {"predicted": [0.1, 0.2]})]),
    # ---------------- the machine, checkpoints ----------------
    Case("set_threads", lambda: _threads("set"), {"n": 1}, {"n": count()}),
    Case("limit_threads", lambda: _threads("limit"), {"n": 1}, {"n": count(optional=True)}),
    Case("load_autoencoder", "models.checkpoints:load_autoencoder", _shipped_path,
         {"path": [("3 (int)", 3), ("None", None)], "device": [("'gpu9'", "gpu9"), ("3 (int)", 3)]}),
    # shipped_models(device) is tested in tests/test_bad_inputs.py: its valid call loads all five
    # shipped models (~15 s), too slow for a baseline here
    # ---------------- course ----------------
    Case("check", "course.exercises:check", {"exercise_id": "spectrum.participation_ratio", "answer": None,
                                            "verbose": False},
         {"exercise_id": [("'bogus.id'", "bogus.id"), ("'nosuchtopic'", "nosuchtopic"), ("3 (int)", 3),
                          ("None", None)]}),
]
