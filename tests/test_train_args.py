"""train-autoencoder refuses every bad setting before any work, and stops on a diverged loss."""

from pathlib import Path

import pytest

from polycode_lite._common import NonFiniteLossError, limit_threads
from polycode_lite.cli import main
from polycode_lite.experiments.train_config import TrainConfig, dropout_label, run_name

TINY = ["--widths", "4", "8", "8", "8", "--latent-dim", "4", "--n-train", "64", "--n-test", "32",
        "--batch-size", "32", "--epochs", "1", "--threads", "1", "--no-progress"]

BAD = [
    (["--n-train", "0"], "--n-train"),
    (["--n-train", "-5"], "--n-train"),
    (["--n-test", "0"], "--n-test"),
    (["--dropout", "0", "1.5"], "--dropout"),
    (["--dropout", "0", "1"], "--dropout"),
    (["--dropout", "nan"], "--dropout"),
    (["--dropout", "0.2", "0.2"], "--dropout"),
    (["--latent-dim", "0"], "--latent-dim"),
    (["--n-train", "32", "--batch-size", "64"], "--n-train"),
    (["--batch-size", "1"], "--batch-size"),
    (["--epochs", "0"], "--epochs"),
    (["--lr", "0"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--lr=-1e-3"], "--lr"),
    (["--widths", "4", "0", "8", "8"], "--widths"),
    (["--num-workers", "-1"], "--num-workers"),
    (["--seed", "-1"], "--seed"),
    (["--config", "paper", "--widths", "4", "8", "8", "8"], "--widths"),
    (["--dataset", "cifar10"], "--data-root"),
    (["--dataset", "cifar10", "--data-root", "/nonexistent/cifar"], "--data-root"),
    (["--device", "gpu"], "device"),
    (["--device", "cuda:7"], "device"),
]


@pytest.mark.parametrize(("extra", "named"), BAD, ids=[" ".join(e) for e, _ in BAD])
def test_a_bad_setting_exits_2_naming_it_before_any_work(extra, named, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["train-autoencoder", *TINY, *extra, "--out", str(out)])
    err = capsys.readouterr().err
    err = err.splitlines()[-1] + "\n" if err.startswith("usage:") else err  # argparse's own errors
    assert code == 2, err
    assert named in err and "Traceback" not in err and err.count("\n") == 1, err
    assert not out.exists(), "nothing may be written before the settings are checked"


def test_the_good_settings_pass_the_same_checks(tmp_path):
    """The null of the table above: its base settings are accepted (so no row passes vacuously)."""
    import argparse

    from polycode_lite.cli import build_parser
    from polycode_lite.experiments.train import configs_from_args

    args = build_parser("train-autoencoder").parse_args(
        ["train-autoencoder", *TINY, "--dropout", "0", "0.25", "--out", str(tmp_path)])
    assert isinstance(args, argparse.Namespace)
    cfgs = configs_from_args(args)
    assert [run_name(c) for c in cfgs] == ["lite_shapes_p0.0", "lite_shapes_p0.25"]


def test_run_names_of_distinct_rates_differ():
    assert dropout_label(0.4) == "0.4" and dropout_label(0.0) == "0.0"
    assert dropout_label(0.2) != dropout_label(0.25) == "0.25"
    with pytest.raises(ValueError, match=r"dropout \(--dropout\)"):
        TrainConfig(dropout=1.0)


def test_a_diverging_loss_stops_training_before_it_is_saved(tmp_path):
    from polycode_lite.experiments.train import train_autoencoder

    cfg = TrainConfig(epochs=2, n_train=64, n_test=32, batch_size=32, widths=(4, 8, 8, 8),
                      latent_dim=4, lr=1e30)
    with limit_threads(1), pytest.raises(NonFiniteLossError, match="Lower --lr"):
        train_autoencoder(cfg, tmp_path, progress=False)
    run_dir = tmp_path / "_train" / run_name(cfg)
    assert not list(run_dir.glob("checkpoint*")), "a diverged epoch must not be checkpointed"
    assert not list(Path(tmp_path).glob("*.safetensors"))
