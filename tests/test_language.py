"""Tests of polycode_lite.experiments.language_depth: offline loading, hook names, windows, streaming covariances, alpha."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from polycode_lite.data.corpus import load_documents, make_windows, pydoc_documents
from polycode_lite.experiments.covariance_collection import (
    GroupedCovariances,
    accumulator_bytes,
    assign_groups,
    collect_covariances,
    peak_memory_estimate,
    window_features,
)
from polycode_lite.experiments.language_depth import CONTROL_SUFFIX, cli_main, layer_alpha, layer_alphas
from polycode_lite.models.hooks import record_activations  # noqa: E402
from polycode_lite.models.language_models import (
    EMBEDDED_MODEL,
    ModelNotAvailableError,
    embedded_model_dir,
    load_gpt2_tokenizer,
    load_language_model,
    parse_layers,
    random_init_like,
)
from polycode_lite.science.covariance import CovarianceAccumulator
from polycode_lite.science.powerlaw import powerlaw_gaussian  # noqa: E402

transformers.utils.logging.disable_progress_bar()
transformers.utils.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def tiny_gpt2_dir(tmp_path_factory):
    """A tiny randomly initialised GPT-2 saved like a user's folder (weights only, no tokenizer)."""
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50257, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=50256, eos_token_id=50256)
    model = GPT2Model(cfg).eval()
    path = tmp_path_factory.mktemp("tiny_gpt2")
    model.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module")
def tiny_lm(tiny_gpt2_dir):
    return load_language_model(str(tiny_gpt2_dir[0]), device="cpu")


@pytest.fixture(scope="module")
def tiny_windows(tiny_lm):
    docs = load_documents("pydoc", max_documents=12, seed=1)
    return make_windows(tiny_lm, docs, window=32, max_windows=60, seed=0)


@pytest.fixture(scope="module")
def tiny_bert_lm(tmp_path_factory):
    """A tiny BERT with MiniLM's tokenizer files, saved and loaded through the user path."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=48, max_position_embeddings=64)
    path = tmp_path_factory.mktemp("tiny_bert")
    BertModel(cfg).save_pretrained(path)
    src = embedded_model_dir(verify=False)
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / f, path / f)
    return load_language_model(str(path), device="cpu")


# -- loading -------------------------------------------------------------------------------
def test_gpt2_tokenizer_from_shipped_bpe_files():
    tok = load_gpt2_tokenizer()
    assert tok("Hello world!")["input_ids"] == [15496, 995, 0]
    assert len(tok) == 50257 and tok.eos_token_id == 50256


def test_tiny_gpt2_roundtrip_through_user_path(tiny_gpt2_dir, tiny_lm):
    _, original = tiny_gpt2_dir
    assert tiny_lm.arch == "gpt2" and tiny_lm.source == "local folder"
    assert (tiny_lm.n_layers, tiny_lm.d_model, tiny_lm.d_mlp) == (2, 32, 128)
    loaded = tiny_lm.model.state_dict()
    for k, v in original.state_dict().items():
        assert torch.equal(v, loaded[k]), k
    # the folder had no tokenizer files: the shipped GPT-2 BPE files were used
    assert tiny_lm.tokenizer("Hello world!")["input_ids"] == [15496, 995, 0]


def test_offline_missing_model_fails_fast_with_instructions():
    with pytest.raises(ModelNotAvailableError, match="huggingface-cli download gpt2-xl"):
        load_language_model("gpt2-xl", online=False)
    with pytest.raises(ModelNotAvailableError, match="no such model folder"):
        load_language_model("./does/not/exist")


def test_offline_fallback_loads_embedded_minilm_with_one_line(capsys):
    lm = load_language_model("gpt2-xl", online=False, allow_fallback=True, device="cpu")
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 1 and "gpt2-xl" in lines[0] and EMBEDDED_MODEL in lines[0]
    assert lm.source == "embedded" and lm.arch == "bert"
    assert (lm.n_layers, lm.d_model, lm.d_mlp) == (6, 384, 1536)
    assert lm.module_path("blocks.5.mlp.post") == "encoder.layer.5.intermediate"


def test_embedded_checksum_is_verified(monkeypatch):
    assert embedded_model_dir().name == "model"
    from polycode_lite.models import language_models

    monkeypatch.setattr(language_models, "MINILM_SHA256", "0" * 64)
    with pytest.raises(ModelNotAvailableError, match="sha256"):
        embedded_model_dir()


def test_unsupported_architecture_is_a_clear_error(tmp_path):
    from transformers import OPTConfig, OPTModel

    OPTModel(OPTConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, ffn_dim=32,
                       num_attention_heads=2, word_embed_proj_dim=16)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="not supported"):
        load_language_model(str(tmp_path))


# -- hook names ------------------------------------------------------------------------------
def test_layer_name_mapping_gpt2_and_bert(tiny_lm, tiny_bert_lm):
    assert tiny_lm.module_path("blocks.1.mlp.post") == "h.1.mlp.act"
    assert tiny_lm.module_path("blocks.0.resid_post") == "h.0"
    assert tiny_lm.module_path("blocks.0.attn.out") == "h.0.attn"
    assert tiny_bert_lm.module_path("blocks.1.mlp.post") == "encoder.layer.1.intermediate"
    assert tiny_bert_lm.module_path("blocks.0.resid_post") == "encoder.layer.0"
    assert tiny_lm.hook_names(["mlp.post"]) == ["blocks.0.mlp.post", "blocks.1.mlp.post"]
    with pytest.raises(ValueError, match="bad hook name"):
        tiny_lm.module_path("h.0.mlp.act")
    with pytest.raises(ValueError, match="out of range"):
        tiny_lm.module_path("blocks.7.mlp.post")


@pytest.mark.parametrize("which", ["gpt2", "bert"])
def test_hook_shapes(which, tiny_lm, tiny_bert_lm):
    lm = tiny_lm if which == "gpt2" else tiny_bert_lm
    hooks = lm.hook_names(["mlp.post", "resid_post", "mlp.out", "attn.out"], [1])
    ids = torch.randint(1000, 2000, (3, 10))
    acts = record_activations(lm.model, {"input_ids": ids}, lm.modules(hooks))
    for h in hooks:
        assert tuple(acts[h].shape) == (3, 10, lm.width(h)), h
    # resid_post of the last GPT-2 block is the residual stream before the final LayerNorm
    if which == "gpt2":
        out = lm.model(ids, output_hidden_states=True)
        assert not torch.allclose(acts["blocks.1.resid_post"], out.hidden_states[-1])
        assert torch.allclose(lm.model.ln_f(acts["blocks.1.resid_post"]), out.hidden_states[-1], atol=1e-5)


def test_parse_layers():
    assert parse_layers("all", 4) == [0, 1, 2, 3]
    assert parse_layers("0-47:16", 48) == [0, 16, 32]
    assert parse_layers("1,3,-1", 6) == [1, 3, 5]
    with pytest.raises(ValueError, match="out of range"):
        parse_layers("9", 6)


# -- corpus ------------------------------------------------------------------------------------
def test_pydoc_corpus_and_windows(tiny_lm, tiny_bert_lm):
    docs = pydoc_documents()
    assert len(docs) >= 60 and sum(len(d.text) for d in docs) > 300_000
    w = make_windows(tiny_lm, docs[:5], window=64)
    assert w.input_ids.shape[1] == 64 and w.input_ids.dtype == np.int64
    assert set(np.unique(w.doc_ids)) <= set(range(5)) and w.n_prefix == w.n_suffix == 0
    wb = make_windows(tiny_bert_lm, docs[:5], window=64)
    assert (wb.input_ids[:, 0] == 101).all() and (wb.input_ids[:, -1] == 102).all()
    with pytest.raises(ValueError, match="window"):
        make_windows(tiny_bert_lm, docs[:1], window=3)


def test_user_text_files(tmp_path, tiny_lm):
    (tmp_path / "a.txt").write_text("The cat sat on the mat. " * 40)
    (tmp_path / "b.md").write_text("Dogs bark at night. " * 40)
    docs = load_documents(tmp_path)
    assert [d.name for d in docs] == ["a.txt", "b.md"]
    assert make_windows(tiny_lm, docs, window=16).n_documents == 2
    with pytest.raises(ValueError, match="neither"):
        load_documents(tmp_path / "missing.txt")


# -- streaming covariances -------------------------------------------------------------------
def _direct(lm, windows, hook, drop_first):
    acts = record_activations(lm.model, {"input_ids": torch.as_tensor(windows.input_ids)}, lm.modules([hook]))
    x = window_features(drop_first, windows.n_suffix)(acts[hook]).double().numpy()
    return x


def test_streaming_covariance_equals_direct(tiny_lm, tiny_windows):
    hooks = tiny_lm.hook_names()
    g = collect_covariances(tiny_lm, tiny_windows, hooks, drop_first=4, n_groups=3, batch_size=7,
                              progress=False)
    assert g.n_groups == 3
    for h in hooks:
        x = _direct(tiny_lm, tiny_windows, h, 4)
        total = g.total(h)
        assert total.n == x.shape[0] == len(tiny_windows) * 28
        np.testing.assert_allclose(total.covariance(), np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(total.mean, x.mean(0), rtol=1e-9, atol=1e-12)
    # a bootstrap replicate equals the direct covariance of the duplicated documents
    groups = assign_groups(tiny_windows, 3, seed=0)
    h = hooks[0]
    x = _direct(tiny_lm, tiny_windows, h, 4)
    rows = np.repeat(groups, 28)
    dup = np.concatenate([x[rows == 0], x[rows == 0], x[rows == 2]])
    np.testing.assert_allclose(g.resample(h, [2, 0, 1]).covariance(), np.cov(dup, rowvar=False),
                               rtol=1e-9, atol=1e-12)


def test_groups_keep_documents_together(tiny_windows):
    groups = assign_groups(tiny_windows, 4, seed=3)
    for d in np.unique(tiny_windows.doc_ids):
        assert np.unique(groups[tiny_windows.doc_ids == d]).size == 1
    assert np.unique(groups).size == 4


def test_checkpoints_make_collection_resumable(tiny_lm, tiny_windows, tmp_path, monkeypatch):
    hooks = tiny_lm.hook_names(["mlp.post"])
    first = collect_covariances(tiny_lm, tiny_windows, hooks, n_groups=2, checkpoint_dir=tmp_path,
                                  progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["group_000.safetensors", "group_001.safetensors"]
    from polycode_lite.models import hooks as acts_mod

    def boom(*a, **k):
        raise AssertionError("a finished group was recomputed")

    monkeypatch.setattr(acts_mod, "accumulate_covariances", boom)
    again = collect_covariances(tiny_lm, tiny_windows, hooks, n_groups=2, checkpoint_dir=tmp_path,
                                  progress=False)
    np.testing.assert_allclose(again.total(hooks[0]).covariance(), first.total(hooks[0]).covariance())
    # different settings do not reuse the saved state
    with pytest.raises(AssertionError, match="recomputed"):
        collect_covariances(tiny_lm, tiny_windows, hooks, n_groups=2, drop_first=5,
                              checkpoint_dir=tmp_path, progress=False)


def _same_sum_windows(windows):
    """The same windows with two tokens of the first window swapped: equal id sum and shape."""
    from polycode_lite.data.corpus import TokenWindows

    ids = windows.input_ids.copy()
    row = ids[0]
    j = next(j for j in range(5, row.size) if row[j] != row[4])  # past drop_first
    row[[4, j]] = row[[j, 4]]
    assert ids.sum() == windows.input_ids.sum() and not np.array_equal(ids, windows.input_ids)
    return TokenWindows(ids, windows.doc_ids.copy(), windows.doc_names, windows.n_prefix,
                        windows.n_suffix)


def test_windows_fingerprint_is_a_hash_not_an_id_sum(tiny_windows):
    from polycode_lite.data.corpus import TokenWindows
    from polycode_lite.experiments.covariance_collection import _windows_fingerprint

    fp = _windows_fingerprint(tiny_windows)
    assert fp == _windows_fingerprint(tiny_windows.subset(np.arange(len(tiny_windows))))
    assert len(fp) == 64  # sha256 hex digest
    assert _windows_fingerprint(_same_sum_windows(tiny_windows)) != fp
    # the same ids in another shape are other windows
    flat = tiny_windows.input_ids
    a = TokenWindows(flat[:2].reshape(1, -1), np.zeros(1, np.int64), ("d",))
    b = TokenWindows(flat[:2].copy(), np.zeros(2, np.int64), ("d",))
    assert a.input_ids.sum() == b.input_ids.sum()
    assert _windows_fingerprint(a) != _windows_fingerprint(b)


def test_checkpoints_of_other_windows_with_the_same_id_sum_are_rejected(
        tiny_lm, tiny_windows, tmp_path, monkeypatch):
    hooks = tiny_lm.hook_names(["mlp.post"])
    collect_covariances(tiny_lm, tiny_windows, hooks, n_groups=2, checkpoint_dir=tmp_path,
                        progress=False)
    from polycode_lite.models import hooks as acts_mod

    def boom(*a, **k):
        raise AssertionError("a finished group was recomputed")

    monkeypatch.setattr(acts_mod, "accumulate_covariances", boom)
    with pytest.warns(UserWarning, match="differing: windows"), \
            pytest.raises(AssertionError, match="recomputed"):
        collect_covariances(tiny_lm, _same_sum_windows(tiny_windows), hooks, n_groups=2,
                            checkpoint_dir=tmp_path, progress=False)
    # a checkpoint of the old layout (an id-sum fingerprint, no sha256) is not trusted
    import safetensors.torch as st

    path = tmp_path / "group_000.safetensors"
    tensors = st.load_file(str(path))
    old = {"ids": int(tiny_windows.input_ids.sum() % 1_000_003), "model": tiny_lm.name}
    st.save_file(tensors, str(path), metadata={"fingerprint": json.dumps(old, sort_keys=True)})
    with pytest.warns(UserWarning, match=r"group_000.*not a state file of format"), \
            pytest.raises(AssertionError, match="recomputed"):
        collect_covariances(tiny_lm, tiny_windows, hooks, n_groups=2, checkpoint_dir=tmp_path,
                            progress=False)


def test_drop_first_validation(tiny_lm, tiny_windows):
    with pytest.raises(ValueError, match="removes every position"):
        collect_covariances(tiny_lm, tiny_windows, tiny_lm.hook_names(["mlp.post"]), drop_first=32,
                              progress=False)


# -- alpha -----------------------------------------------------------------------------------
def _grouped_from(x, n_groups):
    accs = [CovarianceAccumulator(x.shape[1]).update(part) for part in np.array_split(x, n_groups)]
    return GroupedCovariances({"blocks.0.mlp.post": accs}, [1] * n_groups, drop_first=0)


def test_layer_alpha_recovers_known_exponent():
    x = powerlaw_gaussian(8_000, 160, alpha=1.0, seed=0)
    s = layer_alpha(_grouped_from(x, 10), "blocks.0.mlp.post", n_boot=30, seed=0)
    assert s.estimator == "plain"  # 8000 >= 10 * 160
    assert abs(s.alpha - 1.0) < 0.06
    assert s.ci[0] < s.alpha < s.ci[1] and s.ci[1] - s.ci[0] < 0.2
    assert "document groups" in s.ci_method and s.boot_alphas.size >= 25
    assert 1 < s.participation_ratio < 160


def test_layer_alpha_applies_finite_sample_correction_when_few_tokens():
    x = powerlaw_gaussian(500, 160, alpha=1.0, seed=1)
    s = layer_alpha(_grouped_from(x, 6), "blocks.0.mlp.post", n_boot=12, seed=0)
    assert s.estimator == "corrected" and s.fit.method == "simulation-matched"
    assert abs(s.alpha - 1.0) < abs(s.fit.alpha_plain - 1.0) + 0.02


def test_random_init_like_is_the_same_architecture_with_seeded_fresh_weights(tiny_lm):
    state = torch.random.get_rng_state()
    a, b, c = random_init_like(tiny_lm, seed=0), random_init_like(tiny_lm, seed=0), random_init_like(tiny_lm, seed=1)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    assert a.source == "random init" and "seed 0" in a.name and a.tokenizer is tiny_lm.tokenizer
    assert (a.n_layers, a.d_model, a.d_mlp) == (tiny_lm.n_layers, tiny_lm.d_model, tiny_lm.d_mlp)
    pa, pb, pc, pt = (dict(m.model.named_parameters()) for m in (a, b, c, tiny_lm))
    assert pa.keys() == pt.keys()
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not torch.equal(pa["h.0.mlp.c_fc.weight"], pc["h.0.mlp.c_fc.weight"])
    # the fixture is itself GPT2Model(cfg) built after torch.manual_seed(0): Hugging Face's own init
    assert all(torch.equal(pa[k], pt[k]) for k in pa)
    with pytest.raises(ValueError, match="seed must be an integer"):
        random_init_like(tiny_lm, seed=0.5)


def _grouped_alpha(alpha, seed, n_groups=5):
    x = powerlaw_gaussian(4_000, 120, alpha=alpha, seed=seed)
    accs = [CovarianceAccumulator(x.shape[1]).update(part) for part in np.array_split(x, n_groups)]
    return accs


def test_layer_alphas_fits_the_control_in_the_same_window():
    trained = GroupedCovariances({"blocks.0.mlp.post": _grouped_alpha(1.0, 0),
                                  "blocks.1.mlp.post": _grouped_alpha(1.4, 1)}, [1] * 5, drop_first=0)
    control = GroupedCovariances({"blocks.0.mlp.post": _grouped_alpha(1.2, 2),
                                  "blocks.1.mlp.post": _grouped_alpha(1.2, 3)}, [1] * 5, drop_first=0)
    table = layer_alphas(trained, n_boot=20, seed=0, progress=False, control=control).table()
    assert table.model.tolist() == ["trained", "trained", "untrained", "untrained"]
    assert table.site.tolist()[2] == "blocks.0.mlp.post" + CONTROL_SUFFIX
    assert table.window_lo.nunique() == 1 and table.window_hi.nunique() == 1
    t, u = table[table.model == "trained"], table[table.model == "untrained"]
    assert abs(t.alpha.iloc[1] - t.alpha.iloc[0] - 0.4) < 0.1 and abs(u.alpha.iloc[1] - u.alpha.iloc[0]) < 0.1
    only = layer_alphas(trained, n_boot=0, progress=False, control=GroupedCovariances(
        {"blocks.1.mlp.post": control.groups["blocks.1.mlp.post"]}, [1] * 5, drop_first=0)).table()
    assert only.model.tolist() == ["trained", "trained", "untrained"]
    with pytest.raises(ValueError, match="control has no accumulators"):
        layer_alphas(GroupedCovariances({"blocks.2.mlp.post": _grouped_alpha(1.0, 4)}, [1] * 5, drop_first=0),
                     control=control, progress=False)


def test_memory_formula_matches_accumulators(tiny_lm, tiny_windows):
    hooks = tiny_lm.hook_names()
    g = collect_covariances(tiny_lm, tiny_windows, hooks, n_groups=1, progress=False)
    actual = sum(a._m2.element_size() * (a._m2.numel() + a._mean.numel()) for accs in g.groups.values()
                 for a in accs)
    assert actual == accumulator_bytes([tiny_lm.width(h) for h in hooks])
    xl = peak_memory_estimate(1_557_611_200, [6400] * 48 + [1600] * 48, 16 * 64, 1600, 48)
    assert 15e9 < xl["accumulators"] < 18e9  # "48 x 6400^2 float64 is about 16 GB"


# -- command line ------------------------------------------------------------------------------
def test_cli_runs_and_resumes(tiny_gpt2_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--model", str(tiny_gpt2_dir[0]), "--layers", "all", "--tokens", "3200", "--window", "32",
            "--groups", "4", "--n-boot", "10", "--out", str(out), "--device", "cpu", "--no-progress"]
    assert cli_main(argv) == 0
    import pandas as pd

    table = pd.read_csv(out / "alpha_by_layer.csv")
    assert list(table.hook) == ["blocks.0.mlp.post", "blocks.0.resid_post", "blocks.1.mlp.post",
                                "blocks.1.resid_post"]
    assert np.isfinite(table.alpha).all() and (table.n_tokens == 100 * 28).all()
    assert not (out / "partial" / "layers_0-1").exists()
    before = json.loads((out / "spectra" / "blocks.0.mlp.post.json").read_text())
    assert cli_main(argv) == 0  # a rerun reuses finished layers
    assert json.loads((out / "spectra" / "blocks.0.mlp.post.json").read_text()) == before
    assert "alpha_by_layer.csv" in capsys.readouterr().out


def test_a_finished_group_is_moved_to_host_memory_exactly():
    """collect_covariances keeps one group on the device: finished ones are exact CPU copies."""
    import torch

    from polycode_lite.experiments.covariance_collection import _to_host
    from polycode_lite.science.covariance import CovarianceAccumulator

    acc = CovarianceAccumulator(5).update(np.random.default_rng(0).normal(size=(40, 5)))
    assert _to_host(acc) is acc  # already on the CPU: no copy
    acc.device = torch.device("cuda")  # as a GPU accumulator reports itself (its tensors stay here)
    host = _to_host(acc)
    assert host is not acc and host.device.type == "cpu" and host.n == acc.n
    assert torch.equal(host.covariance_tensor(), acc.covariance_tensor())


@pytest.mark.parametrize(("flag", "online"), [([], None), (["--online"], True)])
def test_language_spectra_goes_online_only_when_asked(flag, online, tmp_path, monkeypatch):
    from polycode_lite import cli
    from polycode_lite.experiments import language_depth

    seen = {}

    def fake_load(name, **kw):
        seen.update(kw)
        raise ValueError("stopped after the load call")

    monkeypatch.setattr(language_depth, "load_language_model", fake_load)
    assert cli.main(["language-spectra", "--model", "gpt2-xl", *flag, "--out", str(tmp_path / "o")]) == 2
    assert seen["online"] is online
