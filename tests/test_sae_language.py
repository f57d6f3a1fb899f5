"""Tests of polycode_lite.experiments.sae_language and sae_language_claims (issue 17: an SAE on MLP
activations, scored like neurons; α of its code; the reconstruction–sparsity trade-off)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polycode_lite.experiments import sae_language as S
from polycode_lite.experiments import sae_language_claims as R
from polycode_lite.experiments import sae_language_measures as M

torch = pytest.importorskip("torch")


# -- the config -------------------------------------------------------------------------------
def test_fast_and_full_configs_are_valid():
    assert S.SAELanguageConfig.fast().sparsity == {"k": 16}
    # the scored latents are a random sample, like the neurons; the top-variance set is scored beside them
    assert (S.SAELanguageConfig().pick, S.SAELanguageConfig().also_pick) == ("random", "variance")
    assert S.selected_kind("variance") == "sae latent by variance"
    assert S.SAELanguageConfig.full(k=None, l1=0.05, sweep=(0.01, 0.1)).sparsity == {"l1": 0.05}


@pytest.mark.parametrize("kw, exc, word", [
    (dict(k=8, l1=0.1), ValueError, "exactly one"),
    (dict(k=None), ValueError, "exactly one"),
    (dict(pick="best"), ValueError, "pick"),
    (dict(also_pick="top"), ValueError, "also_pick"),
    (dict(trace="both"), ValueError, "trace"),
    (dict(n_boot=5), ValueError, "n_boot"),
    (dict(alpha_boot=3), ValueError, "alpha_boot"),
    (dict(layers=(1, -1)), ValueError, "layers[1]"),
    (dict(sweep=(8, 2.5)), TypeError, "sweep[1]"),
    (dict(eval_windows=0), ValueError, "eval_windows"),
    (dict(min_frequency=2.0), ValueError, "min_frequency"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_config_refuses_bad_settings_naming_them(kw, exc, word):
    with pytest.raises(exc, match=word.replace("[", r"\[").replace("]", r"\]")):
        S.SAELanguageConfig.fast(**kw)


def test_run_refuses_a_non_config_and_a_missing_layer_before_work():
    with pytest.raises(TypeError, match="config"):
        S.run({"layers": (3,)})

    class FakeLM:  # run checks the layers before it cuts windows or loads anything
        n_layers, name = 2, "fake"

    with pytest.raises(ValueError, match="layers: 5 is out of range"):
        S.run(S.SAELanguageConfig.fast(layers=(5,)), lm=FakeLM())


def test_split_windows_is_disjoint_seeded_and_refuses_too_many():
    c = S.SAELanguageConfig.fast(train_windows=50, eval_windows=40)
    tr, ev = S._split_windows(100, c)
    assert len(tr) == 50 and len(ev) == 40 and not set(tr) & set(ev)
    assert np.array_equal(S._split_windows(100, c)[1], ev)
    assert not np.array_equal(S._split_windows(100, S.SAELanguageConfig.fast(train_windows=50, eval_windows=40,
                                                                             seed=1))[1], ev)
    with pytest.raises(ValueError, match="exceeds the 80 windows"):
        S._split_windows(80, c)
    with pytest.raises(ValueError, match="n_top"):
        S._split_windows(100, S.SAELanguageConfig.fast(train_windows=50, eval_windows=30))


# -- picking latents --------------------------------------------------------------------------
def test_pick_latents_keeps_alive_ones_by_the_named_statistic():
    freq = np.array([0.0, 0.5, 0.0005, 0.01, 0.2, 0.3])
    var = np.array([9.0, 0.1, 8.0, 5.0, 1.0, 0.2])  # the dead (0) and rare (2) latents have large variance
    assert S.pick_latents(freq, var, 2, "variance").tolist() == [3, 4]
    assert S.pick_latents(freq, var, 2, "frequency").tolist() == [1, 5]
    rnd = S.pick_latents(freq, var, 3, "random", seed=0)
    assert set(rnd) <= {1, 3, 4, 5} and np.array_equal(rnd, S.pick_latents(freq, var, 3, "random", seed=0))
    # null: with no frequency floor the rare latent wins on variance
    assert 2 in S.pick_latents(freq, var, 2, "variance", min_frequency=0.0)
    with pytest.raises(ValueError, match="only 4 of 6 latents"):
        S.pick_latents(freq, var, 5)


def test_latent_statistics_and_traces_match_the_sae_code():
    from polycode_lite.models.sae import train_sae

    x = np.random.default_rng(0).standard_normal((300, 6)).astype(np.float32)
    sae = train_sae(x, 12, k=3, steps=30, seed=0)
    z = sae.encode(x)
    freq, var = S.latent_statistics(sae, x)
    assert np.allclose(freq, (z > 0).mean(0)) and np.allclose(var, z.var(0), atol=1e-6)
    acts = x.reshape(30, 10, 6)
    chosen = np.array([1, 4])
    tr = S._latent_traces(sae, acts, chosen, "activation")
    assert tr.shape == (30, 10, 2) and np.allclose(tr.reshape(-1, 2), z[:, chosen], atol=1e-5)
    proj = S._latent_traces(sae, acts, chosen, "projection")
    assert np.allclose(proj.reshape(-1, 2), x @ sae.decoder[chosen].T, atol=1e-4)


# -- the claims -------------------------------------------------------------------------------
def _scores(means: dict[str, float], shuffled: float = 0.05, n: int = 12, sd: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for kind, m in means.items():
        signs = (1, -1) if kind == "random" else (1,)
        for i in range(n):
            for s in signs:
                rows.append(dict(hook="blocks.3.mlp.post", kind=kind, index=i, sign=s,
                                 direction=f"blocks.3.mlp.post/{kind}#{i}", simulator="token lookup",
                                 score=m + sd * rng.standard_normal(), score_shuffled=shuffled + sd * rng.standard_normal()))
    return pd.DataFrame(rows)


def test_latent_claims_hold_when_latents_beat_both_and_the_control():
    cl = R.latent_claims(_scores({"neuron": 0.3, "random": 0.25, "sae latent": 0.6}), n_boot=200)
    assert [c["values"]["reference"] for c in cl] == ["random", "neuron"]
    assert all(c["verdict"] == "holds" and c["why"] == "" for c in cl)
    assert all(k in cl[0] for k in ("claim", "expected", "measured", "control", "values"))


def test_latent_claims_null_latents_at_the_control_level_fail():
    # null: the latents' scores are what the window-shuffled control gives
    cl = R.latent_claims(_scores({"neuron": 0.3, "random": 0.25, "sae latent": 0.05}), n_boot=200)
    assert all(c["verdict"] == "does not hold at this scale" for c in cl)
    assert "window-shuffled control" in cl[0]["why"] and "[" in cl[0]["why"]


def test_latent_claims_partly_and_worse():
    cl = R.latent_claims(_scores({"neuron": 0.45, "random": 0.3, "sae latent": 0.3}), n_boot=200)
    assert cl[0]["verdict"] == "partly" and "not significantly better" in cl[0]["why"]
    assert cl[1]["verdict"] == "does not hold at this scale" and "below neuron" in cl[1]["why"]


def test_latent_claims_refuse_tables_without_kinds_or_control():
    s = _scores({"neuron": 0.3, "random": 0.25})
    with pytest.raises(ValueError, match="sae latent"):
        R.latent_claims(s, n_boot=50)
    s2 = _scores({"neuron": 0.3, "random": 0.25, "sae latent": 0.5}).assign(score_shuffled=np.nan)
    with pytest.raises(ValueError, match="window-shuffled control"):
        R.latent_claims(s2, n_boot=50)


def _alphas(latent, neuron):
    return pd.DataFrame([dict(hook="h", code="neurons", alpha=neuron[0], ci_low=neuron[1], ci_high=neuron[2], note=""),
                         dict(hook="h", code="sae latents", alpha=latent[0], ci_low=latent[1], ci_high=latent[2], note="")])


def test_alpha_claim_rule_and_its_null():
    assert R.alpha_claim(_alphas((0.7, 0.65, 0.75), (1.1, 1.0, 1.2)))["verdict"] == "holds"
    partly = R.alpha_claim(_alphas((0.95, 0.8, 1.05), (1.1, 1.0, 1.2)))
    assert partly["verdict"] == "partly" and "CIs overlap" in partly["why"]
    null = R.alpha_claim(_alphas((1.1, 1.0, 1.2), (1.1, 1.0, 1.2)))  # null: the same code twice
    assert null["verdict"] == "does not hold at this scale" and "1.100" in null["why"]
    curved = _alphas((0.7, 0.65, 0.75), (1.1, 1.0, 1.2)).assign(flags=["", "curved"])
    c = R.alpha_claim(curved)  # separated CIs, but the latents' fit is no single power law
    assert c["verdict"] == "partly" and "latents curved" in c["why"]
    nan = R.alpha_claim(_alphas((np.nan, np.nan, np.nan), (1.1, 1.0, 1.2)))
    assert nan["verdict"] == "does not hold at this scale"


def test_tradeoff_claim_rule_and_its_null():
    t = pd.DataFrame(dict(hook="h", method="topk", sparsity=[8, 16], n_latents=64, fvu=[0.3, 0.2], l0=[8.0, 16.0],
                          dead_fraction=[0.1, 0.0], fvu_pca_same_l0=[0.5, 0.4]))
    assert R.tradeoff_claim(t)["verdict"] == "holds"
    assert R.tradeoff_claim(t.assign(fvu=[0.3, 0.45]))["verdict"] == "partly"
    null = R.tradeoff_claim(t.assign(fvu=t.fvu_pca_same_l0))  # null: no better than PCA
    assert null["verdict"] == "does not hold at this scale" and "0.500" in null["why"]


def test_plot_tradeoff_highlights_a_swept_value_and_refuses_another():
    import matplotlib
    matplotlib.use("Agg")
    t = pd.DataFrame(dict(hook="h", method="topk", sparsity=[8, 16], n_latents=64, fvu=[0.3, 0.2], l0=[8.0, 16.0],
                          dead_fraction=[0.1, 0.0], fvu_pca_same_l0=[0.5, 0.4]))
    ax = R.plot_tradeoff(t, highlight=16)
    assert any(line.get_label() == "k=16" for line in ax.get_lines())
    with pytest.raises(ValueError, match="highlight=5"):
        R.plot_tradeoff(t, highlight=5)


def test_code_alphas_share_one_window_and_separate_a_steep_code_from_a_flat_one():
    rng = np.random.default_rng(0)
    steep = rng.standard_normal((2400, 60)) * np.arange(1, 61) ** -1.0   # α = 2 (variance ∝ n^-2)
    flat = rng.standard_normal((2400, 90)) * np.arange(1, 91) ** -0.25   # α = 0.5
    groups = np.arange(2400) % 6
    with pytest.raises(ValueError, match="one id per row"):
        M.group_accumulators(steep, groups[:10])
    codes = {"steep": M.group_accumulators(steep, groups), "flat": M.group_accumulators(flat, groups, lambda x: x)}
    rows = {r["code"]: r for r in M.code_alphas("h", codes, n_boot=20, correct_bias=False)}
    assert rows["steep"]["window_hi"] == rows["flat"]["window_hi"] == 30  # ½ · the narrower code's 60
    assert rows["flat"]["ci_high"] < rows["steep"]["ci_low"]
    alphas = pd.DataFrame([rows["steep"] | {"code": "neurons"}, rows["flat"] | {"code": "sae latents"}])
    assert R.alpha_claim(alphas)["verdict"] == "holds"
    swapped = alphas.assign(code=["sae latents", "neurons"])  # null: the steeper code as the latents
    assert R.alpha_claim(swapped)["verdict"] == "does not hold at this scale"


def test_pca_fvu_is_exact_on_a_low_rank_code():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2)) @ rng.standard_normal((2, 5))
    fvu = M.pca_fvu(x[:200], x[200:], [1, 2])
    assert fvu[2] < 1e-10 < fvu[1] < 1


# -- end to end on a tiny random GPT-2 ---------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from polycode_lite.data.corpus import load_documents
    from polycode_lite.models.language_models import load_language_model

    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                                  bos_token_id=50256, eos_token_id=50256)
    path = tmp_path_factory.mktemp("tiny_gpt2_sae")
    transformers.GPT2Model(cfg).eval().save_pretrained(path)
    lm = load_language_model(str(path), device="cpu")
    docs = load_documents("pydoc", max_documents=12, seed=1)
    c = S.SAELanguageConfig(layers=(1,), train_windows=40, eval_windows=30, k=8, sweep=(4, 8), steps=120,
                            n_directions=4, n_min_action=2, pool_size=8, n_top=6, n_records_random=6, n_groups=3,
                            n_boot=50, alpha_boot=10, correct_bias=False)
    return S.run(c, lm=lm, documents=docs), lm, docs, c


@pytest.mark.slow
def test_run_end_to_end_on_a_tiny_gpt2(tiny_run):
    res, *_ = tiny_run
    kinds = set(res.scores.kind)
    assert kinds == {"neuron", "random", "best-of-N", "min-action", S.KIND, S.selected_kind("variance")}
    lat = res.scores[(res.scores.kind == S.KIND)]
    assert set(lat.sign) == {1} and lat.direction.nunique() == 4 and set(lat.simulator) == set(res.scores.simulator)
    tl = lat[lat.simulator == "token lookup"]
    assert tl.score_shuffled.notna().all()  # the same window-shuffled control as the other kinds
    assert set(res.latents[res.latents.kind == S.KIND].latent) == set(lat["index"])
    top = res.latents[res.latents.kind == S.selected_kind("variance")]
    assert len(top) == 4 and top.variance.min() >= res.latents[res.latents.kind == S.KIND].variance.min()
    assert (res.latents.frequency >= res.config.min_frequency).all()
    widths = res.alphas.set_index("code").width
    assert widths["neurons"] == 128 and 0 < widths["sae latents"] <= 256  # latents alive on the eval tokens
    assert widths["sae latents"] == round((1 - res.sae_stats.dead_fraction.item()) * 256)
    assert res.alphas.window_lo.nunique() == 1 and res.alphas.window_hi.nunique() == 1
    t = res.tradeoff
    assert t.sparsity.tolist() == [4, 8] and np.allclose(t.l0, [4, 8]) and (t.fvu < 1).all()
    assert {"fvu", "l0", "dead_fraction", "fvu_pca_same_l0"} <= set(t.columns)
    # the SAE of the sweep at the scored k is the scored SAE itself
    assert np.isclose(t.fvu[t.sparsity == 8].item(), res.sae_stats.fvu.item())
    summary = res.table("token lookup", pool_layers=True)
    assert S.KIND in set(summary.kind) and "diff_vs_neuron" in summary
    claims = res.claims()
    assert len(claims) == 5 and all(c["verdict"] in ("holds", "partly", "does not hold at this scale") for c in claims)
    assert all(c["why"] == "" if c["verdict"] == "holds" else c["why"] for c in claims)
    res.plot()


@pytest.mark.slow
def test_run_is_deterministic_and_projection_traces_have_both_signs(tiny_run):
    res, lm, docs, c = tiny_run
    again = S.run(c, lm=lm, documents=docs)
    pd.testing.assert_frame_equal(res.scores.drop(columns=["top_window"]), again.scores.drop(columns=["top_window"]))
    proj = S.run(S.SAELanguageConfig(**{**c.__dict__, "trace": "projection", "sweep": (8,)}), lm=lm, documents=docs)
    assert set(proj.scores[proj.scores.kind == S.KIND].sign) == {1, -1}


def test_latent_claims_state_how_the_latents_were_picked():
    s = _scores({"neuron": 0.3, "random": 0.25, "sae latent": 0.6})
    plain = R.latent_claims(s, n_boot=200)
    picked = R.latent_claims(s, n_boot=200, pick="variance")
    assert "selected" not in plain[0]["measured"]
    assert "largest activation variance" in picked[0]["measured"] and "a selected set" in picked[0]["measured"]
    assert "unselected" in R.latent_claims(s, n_boot=200, pick="random")[1]["measured"]
    assert [c["verdict"] for c in picked] == [c["verdict"] for c in plain]  # the text, not the rule, changes
    with pytest.raises(ValueError, match="pick"):
        R.latent_claims(s, n_boot=200, pick="best")


SEL = "sae latent by variance"


def test_selection_claim_holds_for_better_selected_latents_and_fails_its_nulls():
    hi = R.selection_claim(_scores({"sae latent": 0.4, SEL: 0.6}), SEL, n_boot=200)
    assert hi["verdict"] == "holds" and hi["why"] == "" and "random sample" in hi["measured"]
    # null: the selected set scores like the random sample
    same = R.selection_claim(_scores({"sae latent": 0.5, SEL: 0.5}), SEL, n_boot=200)
    assert same["verdict"] == "partly" and "not significantly" in same["why"]
    # null: the selected latents sit at the window-shuffled control
    flat = R.selection_claim(_scores({"sae latent": 0.4, SEL: 0.05}), SEL, n_boot=200)
    assert flat["verdict"] == "does not hold at this scale" and "window-shuffled" in flat["why"]
    with pytest.raises(ValueError, match="also_pick"):
        R.selection_claim(_scores({"sae latent": 0.4}), SEL, n_boot=200)
