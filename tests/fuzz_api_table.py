"""The rows of the API fuzz (tests/fuzz_api.py): a valid baseline call of each public callable,
tiny so the whole table runs in seconds, and the bad values of each argument by its kind.
Left out, with the reason: booleans (``progress``, ``rotate``... are only tested for truthiness
by design of Python APIs), arguments documented to take anything (``check``'s answer: a wrong
answer is feedback, never an error), and callables that train or load for long (the CLI fuzz
covers those commands)."""

from __future__ import annotations

import numpy as np

from fuzz_api import (INF, NAN, Case, array, choice, count, positive, probability, real, seed, text,
                      values, window)

_rng = np.random.default_rng(0)
X = _rng.standard_normal((60, 12))            # (n, m) activations
X2 = X + 0.1 * _rng.standard_normal((60, 12))  # a second repeat
EV = 1.0 / np.arange(1, 41) ** 1.0            # a power-law spectrum
COV = np.cov(X, rowvar=False)
W = _rng.standard_normal((3, 6))              # toy weights (m, n)
TRAJ = np.stack([np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                 np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                 0.1 * _rng.standard_normal(16)], axis=1)  # (T, m) closed loop
REPS = np.stack([X, X2])


def _acc(method: str):
    def make():
        from polycode_lite.science.covariance import CovarianceAccumulator

        acc = CovarianceAccumulator(4)
        acc.update(np.arange(20.0).reshape(5, 4) ** 0.5)
        return getattr(acc, method), acc
    return make


def _acc_state(acc) -> dict:
    return {k: v.clone() for k, v in acc.state_dict().items()}


def _toy():
    from polycode_lite.models.toy import ToyModel

    return ToyModel(n_features=5, n_hidden=2, n_instances=2)


def _train_toy():
    from polycode_lite.models.toy_training import train_toy

    model = _toy()
    return (lambda **kw: train_toy(model, progress=False, **kw)), model


def _model_state(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _tiny_net():
    import torch.nn as nn

    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _record():
    import torch

    from polycode_lite.models.hooks import record_activations

    net = _tiny_net()
    return (lambda **kw: record_activations(net, **kw)), None


def _recorder():
    from polycode_lite.models.hooks import ActivationRecorder

    net = _tiny_net()
    return (lambda **kw: ActivationRecorder(net, **kw)), None


def _inputs():
    import torch

    return {"inputs": torch.ones(6, 4), "layers": ["1"], "batch_size": 2}


def _mine():
    from polycode_lite.science.mine import estimate_mutual_information

    return (lambda **kw: estimate_mutual_information(progress=False, **kw)), None


def _mine_base():
    x = np.random.default_rng(1).standard_normal((64, 1))
    return {"x": x, "z": x + 0.5 * np.random.default_rng(2).standard_normal((64, 1)),
            "steps": 4, "batch_size": 16, "eval_every": 2, "hidden": (8,)}


def _threads(which: str):
    from polycode_lite import _common

    def call(**kw):
        import torch

        before = torch.get_num_threads()
        try:
            if which == "set":
                _common.set_threads(blas=False, **kw)
            else:
                with _common.limit_threads(blas=False, **kw):
                    pass
        finally:
            torch.set_num_threads(before)
    return call, None


def _shipped_path() -> dict:
    from polycode_lite._common import SHIPPED_DATA_DIR

    return {"path": str(SHIPPED_DATA_DIR / "resnet_ae" / "lite_shapes_p0.2.safetensors")}


def _energy_code(T):
    t = np.linspace(0, 2 * np.pi, int(T), endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


CASES: list[Case] = [
    # ---------------- science.eigen ----------------
    Case("eigenspectrum", "science.eigen:eigenspectrum", {"x": X},
         {"x": array(X, min_len=2, ndim=2), "k": count(optional=True, huge=True), "seed": seed(),
          "kind": choice(), "method": choice(), "n_samples": count(optional=True)}),
    Case("topk_eigenvalues", "science.eigen:topk_eigenvalues", {"cov": COV, "k": 3},
         {"cov": array(COV, ndim=2, min_len=2), "k": count(huge=True), "n_power_iter": count(0),
          "seed": seed(), "rtol": positive(), "max_rounds": count()},
         extra=[("cov", "not square", {"cov": COV[:5]}), ("k", "k > dim", {"k": 13})]),
    Case("cv_pca", "science.eigen:cv_pca", {"x1": X, "x2": X2, "n_shuffles": 2},
         {"x1": array(X, min_len=2, ndim=2), "x2": array(X2, min_len=2, ndim=2), "n_shuffles": count(),
          "seed": seed(), "max_components": count()},
         extra=[("x2", "different shape", {"x2": X2[:30]})]),
    Case("participation_ratio", "science.eigen:participation_ratio", {"eigenvalues": EV},
         {"eigenvalues": array(EV, ndim=1) + [("negative", -EV)]}),
    Case("effective_rank", "science.eigen:effective_rank", {"eigenvalues": EV},
         {"eigenvalues": array(EV, ndim=1) + [("negative", -EV)]}),
    # ---------------- science.powerlaw ----------------
    Case("fit_power_law", "science.powerlaw:fit_power_law", {"eigenvalues": EV, "n_boot": 10},
         {"eigenvalues": array(EV, min_len=3, ndim=1), "ranks": window(40), "n_samples": count(optional=True),
          "n_boot": count(0), "seed": seed(), "n_sim": count(), "n_features": count(optional=True)}),
    Case("default_fit_window", "science.powerlaw:default_fit_window", {"n_eigenvalues": 40},
         {"n_eigenvalues": count(huge=False), "n_samples": count(optional=True),
          "n_positive": count(optional=True)}),
    Case("powerlaw_gaussian", "science.powerlaw:powerlaw_gaussian", {"n": 10, "m": 5, "alpha": 1.0},
         {"n": count(huge=True), "m": count(huge=True), "alpha": real(), "seed": seed(),  # alpha <= 0: flat/rising, valid
          "noise_std": positive(allow_zero=True)}),
    Case("smoothness_threshold", "science.powerlaw:smoothness_threshold", {"d": 1},
         {"d": positive()}),
    Case("first_rank", "science.powerlaw:first_rank", {"hi": 40}, {"hi": count(2)}),
    Case("alpha_window_scan", "science.powerlaw:alpha_window_scan", {"eigenvalues": EV, "los": (2, 6)},
         {"eigenvalues": array(EV, min_len=3, ndim=1), "n_samples": count(optional=True), "seed": seed()}),
    Case("bootstrap_alpha", "science.powerlaw:bootstrap_alpha", {"x": X, "n_boot": 3, "ranks": (2, 8)},
         {"x": array(X, min_len=3, ndim=2), "n_boot": count(), "ranks": window(12), "seed": seed()},
         extra=[("groups", "wrong length", {"groups": np.arange(7)})]),
    Case("sample_powerlaw_spectrum", "science.synthetic_spectra:sample_powerlaw_spectrum",
         lambda: {"m": 8, "n_samples": 20, "alpha": 1.0, "rng": np.random.default_rng(0)},
         {"m": count(huge=True), "n_samples": count(2), "alpha": real(), "rng": [("an int", 3), ("None", None)]}),
    # ---------------- science.spectrum / repeats ----------------
    # an empty Spectrum is a valid container (check_spectrum refuses it before a fit)
    Case("Spectrum", "science.spectrum:Spectrum", {"values": EV},
         {"values": array(EV, ndim=1, empty=False), "n_samples": count(optional=True), "n_features": count(optional=True),
          "estimator": choice()}),
    # check_spectrum names the caller's argument (``what``, default "eigenvalues")
    Case("check_spectrum", "science.spectrum:check_spectrum", {"values": EV},
         {"values": array(EV, ndim=1)}, names={"values": "eigenvalues"}),
    # an empty spectrum has 0 leading positive values (documented), so it is not a bad input here
    Case("n_leading_positive", "science.spectrum:n_leading_positive", {"values": EV},
         {"values": array(EV, ndim=1, empty=False)}),
    Case("repeats_spectrum", "science.repeats:repeats_spectrum", {"reps": REPS, "n_shuffles": 2},
         {"reps": array(REPS, ndim=3, min_len=2), "method": choice(), "seed": seed(), "n_shuffles": count()}),
    Case("cross_covariance", "science.repeats:cross_covariance", {"reps": REPS},
         {"reps": array(REPS, ndim=3, min_len=2)}),
    Case("denoised_covariance", "science.repeats:denoised_covariance", {"reps": REPS},
         {"reps": array(REPS, ndim=3, min_len=2)}),
    Case("dropout_passes", "science.repeats:dropout_passes",
         lambda: {"h": X, "p": 0.5, "k": 2, "rng": np.random.default_rng(0)},
         {"h": array(X, ndim=2, empty=False), "p": probability(open_high=True), "k": count(huge=True),
          "rng": [("an int", 3), ("None", None)]}),
    # ---------------- science.covariance ----------------
    Case("CovarianceAccumulator", "science.covariance:CovarianceAccumulator", {"dim": 4},
         {"dim": count(huge=True), "dtype": [("'float64' (str)", "float64"), ("int", 3)]}),
    Case("CovarianceAccumulator.update", _acc("update"), {"batch": np.ones((3, 4))},
         {"batch": array(np.ones((3, 4)), ndim=2) + [("x 1e200", np.arange(12.0).reshape(3, 4) * 1e200)]},
         extra=[("batch", "wrong width", {"batch": np.ones((3, 5))})], state=_acc_state),
    Case("CovarianceAccumulator.covariance", _acc("covariance"), {"ddof": 1},
         {"ddof": count(0, maximum=4)}, state=_acc_state),
    # ---------------- science.projections ----------------
    # k > m is allowed for Gaussian projections (E_R scales as k/m for any k); a (T, ...) trajectory
    # with more than 2 axes is flattened per step (documented), so neither is a bad input here
    Case("random_projection", "science.projections:random_projection", {"m": 10, "k": 3},
         {"m": count(huge=True), "k": count(huge=True), "seed": seed()}),
    Case("energy_scaling_slope", "science.projections:energy_scaling_slope",
         {"code_fn": _energy_code, "Ts": (16, 32, 64)},
         {"code_fn": [("3 (not callable)", 3), ("None", None)],
          "Ts": [("one length", (16,)), ("zero length", (0, 16, 32)), ("'16' str", ("16", 32, 64)),
                 ("negative", (-16, 32, 64)), ("None", None)]}),
    Case("theoretical_energy_slope", "science.projections:theoretical_energy_slope", {"alpha": 3.0},
         {"alpha": real(), "d": count()}),
    Case("expected_projected_action", "science.projections:expected_projected_action",
         {"eigenvalues": EV, "k": 3},
         {"eigenvalues": array(EV, ndim=1, optional=True), "k": count(), "lambda_1": positive()},
         extra=[("alpha", "alpha nan", {"eigenvalues": None, "alpha": NAN, "m": 10}),
                ("m", "m = 0", {"eigenvalues": None, "alpha": 2.0, "m": 0}),
                ("m", "m = '10'", {"eigenvalues": None, "alpha": 2.0, "m": "10"})]),
    Case("expected_projected_energy", "science.projections:expected_projected_energy", {"acts": TRAJ},
         {"acts": array(TRAJ, ndim=2, min_len=2, wrong_ndim=False), "k": count()}),
    Case("path_energy", "science.projections:path_energy", {"traj": TRAJ},
         {"traj": array(TRAJ, ndim=2, min_len=2, wrong_ndim=False)}),
    Case("normalised_path_energy", "science.projections:normalised_path_energy", {"traj": TRAJ},
         {"traj": array(TRAJ, ndim=2, min_len=2, wrong_ndim=False)}),
    Case("powerlaw_trace", "science.projections:powerlaw_trace", {"alpha": 2.0, "m": 10},
         {"alpha": real(), "m": count(optional=True)}),
    Case("project", "science.projections:project", {"acts": TRAJ, "R": np.ones((3, 2))},
         {"acts": array(TRAJ, ndim=2, empty=False, wrong_ndim=False), "R": array(np.ones((3, 2)), ndim=2)},
         extra=[("R", "wrong rows", {"R": np.ones((4, 2))})]),
    Case("projected_energy", "science.projections:projected_energy", {"acts": TRAJ, "k": 2, "n_projections": 3},
         {"acts": array(TRAJ, ndim=2, min_len=2, wrong_ndim=False), "k": count(), "n_projections": count(huge=True),
          "seed": seed()}),
    # ---------------- science.superposition ----------------
    Case("dimensions_per_feature", "science.superposition:dimensions_per_feature", {"W": W},
         {"W": array(W, ndim=2)}),
    Case("feature_dimensionality", "science.superposition:feature_dimensionality", {"W": W},
         {"W": array(W, ndim=2), "eps": positive()}),
    Case("features_represented", "science.superposition:features_represented", {"W": W},
         {"W": array(W, ndim=2), "threshold": positive(allow_zero=True)}),
    Case("interference", "science.superposition:interference", {"W": W},
         {"W": array(W, ndim=2), "eps": positive()}),
    Case("neuron_polysemanticity", "science.superposition:neuron_polysemanticity", {"W": W},
         {"W": array(W, ndim=2), "threshold": positive(optional=True, allow_zero=True)}),
    Case("sticky_fraction_share", "science.superposition:sticky_fraction_share",
         {"feature_dims": np.array([1.0, 0.5, 0.5, 0.3])},
         {"feature_dims": array(np.array([1.0, 0.5, 0.5, 0.3]), ndim=1, wrong_ndim=False), "tol": positive(),
          "min_dim": positive(allow_zero=True)}),
    # ---------------- science.action ----------------
    Case("random_unit_directions", "science.action:random_unit_directions", {"width": 4, "n": 3},
         {"width": count(huge=True), "n": count(0, huge=True), "seed": seed()}),
    Case("path_action", "science.action:path_action", {"traces": TRAJ[None]},
         {"traces": array(TRAJ[None], ndim=3)}),
    Case("minimum_action_directions", "science.action:minimum_action_directions", {"trajectory": TRAJ, "k": 2},
         {"trajectory": array(TRAJ, ndim=2, min_len=3), "k": count(), "min_variance": positive(allow_zero=True)},
         extra=[("k", "k > width", {"k": 4})]),
    Case("energy_minimiser_variance_ratio", "science.action:energy_minimiser_variance_ratio",
         {"trajectory": TRAJ}, {"trajectory": array(TRAJ, ndim=2, min_len=3)}),
    Case("select_min_action", "science.action:select_min_action",
         {"candidates": np.eye(3), "traces": TRAJ[None], "n_select": 2},
         {"candidates": array(np.eye(3), ndim=2), "traces": array(TRAJ[None], ndim=3),
          "n_select": count(maximum=3)}, extra=[("traces", "K differs from the candidates", {"traces": TRAJ[None, :, :2]})]),
    Case("ActionMoments", "science.action:ActionMoments", {"width": 3},
         {"width": count(), "n": count(0), "n_diff": count(0)}),
    # ---------------- science.capacity ----------------
    Case("binary_entropy", "science.capacity:binary_entropy", {"p": 0.3},
         {"p": values(0.3, 0.0, 1.0), "base": choice()}),
    Case("bsc_mi(capacity)", "science.capacity:bsc_mi", {"flip": 0.1},
         {"flip": values(0.1, 0.0, 1.0), "p_one": values(0.5, 0.0, 1.0), "base": choice()}),
    Case("erasure_channel_mi", "science.capacity:erasure_channel_mi", {"p_erase": 0.2},
         {"p_erase": values(0.2, 0.0, 1.0), "input_entropy": values(0.7, 0.0), "base": choice()}),
    Case("gaussian_channel_mi", "science.capacity:gaussian_channel_mi", {"snr": 2.0},
         {"snr": values(2.0, 0.0), "base": choice()}),
    Case("quantiser_mi", "science.capacity:quantiser_mi", {"bits": 3}, {"bits": values(3.0, 0.0), "base": choice()}),
    Case("dropout_epsilon", "science.capacity:dropout_epsilon", {"c_base": 4.0}, {"c_base": values(4.0, 0.0)}),
    Case("dropout_capacity_bounds", "science.capacity:dropout_capacity_bounds", {"D": 0.2, "c_base": 4.0},
         {"D": values(0.2, 0.0, 1.0), "c_base": values(4.0, 0.0), "m": values(1.0, 0.0)}),
    Case("units_capacity", "science.capacity:units_capacity", {"m": 10, "h_elem": 8.0},
         {"m": values(10.0, 0.0), "h_elem": values(8.0, 0.0)}),
    Case("sparse_entropy", "science.capacity:sparse_entropy", {"n": 20, "S": 0.9, "h_elem": 8.0},
         {"n": values(20.0, 0.0), "S": values(0.9, 0.0, 1.0), "h_elem": values(8.0, 0.0)}),
    Case("predicted_dims_per_feature", "science.capacity:predicted_dims_per_feature",
         {"S": 0.9, "h_elem": 8.0, "n_features": 20, "n_hidden": 5},
         {"S": values(0.9, 0.0, 1.0), "h_elem": values(8.0, 0.0), "n_features": count(optional=True),
          "n_hidden": count(optional=True)}),
    Case("bits_lost_per_unit_alpha", "science.capacity:bits_lost_per_unit_alpha", {"m": 10},
         {"m": values(10.0, 1.0), "exponent": choice()}),
    Case("bits_lost_per_unit_sigma_exponent", "science.capacity:bits_lost_per_unit_sigma_exponent", {"m": 10},
         {"m": values(10.0, 1.0)}),
    Case("powerlaw_entropy_bound", "science.capacity:powerlaw_entropy_bound", {"m": 10, "n_bits": 8.0, "alpha": 1.0},
         {"m": count(), "n_bits": positive(), "alpha": values(1.0, 0.0), "exponent": choice()}),
    Case("powerlaw_entropy_stirling", "science.capacity:powerlaw_entropy_stirling",
         {"m": 10, "n_bits": 8.0, "alpha": 1.0},
         {"m": values(10.0, 1.0), "n_bits": positive(), "alpha": values(1.0, 0.0), "exponent": choice()}),
    Case("uniform_wraparound_gaussian_mi", "science.capacity:uniform_wraparound_gaussian_mi",
         {"width": 4.0, "sigma": 0.2},
         {"width": values(4.0, 0.0), "sigma": values(0.2, 0.0), "base": choice()}),
    Case("plugin_mutual_information(capacity)", "science.capacity:plugin_mutual_information",
         {"x": np.array([0, 1, 0, 1, 1]), "y": np.array([0, 1, 1, 1, 0])},
         {"x": array(np.array([0, 1, 0, 1, 1]), ndim=1, min_len=2, wrong_ndim=False), "base": choice()},
         extra=[("y", "different length", {"y": np.array([0, 1])})]),
    Case("simulate_quantised_gaussian_loss", "science.capacity:simulate_quantised_gaussian_loss",
         {"m": 6, "n_samples": 200},
         {"m": count(huge=True), "alpha": positive(), "step": positive(optional=True),
          "n_samples": count(2, huge=True), "exponent": choice(), "seed": seed()}),
    # ---------------- science.mi_estimators / mine ----------------
    Case("gaussian_mi", "science.mi_estimators:gaussian_mi", {"rho": 0.5},
         {"rho": [("1.5", 1.5), ("-1.5", -1.5), ("nan", NAN), ("'0.5'", "0.5"), ("None", None)], "dim": count()}),
    Case("bsc_mi", "science.mi_estimators:bsc_mi", {"p": 0.1}, {"p": probability()}),
    Case("dropout_channel_mi", "science.mi_estimators:dropout_channel_mi", {"p": 0.1}, {"p": probability()}),
    Case("sample_correlated_gaussian", "science.mi_estimators:sample_correlated_gaussian", {"n": 10, "rho": 0.5},
         {"n": count(huge=True), "rho": [("1.5", 1.5), ("nan", NAN), ("'0.5'", "0.5")], "dim": count(huge=True),
          "seed": seed()}),
    Case("sample_bsc", "science.mi_estimators:sample_bsc", {"n": 10, "p": 0.1},
         {"n": count(huge=True), "p": probability(), "dim": count(huge=True), "seed": seed()}),
    Case("sample_dropout_channel", "science.mi_estimators:sample_dropout_channel", {"n": 10, "p": 0.1},
         {"n": count(huge=True), "p": probability(), "dim": count(huge=True), "seed": seed()}),
    Case("plugin_mutual_information", "science.mi_estimators:plugin_mutual_information",
         {"x": np.array([0, 1, 0, 1, 1]), "z": np.array([0, 1, 1, 1, 0])},
         {"x": array(np.array([0, 1, 0, 1, 1]), ndim=1, min_len=2, wrong_ndim=False)},
         extra=[("z", "different length", {"z": np.array([0, 1])})]),
    Case("CodeBook", "science.mi_estimators:CodeBook", {"bits": 2, "dim": 2},
         {"bits": count(maximum=20), "dim": count(huge=True), "amplitude": positive(), "seed": seed()}),
    Case("divergence_reason", "science.mine:divergence_reason", {"heldout": [0.1, 0.2, 0.3], "estimate": 0.3},
         # a NaN/inf estimate is what divergence_reason exists to flag, so it is not a bad input
         {"estimate": [("'1' (str)", "1"), ("None", None)], "floor": real(), "max_drop": positive()}),
    Case("MINEConfig", "science.mine:MINEConfig", {},
         {"loss": choice(), "lr": positive(), "batch_size": count(), "steps": count(), "ema": probability(open_low=True),
          "holdout": probability(open_low=True, open_high=True), "eval_every": count(),
          "n_marginal_perms": count(), "average_last": probability(open_low=True), "grad_clip": positive(optional=True),
          "seed": seed(), "sanity_floor": real(), "max_drop": positive(),
          "hidden": [("()", ()), ("(0,)", (0,)), ("(64.5,)", (64.5,)), ("'64'", "64"), ("None", None)]}),
    Case("estimate_mutual_information", _mine, _mine_base,
         {"x": array(_mine_base()["x"], ndim=2, min_len=8), "z": array(_mine_base()["z"], ndim=2, min_len=8)},
         extra=[("z", "different length", {"z": np.ones((10, 1))}),
                ("x_val", "x_val without z_val", {"x_val": np.ones((10, 1))}),
                ("steps", "steps=0 override", {"steps": 0}), ("bogus", "unknown override bogus", {"bogus": 1})]),
    Case("StatisticsNetwork", "science.mine:StatisticsNetwork", {"dim_x": 2, "dim_z": 2},
         {"dim_x": count(huge=True), "dim_z": count(huge=True)}),
    # ---------------- science.multiple_comparisons / trajectory_similarity ----------------
    Case("holm", "science.multiple_comparisons:holm", {"pvalues": [0.01, 0.2, 0.04]},
         # NaN p-values count as 1 and an empty family is empty (both documented)
         {"pvalues": [v for v in array(np.array([0.01, 0.2, 0.04]), ndim=1) if v[0] not in ("NaN inside", "empty")]
          + [("above 1", np.array([0.1, 1.5]))],
          "level": probability(open_low=True, open_high=True)}),
    Case("se_from_ci", "science.multiple_comparisons:se_from_ci", {"ci_low": [0.1, 0.2], "ci_high": [0.3, 0.5]},
         {"level": probability(open_low=True, open_high=True)}),
    Case("input_projection_correlation", "science.trajectory_similarity:input_projection_correlation",
         {"inputs": TRAJ, "points": TRAJ[:, :2]},
         {"inputs": array(TRAJ, ndim=2, min_len=3, wrong_ndim=False),
          "points": array(TRAJ[:, :2], ndim=2, min_len=3, wrong_ndim=False),
          "method": choice()}, extra=[("points", "different length", {"points": TRAJ[:5, :2]})]),
    Case("projection_correlations", "science.trajectory_similarity:projection_correlations",
         {"inputs": TRAJ, "acts": TRAJ, "k": 2, "n_projections": 3},
         {"acts": array(TRAJ, ndim=2, min_len=3, wrong_ndim=False), "k": count(), "n_projections": count(huge=True),
          "seed": seed(),
          "method": choice()}, extra=[("acts", "different length", {"acts": TRAJ[:5]})]),
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
    # ---------------- outside this suite's fixes (listed, not asserted; see test_fuzz_api) ----------------
    # shipped_models(device) loads all five shipped models (~15 s) before it looks at device, so it
    # is left out of the table; its bad devices are in the report of issue 16's fuzz
    Case("set_threads", lambda: _threads("set"), {"n": 1}, {"n": count()}, elsewhere="polycode_lite/_common.py"),
    Case("limit_threads", lambda: _threads("limit"), {"n": 1}, {"n": count(optional=True)},
         elsewhere="polycode_lite/_common.py"),
    Case("load_autoencoder", "models.checkpoints:load_autoencoder", _shipped_path,
         {"path": [("3 (int)", 3), ("None", None)], "device": [("'gpu9'", "gpu9"), ("3 (int)", 3)]},
         elsewhere="polycode_lite/models/checkpoints.py"),
    # ---------------- course ----------------
    Case("check", "course.exercises:check", {"exercise_id": "spectrum.participation_ratio", "answer": None,
                                            "verbose": False},
         {"exercise_id": [("'bogus.id'", "bogus.id"), ("'nosuchtopic'", "nosuchtopic"), ("3 (int)", 3),
                          ("None", None)]}),
]
