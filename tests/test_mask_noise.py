"""experiments.mask_noise: why eval PCA and the mask cross-covariance disagree (notebook 05 §3)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from polycode_lite.course.claims import check_figure  # noqa: E402
from polycode_lite.experiments import mask_noise  # noqa: E402
from polycode_lite.experiments.alpha_vs_dropout import AlphaSweepConfig  # noqa: E402


@pytest.fixture(scope="module")
def res() -> mask_noise.MaskNoiseResult:
    cfg = mask_noise.MaskNoiseConfig(widths=(48, 48), n_eval=600, dropouts=(0.2, 0.8), masks=(4, 16),
                                     window=(3, 16))
    return mask_noise.run(cfg)


def test_eval_alpha_ignores_the_rate_and_one_pass_is_flattened(res):
    tab = res.table()
    for depth in (1, 2):
        ev = tab.loc[(depth, "eval PCA")]
        assert ev["D=0.2"] == ev["D=0.8"]  # an untrained net's weights do not depend on D
        assert tab.loc[(depth, "one train-mode pass"), "D=0.8"] < ev["D=0.8"] - 0.1  # mask noise flattens
    # layer 1: the mask average is the eval code, so many masks at a low rate agree with eval PCA
    assert abs(tab.loc[(1, "16 masks"), "D=0.2"] - tab.loc[(1, "eval PCA"), "D=0.2"]) < 0.1
    assert list(tab.index.get_level_values(1)[:4]) == ["eval PCA", "one train-mode pass", "4 masks", "16 masks"]


def test_explanation_and_plot_carry_the_numbers(res):
    s = res.summary()
    assert s["p"] == 0.8 and s["noise_to_signal"] == pytest.approx(4.0)
    text = res.explanation()
    assert f"{s['layers'][1]['eval']:.2f}" in text and f"{s['layers'][2]['one_pass']:.2f}" in text
    fig = res.plot()
    assert not check_figure(fig) and len(fig.axes) == 2
    width, height = fig.get_size_inches()
    assert width / height <= 4.0
    plt.close(fig)


def test_config_from_the_sweep_and_bad_settings():
    cfg = mask_noise.MaskNoiseConfig.from_sweep(AlphaSweepConfig.fast(), window=(11, 43))
    assert cfg.dropouts == (0.2, 0.4, 0.6, 0.8) and cfg.widths == (128, 128, 128) and cfg.window == (11, 43)
    with pytest.raises(ValueError, match="dropouts"):
        mask_noise.MaskNoiseConfig(dropouts=(0.0,))
    with pytest.raises(ValueError, match="masks"):
        mask_noise.MaskNoiseConfig(masks=(1,))
    with pytest.raises(ValueError, match="window"):
        mask_noise.MaskNoiseConfig(window=(5, 2))
    assert np.isnan(mask_noise.MaskNoiseResult(rows=[dict(depth=1, dropout=0.5, method="eval PCA", alpha=1.0)],
                                               config=mask_noise.MaskNoiseConfig()).value(2, 0.5, "eval PCA"))
