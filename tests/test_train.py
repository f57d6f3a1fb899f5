"""Training CLI: checkpoints (safetensors + JSON + sha256), resume after a kill, CIFAR loader."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from polycode_lite._common import limit_threads
from polycode_lite.experiments.train import TrainConfig, cli_main, train_autoencoder
from polycode_lite.models.checkpoints import (
    load_autoencoder,
    load_checkpoint,
    verify_manifest,
    write_manifest,
)

REPO = Path(__file__).resolve().parent.parent
TINY_ARGS = ["--widths", "4", "8", "8", "8", "--latent-dim", "4", "--n-train", "64",
             "--n-test", "32", "--batch-size", "32", "--threads", "1", "--no-progress"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """2 CPU threads thrash on a busy 2-core machine; restore the setting afterwards."""
    with limit_threads(1):
        yield


def tiny_cfg(**kw) -> TrainConfig:
    base = {"epochs": 1, "n_train": 64, "n_test": 32, "batch_size": 32, "widths": (4, 8, 8, 8), "latent_dim": 4}
    base.update(kw)
    return TrainConfig(**base)


def test_checkpoint_round_trip_and_sha256(tmp_path):
    meta = train_autoencoder(tiny_cfg(dropout=0.2), tmp_path, progress=False)
    assert meta["epoch"] == 1 and len(meta["history"]) == 1
    for key in ("model_config", "train_config", "seed", "package_version", "baseline_mean_image"):
        assert key in meta
    exported = tmp_path / "lite_shapes_p0.2.safetensors"
    model, saved = load_autoencoder(exported)
    assert saved["dropout"] == 0.2 and saved["dataset"] == "shapes"
    assert not model.training
    # the training checkpoint and the float32 export hold the same weights
    from polycode_lite.models.resnet_vae import ResNetAutoencoder

    from polycode_lite.experiments.train import load_images, recalibrate_for_eval

    ref = ResNetAutoencoder(model.config, dropout=0.2, seed=None)
    load_checkpoint(tmp_path / "_train" / "lite_shapes_p0.2", ref)
    # the export = the checkpoint's weights with BatchNorm statistics re-estimated with dropout off
    assert set(meta["bn_recalibration"]) >= {"test_bce_before", "test_bce_after", "images"}
    moved = [k for k, a in model.state_dict().items() if "running" in k and not torch.equal(a, ref.state_dict()[k])]
    assert moved, "the export should carry re-estimated BatchNorm statistics"
    cfg = tiny_cfg(dropout=0.2)
    recalibrate_for_eval(ref, load_images(cfg, "train"), load_images(cfg, "test"), cfg)
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), k
    # manifest + sha256 checks catch a modified file
    write_manifest(tmp_path, [exported, exported.with_suffix(".json")], "cmd")
    assert verify_manifest(tmp_path)["command"] == "cmd"
    data = bytearray(exported.read_bytes())
    data[-1] ^= 0xFF
    exported.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256 mismatch"):
        load_autoencoder(exported)
    with pytest.raises(ValueError, match="sha256 mismatch"):
        verify_manifest(tmp_path)


def test_float16_export_is_close_and_config_change_is_refused(tmp_path):
    cli_main(["--dropout", "0", "--epochs", "1", "--out", str(tmp_path), "--save-dtype", "float16",
              *TINY_ARGS])
    model16, meta = load_autoencoder(tmp_path / "lite_shapes_p0.0.safetensors")
    assert meta["save_dtype"] == "float16"
    assert json.loads((tmp_path / "MANIFEST.json").read_text())["command"].startswith(
        "polycode-lite train-autoencoder")
    from polycode_lite.models.resnet_vae import ResNetAutoencoder

    from polycode_lite.experiments.train import load_images, recalibrate_for_eval

    ref = ResNetAutoencoder(model16.config, dropout=0.0, seed=None)
    load_checkpoint(tmp_path / "_train" / "lite_shapes_p0.0", ref)
    cfg = tiny_cfg(dropout=0.0)
    recalibrate_for_eval(ref, load_images(cfg, "train"), load_images(cfg, "test"), cfg)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model16(x)[0], ref(x)[0], atol=2e-2)
    # same output folder, different settings: refuse instead of mixing runs
    with pytest.raises(ValueError, match="different configuration"):
        train_autoencoder(tiny_cfg(lr=5e-4, epochs=2), tmp_path, progress=False)


def _wait_for_epoch(path: Path, epoch: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if path.exists():
            try:
                if json.loads(path.read_text())["epoch"] >= epoch:
                    return
            except (json.JSONDecodeError, KeyError):
                pass
        if proc.poll() is not None:
            raise AssertionError(f"training exited early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared in time")


def test_resume_after_kill_loses_no_finished_epoch(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "polycode_lite.cli", "train-autoencoder", "--dropout", "0.4",
           "--epochs", "2", "--out", str(out), *TINY_ARGS]
    env = dict(os.environ, POLYCODE_TRAIN_STEP_DELAY="1.0")  # each epoch takes >= 2 s
    ckpt = out / "_train" / "lite_shapes_p0.4" / "checkpoint.json"
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_epoch(ckpt, 1, proc)
        time.sleep(0.3)  # now inside epoch 2's first (delayed) step
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed = json.loads(ckpt.read_text())
    assert killed["epoch"] == 1
    assert not (out / "lite_shapes_p0.4.safetensors").exists()

    env.pop("POLYCODE_TRAIN_STEP_DELAY")
    res = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "resuming after epoch 1" in res.stdout
    final = json.loads(ckpt.read_text())
    assert [h["epoch"] for h in final["history"]] == [1, 2]
    assert final["history"][0] == killed["history"][0]  # the finished epoch was kept as is
    assert (out / "lite_shapes_p0.4.safetensors").exists()

    # the resumed run matches an uninterrupted one (per-epoch seeds, restored Adam state)
    ref = train_autoencoder(tiny_cfg(dropout=0.4, epochs=2), tmp_path / "ref", progress=False)
    for a, b in zip(final["history"], ref["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert a["test_bce"] == pytest.approx(b["test_bce"], rel=1e-3)


# -------------------------------------------------------------------------------------------
# CIFAR-10 loader on a fake folder in the real (pickled batch) format
# -------------------------------------------------------------------------------------------
def write_fake_cifar(root: Path, per_batch: int = 3) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {"batch_label": name, "labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "filenames": [f"img{i}.png" for i in range(per_batch)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                            "horse", "ship", "truck"], "num_cases_per_batch": per_batch,
            "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)


def test_cifar10_loader_on_fake_files(tmp_path):
    from polycode_lite.data.cifar10 import cifar10

    write_fake_cifar(tmp_path)
    with pytest.warns(UserWarning, match="differ from the published archive"):
        train = cifar10(tmp_path, train=True, image_size=32)
    with pytest.warns(UserWarning, match="restricted unpickler"):
        test = cifar10(tmp_path, train=False, image_size=64)
    assert len(train) == 15 and len(test) == 3
    img, label = train[0]
    assert img.shape == (3, 32, 32) and img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    assert 0 <= label < 10
    # the pixels are the pickled bytes / 255 (CIFAR stores channel-major rows of 1024)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f)["data"][0]
    assert torch.allclose(img, torch.from_numpy(raw.reshape(3, 32, 32) / 255.0).float())
    assert test[0][0].shape == (3, 64, 64)


class _RunsCode:
    """Unpickling this object calls os.system: what a crafted data_batch_1 would do."""

    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_a_crafted_cifar10_pickle_is_refused_without_running(tmp_path, monkeypatch):
    from polycode_lite.data.cifar10 import cifar10, read_batch

    write_fake_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({"data": _RunsCode(), "labels": [1]}, f, protocol=2)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"refused to load posix\.system|refused to load os\.system"):
        read_batch(folder / "data_batch_1")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="data_batch_1 is not a readable CIFAR-10 batch"):
        cifar10(tmp_path, train=True, image_size=32)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()
    # the null: plain pickle.load runs it (so the test would catch a loader that used it)
    with open(folder / "data_batch_1", "rb") as f:
        pickle.load(f)
    assert (tmp_path / "PWNED_BY_PICKLE").exists()


def test_cifar10_checksums_are_the_published_ones():
    from torchvision.datasets import CIFAR10

    from polycode_lite.data.cifar10 import PUBLISHED_MD5

    published = dict(CIFAR10.train_list + CIFAR10.test_list) | {CIFAR10.meta["filename"]: CIFAR10.meta["md5"]}
    assert PUBLISHED_MD5 == published


def test_cifar10_missing_data_message(tmp_path):
    from polycode_lite.data.cifar10 import cifar10

    with pytest.raises(FileNotFoundError, match="download=True"):
        cifar10(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="data_root"):
        train_autoencoder(TrainConfig(dataset="cifar10"), tmp_path, progress=False)


# -------------------------------------------------------------------------------------------
# crash-safe checkpoints: a crash at each write step of a save loses no finished epoch
# -------------------------------------------------------------------------------------------
class _Crash(RuntimeError):
    pass


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_while_saving_loses_no_finished_epoch(tmp_path, monkeypatch, crash_at):
    """Epoch 2's save is 3 renames (weights, version json, pointer): crash before the
    ``crash_at``-th one (its temporary file written, possibly truncated), then resume."""
    reference = train_autoencoder(tiny_cfg(epochs=2, dropout=0.2), tmp_path / "ref", progress=False)
    real_replace, calls = os.replace, []

    def crashing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3 + crash_at:  # epoch 1's save made 3 renames
            Path(src).write_bytes(Path(src).read_bytes()[:50])  # the write was cut short too
            raise _Crash(f"killed before renaming onto {dst}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(_Crash):
        train_autoencoder(tiny_cfg(epochs=2, dropout=0.2), tmp_path / "run", progress=False)
    monkeypatch.setattr(os, "replace", real_replace)
    run_dir = tmp_path / "run" / "_train" / "lite_shapes_p0.2"
    assert json.loads((run_dir / "checkpoint.json").read_text())["epoch"] == 1  # epoch 1 kept whole
    resumed = train_autoencoder(tiny_cfg(epochs=2, dropout=0.2), tmp_path / "run", progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert resumed["history"][1]["test_bce"] == pytest.approx(reference["history"][1]["test_bce"], rel=1e-5)
    a = load_autoencoder(tmp_path / "ref" / "lite_shapes_p0.2.safetensors")[0].state_dict()
    b = load_autoencoder(tmp_path / "run" / "lite_shapes_p0.2.safetensors")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    from polycode_lite.models.checkpoints import KEEP_CHECKPOINTS
    from polycode_lite.models.resnet_vae import ResNetAutoencoder

    train_autoencoder(tiny_cfg(epochs=3, dropout=0.0), tmp_path, progress=False)
    run_dir = tmp_path / "_train" / "lite_shapes_p0.0"
    versions = sorted(p.name for p in run_dir.glob("checkpoint-*.safetensors"))
    assert versions == ["checkpoint-00002.safetensors", "checkpoint-00003.safetensors"] and KEEP_CHECKPOINTS == 2
    newest = run_dir / versions[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    newest.write_bytes(bytes(data))
    model = ResNetAutoencoder(load_autoencoder(tmp_path / "lite_shapes_p0.0.safetensors")[0].config, dropout=0.0)
    with pytest.warns(UserWarning, match="failed its check.*epoch 2"):
        meta = load_checkpoint(run_dir, model)
    assert meta["epoch"] == 2
    (run_dir / versions[0]).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="no checkpoint .* passes its sha256 check"):
        load_checkpoint(run_dir, model)
