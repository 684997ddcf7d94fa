import math

import pytest
import torch

from nesinterp.models import SLOPE, Autoencoder, Critic, ModelConfig


def test_conv1d_shapes_and_one_forward_for_mixes():
    cfg = ModelConfig(width=8, max_width=32, scales=3, latent_dim=16)
    ae, critic = Autoencoder(cfg, 260, 64), Critic(cfg, 260, 64)
    x = torch.randn(6, 260, 64)
    z, rec, mix = ae(x, torch.full((6,), 0.25))
    assert z.shape == (6, 16) and rec.shape == mix.shape == (6, 260, 64)
    assert critic(rec).shape == (6,)
    expected = ae.decode(0.25 * z + 0.75 * z.flip(0))
    assert torch.allclose(mix, expected, atol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        Autoencoder(cfg, 260, 60)


@pytest.mark.parametrize("scales, channels, dims", [(4, 16, 64), (3, 2, 32), (3, 16, 256)])
def test_official_acai_image_architecture(scales, channels, dims):
    cfg = ModelConfig(kind="acai2d", width=16, scales=scales, latent_channels=channels)
    ae = Autoencoder(cfg, 1, 32)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    z, rec, _ = ae(x)
    assert z.shape == (3, dims) and ae.latent_dim == dims and rec.shape == x.shape
    assert Critic(cfg, 1)(x).shape == (3,)
    acts = [m for m in ae.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert acts and all(a.negative_slope == SLOPE == 0.2 for a in acts)
    pools = [m for m in ae.encoder.modules() if isinstance(m, torch.nn.AvgPool2d)]
    ups = [m for m in ae.decoder.modules() if isinstance(m, torch.nn.Upsample)]
    assert len(pools) == len(ups) == scales and all(u.mode == "nearest" for u in ups)


def test_acai_initialisation_scale():
    torch.manual_seed(0)
    cfg = ModelConfig(kind="acai2d", width=64, scales=2, latent_channels=16)
    conv = [m for m in Autoencoder(cfg, 1).encoder.modules() if isinstance(m, torch.nn.Conv2d)][2]
    fan_in = conv.weight[0].numel()
    assert conv.weight.std().item() == pytest.approx(1 / math.sqrt(1.04 * fan_in), rel=0.05)
    assert torch.all(conv.bias == 0)


@pytest.mark.parametrize("layout, block, upsample", [("temporal", "plain", "nearest"), ("flat", "residual", "learned"),
                                                     ("temporal", "residual", "learned")])
def test_conv1d_variants_keep_the_code_size_and_the_mix_in_one_pass(layout, block, upsample):
    cfg = ModelConfig(width=8, max_width=32, scales=3, latent_dim=32, latent_layout=layout, block=block,
                      upsample=upsample)
    ae, critic = Autoencoder(cfg, 260, 64), Critic(cfg, 260, 64)
    x = torch.randn(5, 260, 64)
    z, rec, mix = ae(x, torch.full((5,), 0.3))
    assert z.shape == (5, 32) and ae.latent_dim == 32 and rec.shape == mix.shape == x.shape
    assert torch.allclose(mix, ae.decode(0.3 * z + 0.7 * z.flip(0)), atol=1e-5)
    assert critic(rec).shape == (5,)
    samples = ae.regularizer_samples(z)
    if layout == "temporal":
        # 8 positions of 4 channels: every position of every window is one sample of the regularizer
        assert ae.latent_shape == (4, 8) and samples.shape == (40, 4)
        assert torch.equal(samples[:8], z[0].reshape(4, 8).T)
    else:
        assert samples is z


def test_temporal_latent_positions_see_their_own_time():
    """A change late in the window moves the late latent positions, not the first one (no flat linear
    layer mixes all of time into every number)."""
    torch.manual_seed(0)
    cfg = ModelConfig(width=8, max_width=16, scales=3, latent_dim=32, latent_layout="temporal")
    ae = Autoencoder(cfg, 20, 64).eval()
    x = torch.randn(1, 20, 64)
    y = x.clone()
    y[..., 56:] += 1.0
    dz = (ae.encode(y) - ae.encode(x)).reshape(4, 8).abs().sum(0)
    assert dz[0] == 0 and dz[-1] > 0


def test_conv1d_options_are_validated():
    with pytest.raises(ValueError, match="latent_layout"):
        ModelConfig(latent_layout="grid")
    with pytest.raises(ValueError, match="multiple of the 8 latent positions"):
        Autoencoder(ModelConfig(width=8, max_width=16, scales=3, latent_dim=30, latent_layout="temporal"), 20, 64)
