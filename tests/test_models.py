"""ResNetAutoencoder: both presets build, dropout follows every ReLU use, shapes and loss."""

import math

import pytest
import torch
from torch import nn

from polycode_lite.models.resnet_vae import (
    ANALYSIS_LAYERS,
    AutoencoderConfig,
    ResNetAutoencoder,
    count_dropout_after_relu_uses,
    get_config,
    insert_dropout_after_relu,
    vae_loss,
)

TINY = AutoencoderConfig(name="tiny", image_size=16, widths=(4, 8, 8, 8), fc_hidden=16,
                         latent_dim=6, decoder_channels=(8, 4, 4, 3))


def _relu_calls_without_dropout(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """Count ReLU calls in the encoder and how many of them are followed by a Dropout."""
    return count_dropout_after_relu_uses(model.encoder, x)


@pytest.mark.parametrize("name,size", [("lite", 32), ("paper", 224)])
def test_presets_build_with_dropout_after_every_relu_use(name, size):
    model = ResNetAutoencoder(name, dropout=0.3)
    cfg = model.config
    assert cfg.image_size == size
    # stem ReLU + one shared ReLU module per BasicBlock (8 blocks), each replaced once
    assert model.n_dropout_modules == 9
    # the encoder is fully convolutional: a 32×32 probe is enough to count the ReLU calls
    relu_calls, followed = _relu_calls_without_dropout(model, torch.rand(2, 3, 32, 32))
    # 1 stem use + 2 uses per block × 8 blocks = 17 ReLU calls, every one followed by dropout
    assert relu_calls == 17
    assert followed == relu_calls
    drops = [m for m in model.encoder.modules() if isinstance(m, nn.Dropout)]
    assert drops and all(math.isclose(d.p, 0.3) for d in drops)
    names = dict(model.named_modules())
    for layer in ANALYSIS_LAYERS:
        assert layer in names, layer


def test_paper_preset_is_torchvision_resnet18_with_authors_sizes():
    from torchvision.models import ResNet

    model = ResNetAutoencoder("paper", dropout=0.0)
    assert isinstance(model.encoder, ResNet)
    assert model.fc1[0].in_features == 512 and model.fc1[0].out_features == 1024
    assert model.fc2[0].out_features == 1024
    assert model.mu.out_features == 256 and model.logvar.out_features == 256
    assert model.fc5[0].out_features == 64 * 4 * 4
    assert math.isclose(model.fc1[1].momentum, 0.01)


def test_lite_preset_has_cifar_stem_without_maxpool():
    model = ResNetAutoencoder("lite")
    assert model.encoder.conv1.kernel_size == (3, 3) and model.encoder.conv1.stride == (1, 1)
    assert isinstance(model.encoder.maxpool, nn.Identity)
    # layer1 keeps the full 32×32 resolution
    out = {}
    def keep(module, inputs, output):
        out["l1"] = tuple(output.shape)

    h = model.encoder.layer1.register_forward_hook(keep)
    model.eval()
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 32))
    h.remove()
    assert out["l1"] == (2, 16, 32, 32)


def test_insert_dropout_counts_shared_module_once_and_rejects_bad_rate():
    block = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Sequential(nn.ReLU()))
    assert insert_dropout_after_relu(block, 0.5) == 2
    assert isinstance(block[1], nn.Sequential) and isinstance(block[1][1], nn.Dropout)
    with pytest.raises(ValueError, match="dropout rate"):
        insert_dropout_after_relu(nn.Sequential(nn.ReLU()), 1.0)


@pytest.mark.parametrize("variational", [True, False])
def test_forward_and_loss_shapes(variational):
    model = ResNetAutoencoder(TINY, dropout=0.2, variational=variational)
    x = torch.rand(4, 3, 16, 16)
    model.train()
    recon, mu, logvar, z = model(x)
    assert recon.shape == x.shape
    assert float(recon.detach().min()) >= 0 and float(recon.detach().max()) <= 1
    assert mu.shape == (4, 6) and z.shape == (4, 6)
    assert (logvar is None) != variational
    parts = vae_loss(recon, x, mu, logvar)
    assert set(parts) == {"loss", "bce", "kl"}
    assert all(v.ndim == 0 for v in parts.values())
    if not variational:
        assert float(parts["kl"]) == 0.0
    parts["loss"].backward()
    # eval mode: z is the mean, deterministic
    model.eval()
    with torch.no_grad():
        a, b = model(x)[0], model(x)[0]
    assert torch.equal(a, b)


def test_vae_loss_matches_formula():
    x = torch.rand(3, 3, 4, 4)
    recon = torch.rand(3, 3, 4, 4) * 0.98 + 0.01
    mu, logvar = torch.randn(3, 5), torch.randn(3, 5)
    parts = vae_loss(recon, x, mu, logvar)
    bce = -(x * recon.log() + (1 - x) * (1 - recon).log()).sum() / 3
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum() / 3
    assert torch.allclose(parts["bce"], bce, rtol=1e-4)
    assert torch.allclose(parts["kl"], kl, rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        vae_loss(recon[:, :, :2], x, mu, logvar)


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = ResNetAutoencoder(TINY, seed=5)
    after = torch.rand(1)
    b = ResNetAutoencoder(TINY, seed=5)
    assert torch.equal(before, after)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_config_round_trip_and_errors():
    cfg = get_config("lite", latent_dim=12)
    assert AutoencoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown autoencoder config"):
        get_config("huge")
    with pytest.raises(ValueError, match="unknown AutoencoderConfig field"):
        AutoencoderConfig.from_dict({"depth": 3})
    with pytest.raises(ValueError, match="expected images"):
        ResNetAutoencoder(TINY).encode(torch.rand(2, 1, 16, 16))


def test_model_is_an_instance_of_the_public_class():
    model = ResNetAutoencoder(TINY, dropout=0.1, seed=0)
    assert isinstance(model, ResNetAutoencoder) and isinstance(model, nn.Module)
    assert type(model) is type(ResNetAutoencoder(TINY, seed=1))
    assert type(model).__qualname__ == "ResNetAutoencoder"  # module level, so picklable


def test_whole_model_pickles_with_torch_save():
    import io

    model = ResNetAutoencoder(TINY, dropout=0.2, seed=3).eval()
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    # our own freshly made object, so unpickling it is safe
    loaded = torch.load(buf, weights_only=False)
    assert isinstance(loaded, ResNetAutoencoder) and loaded.config == TINY
    assert not loaded.training and loaded.dropout == 0.2
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for got, want in zip(loaded(x), model(x)):
            assert (got is None and want is None) or torch.equal(got, want)


def test_state_dict_round_trip_gives_identical_outputs():
    model = ResNetAutoencoder(TINY, dropout=0.2, seed=4)
    model.train()
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    model(x)  # moves the BatchNorm running statistics away from their initial values
    model.eval()
    other = ResNetAutoencoder(TINY, dropout=0.2, seed=5).eval()
    with torch.no_grad():
        assert not torch.equal(other(x)[0], model(x)[0])
        missing = other.load_state_dict(model.state_dict())
        assert not missing.missing_keys and not missing.unexpected_keys
        for got, want in zip(other(x), model(x)):
            assert (got is None and want is None) or torch.equal(got, want)
