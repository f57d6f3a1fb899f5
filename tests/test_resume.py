"""Resumable state of ``language-spectra`` and ``dropout-experiments`` (issue 16): a crashed run
resumes to bitwise the uninterrupted result; every kind of saved file that is damaged is detected
and recomputed; a changed setting is not reused; every bad argument exits 2 naming the option
before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from polycode_lite import cli  # noqa: E402
from polycode_lite.experiments import language_depth  # noqa: E402
from polycode_lite.experiments.resume_files import (  # noqa: E402
    ResumeWarning,
    load_tensors,
    read_record,
    save_tensors,
    write_record,
)
from polycode_lite.models import hooks as hooks_mod  # noqa: E402

transformers.utils.logging.set_verbosity_error()


# -- the file helpers ----------------------------------------------------------------------------
def test_record_roundtrip_and_its_checks(tmp_path):
    path = tmp_path / "r.json"
    payload = {"alpha": np.float64(1.25), "n": np.int64(3), "ok": np.bool_(True), "v": [0.1, float("nan")]}
    back = write_record(path, payload, {"tokens": 10})
    assert back == json.loads(json.dumps(back)) and type(back["ok"]) is bool and type(back["n"]) is int
    assert json.dumps(read_record(path, {"tokens": 10})) == json.dumps(back)  # null: good file reused
    with pytest.warns(ResumeWarning, match="differing: tokens"):
        assert read_record(path, {"tokens": 11}) is None
    text = path.read_text()
    path.write_text(text.replace("1.25", "1.35"))
    with pytest.warns(ResumeWarning, match="does not match its sha256"):
        assert read_record(path, {"tokens": 10}) is None
    path.write_text(text[: len(text) // 2])
    with pytest.warns(ResumeWarning, match="unreadable"):
        assert read_record(path, {"tokens": 10}) is None
    assert read_record(tmp_path / "missing.json", {}) is None  # missing: silently None


def test_tensor_file_keeps_dtype_and_checks(tmp_path):
    path = tmp_path / "t.safetensors"
    t = {"a": torch.arange(6, dtype=torch.float64).reshape(2, 3) / 3, "n": torch.tensor([5])}
    save_tensors(path, t, {"s": 1}, extra={"h": [1, 2]})
    got, extra = load_tensors(path, {"s": 1})
    assert got["a"].dtype == torch.float64 and torch.equal(got["a"], t["a"]) and extra == {"h": [1, 2]}
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.warns(ResumeWarning, match="sha256"):
        assert load_tensors(path, {"s": 1}) is None
    path.write_bytes(bytes(raw[:40]))
    with pytest.warns(ResumeWarning, match="unreadable"):
        assert load_tensors(path, {"s": 1}) is None
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporary file


# -- language-spectra ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50257, n_positions=64, n_embd=16, n_layer=2, n_head=2,
                     bos_token_id=50256, eos_token_id=50256)
    path = tmp_path_factory.mktemp("tiny_gpt2_resume")
    GPT2Model(cfg).eval().save_pretrained(path)
    return str(path)


def _argv(model_dir, out, *extra):
    return ["language-spectra", "--model", model_dir, "--layers", "1", "--tokens", "640", "--window", "32",
            "--groups", "2", "--n-boot", "4", "--device", "cpu", "--no-progress", "--out", str(out), *extra]


class Counter:
    """Wrap a function, count its calls, and raise on call number ``fail_at`` (a simulated crash)."""

    def __init__(self, fn, fail_at=None):
        self.fn, self.fail_at, self.calls = fn, fail_at, 0

    def __call__(self, *a, **k):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise RuntimeError("simulated crash")
        return self.fn(*a, **k)


def _count(monkeypatch, fail_collect=None, fail_fit=None):
    collect = Counter(hooks_mod.accumulate_covariances, fail_collect)
    fit = Counter(language_depth.layer_alpha, fail_fit)
    monkeypatch.setattr(hooks_mod, "accumulate_covariances", collect)
    monkeypatch.setattr(language_depth, "layer_alpha", fit)
    return collect, fit


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert cli.main(_argv(tiny_model_dir, out)) == 0
    return out


def _assert_same_as(reference, out):
    assert (out / "alpha_by_layer.csv").read_bytes() == (reference / "alpha_by_layer.csv").read_bytes()
    for npz in (reference / "spectra").glob("*.npz"):
        a, b = np.load(npz), np.load(out / "spectra" / npz.name)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), (npz.name, k)


def test_crash_mid_collection_resumes_bitwise(tiny_model_dir, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    _count(monkeypatch, fail_collect=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.main(_argv(tiny_model_dir, out))
    saved = out / "partial" / "layers_1-1" / "group_000.safetensors"
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
    from safetensors import safe_open

    with safe_open(str(saved), framework="pt") as f:  # the accumulator's float64, not a lossy float32 copy
        assert {f.get_tensor(k).dtype for k in f.keys() if not k.endswith("/n")} == {torch.float64}
    collect, fit = _count(monkeypatch)
    assert cli.main(_argv(tiny_model_dir, out)) == 0
    assert collect.calls == 1 and fit.calls == 2  # group 0 reused
    _assert_same_as(reference, out)


def test_crash_between_hook_fits_resumes_bitwise(tiny_model_dir, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    _count(monkeypatch, fail_fit=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.main(_argv(tiny_model_dir, out))
    collect, fit = _count(monkeypatch)
    assert cli.main(_argv(tiny_model_dir, out)) == 0
    assert collect.calls == 0 and fit.calls == 1  # both groups and the first hook reused
    _assert_same_as(reference, out)


@pytest.mark.parametrize("step", [2, 4, 5, 8], ids=["group file", "npz", "hook json", "csv"])
def test_crash_inside_a_write_leaves_nothing_half_written(step, tiny_model_dir, reference, tmp_path, monkeypatch):
    """Renames of one run: run.json, group_000, group_001, then npz and json per hook, then the csv.
    A crash at the rename of step ``step`` leaves no temporary file and no damaged file behind."""
    from polycode_lite import _common

    out = tmp_path / "run"
    monkeypatch.setattr(_common, "atomic_replace", Counter(_common.atomic_replace, fail_at=step))
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.main(_argv(tiny_model_dir, out))
    assert not list(out.rglob("*.tmp"))
    monkeypatch.undo()
    assert cli.main(_argv(tiny_model_dir, out)) == 0
    _assert_same_as(reference, out)


def _damage(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "flip":
        raw[len(raw) - 10 if path.suffix != ".json" else len(raw) // 2] ^= 0x01
    else:
        raw = raw[: len(raw) // 2]
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["flip", "truncate"])
@pytest.mark.parametrize("kind", ["partial", "spectra_json", "spectra_npz"])
def test_damaged_file_is_detected_and_recomputed(kind, how, tiny_model_dir, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    if kind == "partial":  # a run that crashed after collecting both groups
        _count(monkeypatch, fail_fit=1)
        with pytest.raises(RuntimeError):
            cli.main(_argv(tiny_model_dir, out))
        target = out / "partial" / "layers_1-1" / "group_001.safetensors"
    else:
        shutil.copytree(reference, out)
        target = out / "spectra" / ("blocks.1.mlp.post" + (".json" if kind == "spectra_json" else ".npz"))
    _damage(target, how)
    collect, fit = _count(monkeypatch)
    with pytest.warns(ResumeWarning, match=target.name.replace(".", r"\.")):
        assert cli.main(_argv(tiny_model_dir, out)) == 0
    if kind == "partial":
        assert collect.calls == 1 and fit.calls == 2  # only the damaged group
    else:
        assert collect.calls == 2 and fit.calls == 1  # only the damaged hook (its groups collected again)
    _assert_same_as(reference, out)
    collect, fit = _count(monkeypatch)
    assert cli.main(_argv(tiny_model_dir, out)) == 0  # and the repaired file is trusted again
    assert collect.calls == fit.calls == 0


def test_damaged_run_json_is_rewritten_and_results_checked_one_by_one(tiny_model_dir, reference, tmp_path,
                                                                      monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    _damage(out / "run.json", "truncate")
    collect, fit = _count(monkeypatch)
    with pytest.warns(ResumeWarning, match="run.json is unreadable"):
        assert cli.main(_argv(tiny_model_dir, out)) == 0
    assert collect.calls == fit.calls == 0
    assert json.loads((out / "run.json").read_text())["settings"]["tokens"] == 640


def test_changed_setting_is_refused_and_same_settings_reused(tiny_model_dir, reference, tmp_path, monkeypatch,
                                                             capsys):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    collect, fit = _count(monkeypatch)
    argv = _argv(tiny_model_dir, out)
    argv[argv.index("--tokens") + 1] = "1280"
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--tokens 640 there, 1280 now" in err and "another --out" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # null: the same settings (and a setting that only selects hooks) reuse everything
    assert cli.main(_argv(tiny_model_dir, out, "--layers-per-pass", "1", "--sites", "mlp.post")) == 0
    assert collect.calls == fit.calls == 0


def test_result_of_other_settings_is_recomputed_without_run_json(tiny_model_dir, reference, tmp_path,
                                                                 monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    (out / "run.json").unlink()
    collect, fit = _count(monkeypatch)
    with pytest.warns(ResumeWarning, match="differing: n_boot"):
        assert cli.main(_argv(tiny_model_dir, out)[:-2] + ["--n-boot", "5", "--out", str(out)]) == 0
    assert collect.calls == fit.calls == 2
    assert json.loads((out / "run.json").read_text())["settings"]["n_boot"] == 5


BAD_LANGUAGE_ARGS = [
    (["--tokens", "-100"], "--tokens"), (["--tokens", "0"], "--tokens"), (["--layers", "5-2"], "--layers"),
    (["--layers", "0-47:0"], "--layers"), (["--layers", "one"], "--layers"), (["--batch-size", "0"], "--batch-size"),
    (["--window", "0"], "--window"), (["--drop-first", "32"], "--drop-first"), (["--drop-first", "-1"], "--drop-first"),
    (["--groups", "0"], "--groups"), (["--groups", "1"], "--groups"), (["--n-boot", "0"], "--n-boot"),
    (["--layers-per-pass", "-1"], "--layers-per-pass"), (["--sites", "mlp.pre"], "--sites"),
    (["--dtype", "float8"], "--dtype"), (["--acc-dtype", "float16"], "--acc-dtype"),
    (["--corpus", "/no/such/corpus"], "--corpus"), (["--seed", "-1"], "--seed"),
    (["--device", "nonsense"], "--device"),
]


@pytest.mark.parametrize(("extra", "option"), BAD_LANGUAGE_ARGS, ids=[" ".join(e) for e, _ in BAD_LANGUAGE_ARGS])
def test_bad_language_argument_exits_2_before_any_work(extra, option, tiny_model_dir, tmp_path, monkeypatch,
                                                       capsys):
    def no_work(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(language_depth, "load_language_model", no_work)
    monkeypatch.setattr(language_depth, "load_documents", no_work)
    out = tmp_path / "run"
    assert cli.main(_argv(tiny_model_dir, out, *extra)) == 2
    err = capsys.readouterr().err
    assert option in err and "error:" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_device_without_cuda_is_refused(tiny_model_dir, tmp_path, capsys):
    assert cli.main(_argv(tiny_model_dir, tmp_path / "run", "--device", "cuda")) == 2
    assert "--device cuda: CUDA is not available" in capsys.readouterr().err


def test_checkpoint_dtype_option_is_gone(tiny_model_dir, tmp_path):
    """Partial state is always saved in the accumulator's dtype (a float32 copy made resumes inexact)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(_argv(tiny_model_dir, tmp_path / "run", "--checkpoint-dtype", "float32"))
    assert exc.value.code == 2


def test_good_arguments_pass_the_checks(tiny_model_dir, tmp_path, monkeypatch):
    """Null of the table above: the same command with good values reaches the model load."""
    def stop(*a, **k):
        raise RuntimeError("reached the model load")

    monkeypatch.setattr(language_depth, "load_language_model", stop)
    with pytest.raises(RuntimeError, match="reached the model load"):
        cli.main(_argv(tiny_model_dir, tmp_path / "run", "--layers", "0-1:1,-1", "--drop-first", "0"))


@pytest.mark.parametrize(("extra", "option"), [(["--layers", "2"], "--layers"), (["--layers", "0,-3"], "--layers"),
                                               (["--window", "65"], "--window")])
def test_argument_beyond_the_model_is_refused_before_the_corpus(extra, option, tiny_model_dir, tmp_path,
                                                                monkeypatch, capsys):
    def no_corpus(*a, **k):
        raise AssertionError("the corpus was loaded")

    monkeypatch.setattr(language_depth, "load_documents", no_corpus)
    assert cli.main(_argv(tiny_model_dir, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert option in err and ("has 2 layers" in err or "64 positions" in err)


# -- dropout-experiments -------------------------------------------------------------------------
from polycode_lite.experiments import alpha_vs_dropout, dropout_runs, mi_depth  # noqa: E402
from polycode_lite.experiments.alpha_vs_dropout import AlphaSweepConfig, run_alpha_sweep  # noqa: E402
from polycode_lite.experiments.mi_depth import (  # noqa: E402
    DepthExperimentConfig,
    IdentityTraining,
    run_depth_experiment,
)
from polycode_lite.experiments.resume_files import canonical_json  # noqa: E402
from polycode_lite.models.deep_dropout import DeepNetConfig  # noqa: E402
from polycode_lite.science.mine import MINEConfig  # noqa: E402

DEPTH = DepthExperimentConfig(net=DeepNetConfig(n_dense=4, width=8), training=IdentityTraining(n_samples=1000, epochs=1),
                              layers=(1, 6), n_mi_samples=400, mine=MINEConfig(steps=20, batch_size=64, eval_every=10),
                              trials=2)
ALPHA = AlphaSweepConfig(dropouts=(0.0, 0.5), widths=(16, 16), n_train=200, n_eval=150, epochs=1, batch_size=64,
                         seeds=(0,), n_boot=3, n_repeats=2)


def _same_depth(a, b):
    assert canonical_json(a.rows) == canonical_json(b.rows)
    assert canonical_json(a.history) == canonical_json(b.history)


@pytest.fixture(scope="module")
def depth_reference(tmp_path_factory):
    return run_depth_experiment(DEPTH, progress=False, resume_dir=tmp_path_factory.mktemp("depth_ref"))


def _count_depth(monkeypatch, fail_mine=None, fail_train=None):
    mine = Counter(mi_depth._mine_with_rerun, fail_mine)
    train = Counter(mi_depth.train_identity, fail_train)
    monkeypatch.setattr(mi_depth, "_mine_with_rerun", mine)
    monkeypatch.setattr(mi_depth, "train_identity", train)
    return mine, train


def test_depth_units_do_not_change_the_numbers(depth_reference):
    """Null of the resume: a run without a store gives the same rows and histories."""
    _same_depth(run_depth_experiment(DEPTH, progress=False), depth_reference)


@pytest.mark.parametrize("fail_train", [None, 2])
def test_depth_crash_then_resume_is_bitwise(fail_train, depth_reference, tmp_path, monkeypatch):
    fail_mine = 5 if fail_train is None else None  # mid-way through the trials, or while training a net
    _count_depth(monkeypatch, fail_mine=fail_mine, fail_train=fail_train)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_depth_experiment(DEPTH, progress=False, resume_dir=tmp_path)
    mine, train = _count_depth(monkeypatch)
    res = run_depth_experiment(DEPTH, progress=False, resume_dir=tmp_path)
    n_units = len(DEPTH.models) * DEPTH.trials * len(DEPTH.layers)
    assert (train.calls, mine.calls) == ((0, n_units - 4) if fail_train is None else (1, n_units))
    _same_depth(res, depth_reference)


@pytest.mark.parametrize("how", ["flip", "truncate"])
@pytest.mark.parametrize("unit", ["net_trained.safetensors", "mi_trained_trial=1_layer=6.json"])
def test_depth_damaged_unit_is_recomputed(unit, how, depth_reference, tmp_path, monkeypatch):
    run_depth_experiment(DEPTH, progress=False, resume_dir=tmp_path)
    _damage(tmp_path / unit, how)
    mine, train = _count_depth(monkeypatch)
    with pytest.warns(ResumeWarning, match=unit.replace(".", r"\.")):
        res = run_depth_experiment(DEPTH, progress=False, resume_dir=tmp_path)
    assert (train.calls, mine.calls) == ((1, 0) if unit.startswith("net") else (0, 1))
    _same_depth(res, depth_reference)


def test_depth_units_of_other_settings_are_not_reused(tmp_path, monkeypatch):
    from dataclasses import replace

    small = replace(DEPTH, layers=(6,), trials=1, models=("trained",))
    run_depth_experiment(small, progress=False, resume_dir=tmp_path)
    mine, train = _count_depth(monkeypatch)
    run_depth_experiment(small, progress=False, resume_dir=tmp_path)
    assert mine.calls == train.calls == 0  # null: same settings, everything reused
    with pytest.warns(ResumeWarning, match="differing: config"):
        run_depth_experiment(replace(small, n_mi_samples=500), progress=False, resume_dir=tmp_path)
    assert train.calls == 1 and mine.calls == 1


def test_alpha_sweep_crash_then_resume_is_bitwise(tmp_path, monkeypatch):
    ref = run_alpha_sweep(ALPHA, progress=False, resume_dir=tmp_path / "ref")
    assert canonical_json(run_alpha_sweep(ALPHA, progress=False).to_dict("records")) == \
        canonical_json(ref.to_dict("records"))  # null: the units do not change the numbers
    fit = Counter(alpha_vs_dropout.alpha_by_layer, fail_at=2)
    monkeypatch.setattr(alpha_vs_dropout, "alpha_by_layer", fit)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_alpha_sweep(ALPHA, progress=False, resume_dir=tmp_path / "run")
    _damage(tmp_path / "run" / "net_dropout=0.5_seed=0.safetensors", "truncate")
    fit = Counter(alpha_vs_dropout.alpha_by_layer)
    train = Counter(alpha_vs_dropout.train_shapes_mlp)
    monkeypatch.setattr(alpha_vs_dropout, "alpha_by_layer", fit)
    monkeypatch.setattr(alpha_vs_dropout, "train_shapes_mlp", train)
    with pytest.warns(ResumeWarning, match="net_dropout=0.5"):
        df = run_alpha_sweep(ALPHA, progress=False, resume_dir=tmp_path / "run")
    assert train.calls == 1 and fit.calls == 1  # the damaged net retrained; the first α unit reused
    assert canonical_json(df.to_dict("records")) == canonical_json(ref.to_dict("records"))
    assert df.equals(ref)


def _patch_presets(monkeypatch):
    monkeypatch.setattr(DepthExperimentConfig, "fast", classmethod(lambda cls: DEPTH))
    monkeypatch.setattr(DepthExperimentConfig, "cpu", classmethod(lambda cls: DEPTH.__class__(
        **{**DEPTH.__dict__, "trials": 1})))


def test_cli_depth_resumes_in_parts_folder_and_refuses_other_settings(depth_reference, tmp_path, monkeypatch,
                                                                      capsys):
    _patch_presets(monkeypatch)
    out = tmp_path / "depth.json"
    argv = ["dropout-experiments", "depth", "--preset", "fast", "--no-progress", "--out", str(out)]
    _count_depth(monkeypatch, fail_mine=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.main(argv)
    parts = dropout_runs.parts_folder(out)
    assert parts.is_dir() and not out.exists()
    capsys.readouterr()
    mine, train = _count_depth(monkeypatch)
    assert cli.main(argv[:3] + ["cpu"] + argv[4:]) == 2  # another preset into the same --out
    err = capsys.readouterr().err
    assert "--preset fast" in err and "differs in config" in err and "delete" in err
    assert mine.calls == train.calls == 0
    assert cli.main(argv) == 0
    assert train.calls == 0 and mine.calls == len(DEPTH.models) * DEPTH.trials * len(DEPTH.layers) - 2
    _same_depth(mi_depth.DepthResult.from_json(out), depth_reference)
    assert not parts.exists()


BAD_DROPOUT_ARGS = [
    (["depth", "--preset", "full"], "--preset"), (["alpha", "--preset", "cpu"], "--preset"),
    (["depth", "--out", "result.txt"], "--out"), (["alpha", "--out", "folder.json"], "--out"),
]


@pytest.mark.parametrize(("extra", "option"), BAD_DROPOUT_ARGS, ids=[" ".join(e) for e, _ in BAD_DROPOUT_ARGS])
def test_bad_dropout_argument_exits_2_before_any_work(extra, option, tmp_path, monkeypatch, capsys):
    def no_work(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(mi_depth, "run_depth_experiment", no_work)
    monkeypatch.setattr(alpha_vs_dropout, "run_alpha_sweep", no_work)
    (tmp_path / "folder.json").mkdir()
    argv = ["dropout-experiments", *extra]
    if "--out" not in argv:
        argv += ["--out", "x.json"]
    argv[argv.index("--out") + 1] = str(tmp_path / argv[argv.index("--out") + 1])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.json"]  # nothing written


def test_truncated_depth_result_names_the_file(tmp_path):
    path = tmp_path / "depth.json"
    path.write_text('{"rows": [')
    with pytest.raises(ValueError, match="depth.json is not a depth result"):
        mi_depth.DepthResult.from_json(path)


def test_truncated_shipped_sweep_names_the_file_and_the_command(tmp_path, monkeypatch):
    for name in ("alpha_full.json", "MANIFEST.json"):
        shutil.copy(alpha_vs_dropout.DATA_DIR / name, tmp_path / name)
    monkeypatch.setattr(alpha_vs_dropout, "DATA_DIR", tmp_path)
    assert len(alpha_vs_dropout.load_shipped("alpha_full"))  # null: the intact file loads
    _damage(tmp_path / "alpha_full.json", "truncate")
    with pytest.raises(ValueError, match=r"(?s)alpha_full\.json.*dropout-experiments alpha"):
        alpha_vs_dropout.load_shipped("alpha_full")
    # a file that passes its sha256 but is not a sweep (a manifest re-recorded by mistake)
    from polycode_lite.data.integrity import update_manifest

    update_manifest(tmp_path, ["alpha_full.json"])
    with pytest.raises(ValueError, match="alpha_full.json is not a readable sweep result.*dropout-experiments alpha"):
        alpha_vs_dropout.load_shipped("alpha_full")
