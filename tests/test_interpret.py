"""Tests of polycode_lite.experiments.pseudo_neurons: 0-10 scale, pooled correlation scoring, simulators, directions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from polycode_lite.experiments.explanation_scoring import (
    ActivationRecord,
    BigramSimulator,
    LinearProbeSimulator,
    PromptSimulator,
    Simulator,
    TokenLookupSimulator,
    correlation_score,
    expected_value_from_logprobs,
    normalize_activations,
    score_simulation,
)
from polycode_lite.experiments.pseudo_neurons import (
    compare_kinds,
    direction_traces,
    make_directions,
    make_records,
    path_action,
    random_unit_directions,
    run_comparison,
    select_min_action,
)


def rec(tokens, acts, ids=None):
    ids = np.arange(len(tokens)) if ids is None else np.asarray(ids)
    return ActivationRecord(tuple(tokens), ids, np.asarray(acts, dtype=float))


# -- scale and score --------------------------------------------------------------------------
def test_normalize_activations_matches_openai_rule():
    got = normalize_activations([-1.0, 0.0, 0.05, 0.5, 0.99, 1.0, 2.0], 1.0)
    np.testing.assert_array_equal(got, [0, 0, 0, 5, 9, 10, 10])
    np.testing.assert_array_equal(normalize_activations([1.0, -2.0], 0.0), [0, 0])


def test_correlation_score_hand_computed():
    # t = [1,2,3], p = [1,3,2]: centred [-1,0,1] and [-1,1,0] -> 1 / sqrt(2*2) = 0.5
    assert correlation_score([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(correlation_score([1, 2, 3], [4, 4, 4]))
    with pytest.raises(ValueError, match="length"):
        correlation_score([1, 2], [1, 2, 3])


def test_scores_are_pooled_over_records_not_averaged():
    # per record: corr +1 and corr -1 (mean 0); pooled t=[0,1,2,3], p=[0,1,3,2]:
    # centred t = [-1.5,-.5,.5,1.5], p = [-1.5,-.5,1.5,.5] -> 4.0 / 5.0 = 0.8
    records = [rec("ab", [0, 1]), rec("cd", [2, 3])]
    assert score_simulation(records, [[0, 1], [3, 2]]) == pytest.approx(0.8)


def test_expected_value_from_logprobs():
    lp = {"3": math.log(0.5), " 5": math.log(0.25), "cat": math.log(0.25)}
    assert expected_value_from_logprobs(lp) == pytest.approx((2 * 3 + 5) / 3)
    assert expected_value_from_logprobs({"x": 0.0}) == 0.0


# -- simulators ---------------------------------------------------------------------------------
def _cat_records(n=6, seed=0):
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "dog", "sat", "on", "mat"]
    out = []
    for _ in range(n):
        toks = list(rng.choice(words, 20))
        acts = [3.0 if t == "cat" else 0.1 * rng.standard_normal() for t in toks]
        out.append(rec(toks, acts, [words.index(t) for t in toks]))
    return out


def test_token_lookup_simulator_explains_a_token_detector():
    sim = TokenLookupSimulator()
    expl = sim.explain(_cat_records(seed=0))
    assert expl.text.startswith("tokens: 'cat'")
    assert sim.score(expl, _cat_records(seed=1)) > 0.95


def test_bigram_simulator_uses_the_previous_token():
    rng = np.random.default_rng(0)

    def records(seed):
        r = np.random.default_rng(seed)
        out = []
        for _ in range(8):
            toks = list(r.choice(["the", "a", "cat"], 24))
            acts = [2.0 if (t == "cat" and i and toks[i - 1] == "the") else 0.0 for i, t in enumerate(toks)]
            out.append(rec(toks, acts))
        return out

    train, test = records(1), records(2)
    uni, big = TokenLookupSimulator(), BigramSimulator()
    s_uni = uni.score(uni.explain(train), test)
    s_big = big.score(big.explain(train), test)
    assert s_big > 0.99 and s_big > s_uni + 0.2
    assert "'the'→'cat'" in big.explain(train).text
    del rng


def test_linear_probe_simulator_recovers_a_linear_readout():
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((50, 8))
    w = rng.standard_normal(8)

    def records(seed):
        r = np.random.default_rng(seed)
        out = []
        for _ in range(10):
            ids = r.integers(0, 50, 30)
            out.append(rec([str(i) for i in ids], np.maximum(emb[ids] @ w, 0), ids))
        return out

    sim = LinearProbeSimulator(emb, ridge=1.0, use_previous=False)
    assert sim.score(sim.explain(records(1)), records(2)) > 0.85


def test_simulator_interface_with_a_fake_llm():
    prompts = {}

    def complete(prompt):
        prompts["explain"] = prompt
        return " the word cat"

    def token_logprobs(prompt, tokens):
        prompts["simulate"] = prompt
        return [{"10": 0.0} if "cat" in t else {"0": -0.1, "1": -2.5} for t in tokens]

    sim = PromptSimulator(complete, token_logprobs)
    assert isinstance(sim, Simulator)
    train = _cat_records(seed=0)
    expl = sim.explain(train)
    assert expl.text == "the word cat"
    assert "cat\t10" in prompts["explain"] and "the main thing this neuron does is find" in prompts["explain"]
    score = sim.score(expl, _cat_records(seed=3))
    assert "cat\tunknown" in prompts["simulate"] and "the word cat" in prompts["simulate"]
    assert score > 0.95

    def broken(prompt, tokens):
        return [{"0": 0.0}]

    with pytest.raises(ValueError, match="positions"):
        PromptSimulator(complete, broken).simulate(expl, ["a", "b"])


# -- directions and records ----------------------------------------------------------------------
def test_path_action_and_min_action_selection():
    t = np.linspace(0, 4 * np.pi, 64)
    rng = np.random.default_rng(0)
    smooth = np.sin(t)[None, :, None].repeat(5, 0)
    noise = rng.standard_normal((5, 64, 3))
    traces = np.concatenate([noise[:, :, :1], smooth, noise[:, :, 1:]], axis=2)  # candidate 1 is smooth
    act = path_action(traces)
    assert act[1] == pytest.approx(1 - np.cos(t[1]), rel=0.05) and np.all(act[[0, 2, 3]] > 0.5)
    cands = np.eye(4)
    pick, pick_act, _ = select_min_action(cands, traces, 1)
    assert list(pick) == [1] and pick_act[0] == act[1]
    with pytest.raises(ValueError):
        select_min_action(cands, traces, 5)


def test_make_directions_and_random_units():
    dirs, cands = make_directions(40, n_neurons=5, n_random=3, n_min_action=2, pool_size=4, seed=0)
    kinds = [d.kind for d in dirs]
    assert kinds.count("neuron") == 5 and kinds.count("random") == 6  # random: both signs
    assert cands.shape == (8, 40)
    np.testing.assert_allclose(np.linalg.norm(random_unit_directions(40, 7, seed=1), axis=1), 1.0)
    with pytest.raises(ValueError, match="exceeds"):
        make_directions(4, n_neurons=5)


def test_make_records_splits_top_and_random():
    rng = np.random.default_rng(0)
    trace = rng.standard_normal((30, 10))
    trace[np.arange(30), 0] = np.arange(30)  # window i has max activation i
    ids = rng.integers(0, 100, (30, 10))
    rs = make_records(trace, ids, lambda x: [str(i) for i in x], n_top=6, n_random=4, seed=0)
    tops = [r.activations.max() for r in rs.explain_top + rs.score_top]
    assert sorted(tops, reverse=True) == [29, 28, 27, 26, 25, 24]
    assert [r.activations.max() for r in rs.explain_top] == [29, 27, 25]
    assert len(rs.explain_random) == len(rs.score_random) == 2
    assert all(r.activations.max() < 24 for r in rs.explain_random + rs.score_random)
    assert rs.max_activation == 29
    with pytest.raises(ValueError, match="too few"):
        make_records(trace, ids, str, n_top=20, n_random=20)


def test_compare_kinds_bootstrap_and_nan_handling():
    import pandas as pd

    df = pd.DataFrame(dict(hook="h", simulator="s", kind=["neuron"] * 5 + ["random"] * 4,
                           score=[0.5, 0.6, 0.7, 0.6, np.nan, 0.1, 0.2, 0.1, 0.2]))
    out = compare_kinds(df, n_boot=200, seed=0).set_index("kind")
    assert out.loc["neuron", "mean"] == pytest.approx(0.48) and out.loc["neuron", "n_nan"] == 1
    assert out.loc["random", "diff_vs_neuron"] == pytest.approx(0.15 - 0.48)
    assert out.loc["random", "diff_ci_high"] < 0


def test_compare_kinds_counts_plus_and_minus_r_as_one_direction():
    """+r and −r are one pseudo-neuron: duplicating every row with the other sign must not
    narrow the CI (treating signed rows as independent would, by √2)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    v = rng.normal(0.5, 0.1, 30)
    one = pd.DataFrame(dict(hook="h", simulator="s", kind="random", index=np.arange(30), sign=1, score=v))
    both = pd.concat([one, one.assign(sign=-1)], ignore_index=True)
    a = compare_kinds(one, n_boot=4000, seed=1).iloc[0]
    b = compare_kinds(both, n_boot=4000, seed=1).iloc[0]
    assert b["n"] == 30 and b["n_rows"] == 60 and b["mean"] == pytest.approx(a["mean"])
    assert (b.ci_high - b.ci_low) == pytest.approx(a.ci_high - a.ci_low, rel=0.1)
    naive = compare_kinds(both.assign(index=np.arange(60)), n_boot=4000, seed=1).iloc[0]
    assert (naive.ci_high - naive.ci_low) < 0.8 * (b.ci_high - b.ci_low)
    # pooled over layers, index 0 of two layers are two directions, not one
    two = pd.concat([one, one.assign(hook="g")], ignore_index=True)
    assert compare_kinds(two, n_boot=100, pool_layers=True).iloc[0]["n"] == 60


def test_run_comparison_end_to_end_on_tiny_gpt2(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import GPT2Config, GPT2Model

    from polycode_lite.data.corpus import load_documents, make_windows
    from polycode_lite.models.language_models import load_language_model

    torch.manual_seed(0)
    GPT2Model(GPT2Config(vocab_size=50257, n_positions=32, n_embd=16, n_layer=1, n_head=2,
                         bos_token_id=50256, eos_token_id=50256)).save_pretrained(tmp_path)
    lm = load_language_model(str(tmp_path), device="cpu")
    windows = make_windows(lm, load_documents("pydoc", max_documents=6), window=32, max_windows=40)
    hooks = ["blocks.0.mlp.post"]
    df = run_comparison(lm, windows, hooks, n_neurons=3, n_random=2, n_min_action=2, pool_size=4,
                          n_top=10, n_records_random=10, progress=False)
    assert set(df.kind) == {"neuron", "random", "best-of-N", "min-action"}
    assert set(df.simulator) == {"token lookup", "bigram", "linear probe"}
    assert len(df) == 3 * (3 + 2 * 2 + 2 * 2 + 2 * 2)
    # the window-shuffled control is scored for the first simulator only, by default
    assert df[df.simulator == "token lookup"].score_shuffled.notna().all()
    assert df[df.simulator != "token lookup"].score_shuffled.isna().all()
    # exact minimum-action directions are smoother than the best of 4 random ones
    acts = df.groupby("kind").action.mean()
    assert acts["min-action"] < acts["best-of-N"] <= acts["random"] + 1e-9
    ok = df.score.dropna()
    assert ((ok >= -1) & (ok <= 1)).all() and len(ok) > len(df) // 2
    # each row carries its top-activating window on the 0-10 scale, peaking at 10
    for window in df.top_window:
        values = [v for _, v in window]
        assert len(window) == 32 - 4 and max(values) == 10 and min(values) >= 0
        assert all(isinstance(t, str) for t, _ in window)
    # directions are traced from the real hook: a neuron's trace equals the hooked activation
    from polycode_lite.models.hooks import record_activations

    tr = direction_traces(lm, windows.subset(slice(0, 4)), {hooks[0]: np.eye(64)[:2]}, drop_first=4)[hooks[0]]
    acts = record_activations(lm.model, {"input_ids": torch.as_tensor(windows.input_ids[:4])},
                              lm.modules(hooks))[hooks[0]]
    np.testing.assert_allclose(tr, acts[:, 4:, :2].numpy(), rtol=1e-5, atol=1e-6)
    summary = compare_kinds(df, n_boot=50)
    assert {"mean", "ci_low", "ci_high", "diff_vs_neuron"} <= set(summary.columns)
