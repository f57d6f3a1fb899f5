"""Toy models of superposition: gradients, sampler, metrics, and Elhage's known results."""

import numpy as np
import pytest
import torch

from polycode_lite._common import limit_threads
from polycode_lite.models.toy import VARIANTS, ToyModel, importance_decay, sparsity_sweep
from polycode_lite.models.toy_training import _AnalyticStep, evaluate_loss, train_toy
from polycode_lite.science.superposition import (
    dimensions_per_feature,
    feature_dimensionality,
    features_represented,
    interference,
    neuron_polysemanticity,
)


@pytest.fixture(autouse=True)
def _one_thread():
    with limit_threads(1):
        yield


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("uniform_importance", [True, False])
@pytest.mark.parametrize("pairs", [0, 2])
def test_analytic_gradient_matches_autograd(variant, uniform_importance, pairs):
    imp = 1.0 if uniform_importance else importance_decay(30, 0.9)
    model = ToyModel(30, 6, 5, feature_probability=np.linspace(0.5, 0.05, 5), importance=imp,
                     variant=variant, n_correlated_pairs=pairs, n_anticorrelated_pairs=pairs, seed=3)
    with torch.no_grad():
        model.b_final.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    step = _AnalyticStep(model, 128, chunk=2)
    losses = step(torch.Generator().manual_seed(7), True)
    gW, gb = model.W.grad.clone(), model.b_final.grad.clone()
    model.W.grad = model.b_final.grad = None
    x = model.generate_batch(128, generator=torch.Generator().manual_seed(7))
    li = model.loss(x, per_instance=True)
    li.sum().backward()
    torch.testing.assert_close(gW, model.W.grad, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(gb, model.b_final.grad, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(losses, li.detach().numpy(), rtol=1e-4)


def test_single_uniform_sampler_is_exact():
    # x = 1[U < p]·U/p: density p and U[0, 1] values, for every instance
    model = ToyModel(50, 3, 3, feature_probability=[1.0, 0.3, 0.05])
    x = model.generate_batch(4000, seed=2).numpy()
    np.testing.assert_allclose((x > 0).mean(axis=(1, 2)), [1.0, 0.3, 0.05], atol=0.005)
    for i in range(3):
        nz = x[i][x[i] > 0]
        assert nz.max() < 1.0
        np.testing.assert_allclose(np.quantile(nz, [0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.02)


def test_sampler_distribution_and_pairs():
    p = np.array([1.0, 0.3, 0.05])
    model = ToyModel(12, 3, 3, feature_probability=np.array([0.4, 0.3, 0.05]), n_correlated_pairs=2,
                     n_anticorrelated_pairs=2)
    x = model.generate_batch(20_000, seed=1).numpy()
    assert x.shape == (3, 20_000, 12)
    assert x.min() >= 0 and x.max() <= 1
    # independent features: density p, mean of nonzero values 1/2
    dens = (x[:, :, 8:] > 0).mean(axis=(1, 2))
    np.testing.assert_allclose(dens, [0.4, 0.3, 0.05], atol=0.01)
    nz = x[0, :, 8:][x[0, :, 8:] > 0]
    assert nz.mean() == pytest.approx(0.5, abs=0.01)
    # correlated pairs: both present or both absent; anticorrelated: never both
    assert np.all((x[:, :, 0] > 0) == (x[:, :, 1] > 0))
    assert not np.any((x[:, :, 4] > 0) & (x[:, :, 5] > 0))
    np.testing.assert_allclose((x[:, :, 4] > 0).mean(axis=1), [0.4, 0.3, 0.05], atol=0.012)
    # a dense instance (p = 1) has every feature present
    dense = ToyModel(5, 2, 1, feature_probability=p[0]).generate_batch(100, seed=0)
    assert bool((dense > 0).all())


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="feature_probability"):
        ToyModel(5, 2, 2, feature_probability=0.0)
    with pytest.raises(ValueError, match="variant"):
        ToyModel(5, 2, variant="gelu")
    with pytest.raises(ValueError, match="1/2"):
        ToyModel(6, 2, feature_probability=0.8, n_anticorrelated_pairs=1)
    with pytest.raises(ValueError, match="broadcast"):
        ToyModel(5, 2, 3, importance=np.ones((2, 5)))
    with pytest.raises(ValueError, match="steps"):
        train_toy(ToyModel(5, 2), steps=0)
    with pytest.raises(ValueError, match="optimizer"):
        train_toy(ToyModel(5, 2), steps=1, optimizer="sgd")
    with pytest.raises(ValueError, match="shape"):
        dimensions_per_feature(np.ones(5))


def test_metrics_on_hand_built_geometries():
    # two orthogonal features + three unrepresented: D* = 1, D_i = (1, 1, 0, 0, 0)
    W = np.zeros((2, 5))
    W[0, 0] = W[1, 1] = 1.0
    assert dimensions_per_feature(W) == pytest.approx(1.0)
    np.testing.assert_allclose(feature_dimensionality(W), [1, 1, 0, 0, 0])
    assert features_represented(W) == 2
    np.testing.assert_allclose(interference(W), 0.0)
    # regular pentagon of unit vectors: D* = 2/5, every D_i = 2/5
    ang = 2 * np.pi * np.arange(5) / 5
    P = np.stack([np.cos(ang), np.sin(ang)])
    assert dimensions_per_feature(P) == pytest.approx(0.4)
    np.testing.assert_allclose(feature_dimensionality(P), 0.4)
    # antipodal pair: D_i = 1/2, interference 1
    A = np.array([[1.0, -1.0]])
    np.testing.assert_allclose(feature_dimensionality(A), 0.5)
    np.testing.assert_allclose(interference(A), 1.0)
    # batched input keeps the instance axis
    assert feature_dimensionality(np.stack([P, P])).shape == (2, 5)
    # neuron polysemanticity: a unit reading 1 feature vs one reading 3 equally
    N = np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0.5, 0]])
    np.testing.assert_allclose(neuron_polysemanticity(N), [1.0, 3.0])
    np.testing.assert_allclose(neuron_polysemanticity(N, threshold=0.1), [1, 3])


def _best(model):
    return int(np.argmin(evaluate_loss(model, batch_size=20_000)))


def test_dense_5_to_2_represents_two_orthogonal_features():
    # S = 0, importance 0.7^i: the two most important features get orthogonal directions
    model = ToyModel(5, 2, 3, feature_probability=1.0, importance=importance_decay(5, 0.7), seed=0)
    train_toy(model, steps=2500, seed=0, progress=False)
    i = _best(model)
    assert dimensions_per_feature(model)[i] == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(feature_dimensionality(model)[i, :2], 1.0, atol=0.05)
    assert features_represented(model)[i] == 2
    W = model.W.detach().numpy()[i]
    assert abs(W[:, 0] @ W[:, 1]) < 0.05


def test_sparse_5_to_2_forms_a_pentagon():
    model = ToyModel(5, 2, 4, feature_probability=0.05, importance=1.0, seed=0)
    train_toy(model, steps=4000, seed=0, progress=False)
    i = _best(model)
    assert features_represented(model)[i] == 5
    np.testing.assert_allclose(feature_dimensionality(model)[i], 0.4, atol=0.05)
    # ReLU-output norms are a little above 1, so D* sits a little below 2/5
    assert 0.3 < dimensions_per_feature(model)[i] <= 0.42
    W = model.W.detach().numpy()[i]
    angles = np.sort(np.mod(np.arctan2(W[1], W[0]), 2 * np.pi))
    gaps = np.diff(np.append(angles, angles[0] + 2 * np.pi))
    np.testing.assert_allclose(gaps, 2 * np.pi / 5, atol=0.15)


def test_dimensionality_sweep_small():
    """Fast version of the dimensionality experiment: D* falls with sparsity."""
    model = ToyModel(40, 8, 6, feature_probability=sparsity_sweep(6, 20), seed=0)
    train_toy(model, steps=2000, batch_size=512, seed=0, progress=False)
    d = dimensions_per_feature(model)
    assert d[0] == pytest.approx(1.0, abs=0.1)
    assert d[-1] < 0.6 * d[0]
    assert np.all(np.diff(d) < 0.08)  # non-increasing up to noise


@pytest.mark.slow
def test_dimensionality_sweep_has_half_plateau():
    """n=100, m=10: D* falls from 1 and spends a stretch of sparsities near 1/2."""
    model = ToyModel(100, 10, 16, feature_probability=sparsity_sweep(16, 20), seed=0)
    train_toy(model, steps=6000, seed=0, progress=False)
    d = dimensions_per_feature(model)
    assert d[0] == pytest.approx(1.0, abs=0.1)
    assert d[-1] < 0.45
    near_half = np.abs(d - 0.5) < 0.06
    assert near_half.sum() >= 3
    assert np.all(np.diff(d) < 0.08)


def test_train_toy_history_and_autograd_agree():
    kw = {"n_features": 8, "n_hidden": 3, "n_instances": 2, "feature_probability": [1.0, 0.2], "seed": 1}
    a, b = ToyModel(**kw), ToyModel(**kw)
    ha = train_toy(a, steps=50, batch_size=64, log_every=10, progress=False)
    hb = train_toy(b, steps=50, batch_size=64, log_every=10, progress=False, method="autograd")
    assert ha.loss.shape == (5, 2) and list(ha.steps) == [10, 20, 30, 40, 50]
    torch.testing.assert_close(a.W, b.W, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-3)
    assert ha.loss[-1].sum() < ha.loss[0].sum()


def test_progress_bar_is_only_display(capsys):
    import inspect

    from polycode_lite.models import toy_training

    params = inspect.signature(toy_training._train_loop).parameters
    assert "tqdm" not in params and params["progress"].kind is inspect.Parameter.KEYWORD_ONLY
    kw = {"n_features": 6, "n_hidden": 2, "n_instances": 2, "feature_probability": 0.3, "seed": 2}
    a, b = ToyModel(**kw), ToyModel(**kw)
    ha = train_toy(a, steps=20, batch_size=32, log_every=5, progress=True)
    hb = train_toy(b, steps=20, batch_size=32, log_every=5, progress=False)
    assert torch.equal(a.W, b.W) and np.array_equal(ha.loss, hb.loss)
    assert "train_toy" in capsys.readouterr().err  # the bar was drawn (on stderr)


def test_plot_helpers_make_labelled_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polycode_lite.course.claims import check_figure
    from polycode_lite.plots.toy import (
        plot_dimensionality,
        plot_feature_dimensionality,
        plot_features_2d,
        plot_wtw,
    )

    model = ToyModel(5, 2, 3, feature_probability=[1.0, 0.3, 0.05])
    x = np.array([1.0, 3.0, 10.0])
    figs = [plot_wtw(model), plot_features_2d(model, importance=model.importance),
            plot_dimensionality(x, [1.0, 0.5, 0.3], predictions={"pred": (x, [1.0, 0.4, 0.2])}, floor=0.1),
            plot_feature_dimensionality(x, feature_dimensionality(model), dims_per_feature=[1, .5, .3])]
    for fig in figs:
        assert check_figure(fig) == []
        plt.close(fig)
    with pytest.raises(ValueError, match="n_hidden = 2"):
        plot_features_2d(ToyModel(5, 3))
    with pytest.raises(ValueError, match="out of range"):
        plot_wtw(model, instances=[7])
