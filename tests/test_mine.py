"""MINE estimator: calibration on channels with known mutual information (docs/paper_guide.md §2.2, §6)."""

import math

import numpy as np
import pytest
import torch

from polycode_lite.science import mine


# -- analytic values -------------------------------------------------------------------
def test_analytic_channel_values_match_paper():
    assert mine.gaussian_mi(0.8, 1) == pytest.approx(0.5108, abs=1e-4)
    assert mine.gaussian_mi(0.8, 5) == pytest.approx(5 * 0.5108, abs=1e-3)
    assert mine.dropout_channel_mi(0.5) == pytest.approx(0.347, abs=1e-3)
    assert mine.bsc_mi(0.2) == pytest.approx(0.193, abs=1e-3)
    assert mine.bsc_mi(0.5) == pytest.approx(0.0, abs=1e-12)


def test_samplers_have_the_stated_statistics():
    x, z = mine.sample_correlated_gaussian(50_000, 0.8, 2, seed=3)
    assert x.shape == z.shape == (50_000, 2)
    assert np.corrcoef(x[:, 0], z[:, 0])[0, 1] == pytest.approx(0.8, abs=0.01)
    x, z = mine.sample_dropout_channel(50_000, 0.5, seed=3)
    assert set(np.unique(x)) == {-1.0, 1.0} and set(np.unique(z)) == {-1.0, 0.0, 1.0}
    assert np.mean(z == 0) == pytest.approx(0.5, abs=0.01)
    assert np.all((z == 0) | (z == x))
    x, z = mine.sample_bsc(50_000, 0.2, seed=3)
    assert np.mean(x != z) == pytest.approx(0.2, abs=0.01)


def test_samplers_are_seeded():
    a = mine.sample_correlated_gaussian(10, 0.5, seed=1)
    b = mine.sample_correlated_gaussian(10, 0.5, seed=1)
    c = mine.sample_correlated_gaussian(10, 0.5, seed=2)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("call", [
    lambda: mine.gaussian_mi(1.0), lambda: mine.gaussian_mi(0.5, 0),
    lambda: mine.dropout_channel_mi(1.5), lambda: mine.bsc_mi(-0.1),
])
def test_bad_channel_parameters_raise(call):
    with pytest.raises(ValueError):
        call()


# -- bounds ----------------------------------------------------------------------------
def test_dv_bound_against_direct_formula_and_ordering():
    g = torch.Generator().manual_seed(0)
    tj, tm = torch.randn(100, generator=g), torch.randn(100, generator=g) * 2
    dv = float(mine.dv_bound(tj, tm))
    assert dv == pytest.approx(float(tj.mean() - torch.log(torch.exp(tm).mean())), rel=1e-6)
    # for any T the DV bound is at least the f-divergence bound (log u <= u/e)
    assert dv >= float(mine.mine_f_bound(tj, tm))
    # DV is invariant to shifting T by a constant; MINE-f is not
    assert float(mine.dv_bound(tj + 3, tm + 3)) == pytest.approx(dv, abs=1e-5)


def test_independent_variables_give_about_zero():
    rng = np.random.default_rng(0)
    x, z = rng.standard_normal((4000, 2)), rng.standard_normal((4000, 2))
    est = mine.estimate_mutual_information(x, z, steps=300, batch_size=256, progress=False)
    assert abs(est.mi) < 0.05


# -- calibration (docs/paper_guide.md §2.2) ---------------------------------------------------------
def test_fast_calibration_gaussian_1d_and_dropout_channel():
    x, z = mine.sample_correlated_gaussian(8000, 0.8, 1, seed=1)
    est = mine.estimate_mutual_information(x, z, steps=600, batch_size=256, progress=False)
    assert est.mi == pytest.approx(mine.gaussian_mi(0.8, 1), rel=0.10)
    x, z = mine.sample_dropout_channel(8000, 0.5, seed=1)
    est = mine.estimate_mutual_information(x, z, steps=600, batch_size=256, progress=False)
    assert est.mi == pytest.approx(0.347, rel=0.10)


def test_fast_calibration_gaussian_5d():
    x, z = mine.sample_correlated_gaussian(10_000, 0.8, 5, seed=2)
    est = mine.estimate_mutual_information(x, z, steps=1000, batch_size=512, progress=False)
    assert est.mi == pytest.approx(mine.gaussian_mi(0.8, 5), rel=0.10)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["mine", "mine_f"])
@pytest.mark.parametrize("dim", [1, 5])
def test_slow_calibration_gaussian_all_seeds(loss, dim):
    true = mine.gaussian_mi(0.8, dim)
    for seed in range(3):
        x, z = mine.sample_correlated_gaussian(20_000, 0.8, dim, seed=seed)
        est = mine.estimate_mutual_information(x, z, loss=loss, steps=1500, seed=seed,
                                               progress=False)
        assert est.mi == pytest.approx(true, rel=0.10), (loss, dim, seed, est.mi)


@pytest.mark.slow
def test_slow_calibration_binary_channels():
    for p in (0.2, 0.5, 0.8):
        x, z = mine.sample_dropout_channel(20_000, p, seed=4)
        est = mine.estimate_mutual_information(x, z, steps=1500, progress=False)
        assert est.mi == pytest.approx(mine.dropout_channel_mi(p), rel=0.10, abs=0.02)
    x, z = mine.sample_bsc(20_000, 0.2, seed=4)
    est = mine.estimate_mutual_information(x, z, steps=1500, progress=False)
    assert est.mi == pytest.approx(mine.bsc_mi(0.2), rel=0.10, abs=0.02)


# -- API behaviour -----------------------------------------------------------------------
def test_result_curve_seed_and_units():
    x, z = mine.sample_correlated_gaussian(3000, 0.8, 1, seed=0)
    kw = dict(steps=120, batch_size=128, eval_every=20, progress=False)
    a = mine.estimate_mutual_information(x, z, seed=5, **kw)
    b = mine.estimate_mutual_information(x, z, seed=5, **kw)
    c = mine.estimate_mutual_information(x, z, seed=6, **kw)
    assert a.mi == b.mi and a.curve == b.curve and a.mi != c.mi
    assert a.curve["step"] == [20.0, 40.0, 60.0, 80.0, 100.0, 120.0]
    assert len(a.curve["train"]) == len(a.curve["heldout"]) == 6
    assert a.bits == pytest.approx(a.mi / math.log(2))
    assert a.n_train == 2400 and a.n_val == 600
    # the estimate is the mean of the last 20% of the held-out curve
    assert a.mi == pytest.approx(np.mean(a.curve["heldout"][-2:]))
    assert set(a.to_dict()) >= {"mi", "curve", "config"}


def test_global_torch_rng_untouched():
    x, z = mine.sample_correlated_gaussian(1000, 0.5, 1, seed=0)
    state = torch.random.get_rng_state()
    mine.estimate_mutual_information(x, z, steps=10, batch_size=64, progress=False)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("loss", ["dv", "mine_f"])
def test_other_losses_learn_something(loss):
    x, z = mine.sample_correlated_gaussian(4000, 0.8, 1, seed=0)
    est = mine.estimate_mutual_information(x, z, loss=loss, steps=400, batch_size=256,
                                           progress=False)
    assert est.mi > 0.3


def test_explicit_validation_set_is_used():
    x, z = mine.sample_correlated_gaussian(2000, 0.8, 1, seed=0)
    xv, zv = mine.sample_correlated_gaussian(500, 0.8, 1, seed=9)
    est = mine.estimate_mutual_information(x, z, x_val=xv, z_val=zv, steps=50, batch_size=128,
                                           progress=False)
    assert est.n_train == 2000 and est.n_val == 500


def test_bad_inputs_raise_clear_errors():
    x = np.zeros((100, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        mine.estimate_mutual_information(x, np.zeros((90, 2)), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        mine.estimate_mutual_information(np.full((100, 2), np.nan), x, progress=False)
    with pytest.raises(ValueError, match="loss must be"):
        mine.estimate_mutual_information(x, x, loss="infonce", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        mine.estimate_mutual_information(x, x, batch_size=512, progress=False)
    with pytest.raises(ValueError, match="both x_val and z_val"):
        mine.estimate_mutual_information(x, x, x_val=x, progress=False)
    with pytest.raises(ValueError, match="2-D|\\(n, dim\\)"):
        mine.estimate_mutual_information(np.zeros((10, 2, 2)), x[:10], progress=False)


# -- statistics network ----------------------------------------------------------------
def test_statistics_networks_share_one_module_level_class():
    a = mine.StatisticsNetwork(2, 3)
    b = mine.StatisticsNetwork(4, 1, hidden=(8,))
    assert type(a) is type(b) is mine.StatisticsNetwork
    assert isinstance(a, mine.StatisticsNetwork) and isinstance(a, torch.nn.Module)
    assert a(torch.zeros(5, 2), torch.zeros(5, 3)).shape == (5,)
    assert b(torch.zeros(7, 4), torch.zeros(7, 1)).shape == (7,)
    with pytest.raises(ValueError, match="dim_x and dim_z"):
        mine.StatisticsNetwork(0, 3)
    with pytest.raises(ValueError, match="hidden"):
        mine.StatisticsNetwork(2, 3, hidden=())


# -- divergence (issue 13) ---------------------------------------------------------------
def test_divergence_fires_on_the_ill_posed_case():
    """Continuous x through one dropout layer (true MI infinite): trained long enough, MINE's
    held-out bound falls without bound; the estimate is flagged and a warning names the fix."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3000, 3)).astype(np.float32)
    z = (x * (rng.random((3000, 3)) >= 0.2)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="diverged.*lower lr"):
        est = mine.estimate_mutual_information(x, z, steps=1500, batch_size=256, progress=False)
    assert est.diverged and est.mi < -0.5 and est.best > 2.0 and "floor" in est.divergence


def test_healthy_runs_are_not_flagged():
    x, z = mine.sample_correlated_gaussian(4000, 0.8, 1, seed=0)
    est = mine.estimate_mutual_information(x, z, steps=300, batch_size=256, progress=False)
    assert not est.diverged and est.divergence == "" and est.best >= est.mi - est.mi_sd - 1e-6
    rng = np.random.default_rng(1)  # null: independent pairs, MI 0, not a divergence
    est = mine.estimate_mutual_information(rng.standard_normal((4000, 2)), rng.standard_normal((4000, 2)),
                                           steps=300, batch_size=256, progress=False)
    assert not est.diverged


def test_mine_on_the_code_book_stays_under_its_ceiling():
    from polycode_lite.science.mi_estimators import CodeBook

    cb = CodeBook()
    _, x = cb.sample(8000, seed=0)
    z = x * (np.random.default_rng(1).random(x.shape) >= 0.2)
    est = mine.estimate_mutual_information(x, z, steps=600, batch_size=256, progress=False)
    assert est.mi == pytest.approx(3 * 0.8 * math.log(2), rel=0.10)
    assert est.mi <= cb.entropy_nats + 0.05 and not est.diverged
