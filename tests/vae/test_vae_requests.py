"""The interpolate request and the VAE recipe's reports, without the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from studio_vae.train import train

from studio.core.errors import BadInput
from studio.core.requests import InterpolateRequest, request_from_json
from studio.plugins import TrainRequest


def test_interpolate_request_round_trips_and_needs_two_pictures() -> None:
    request = InterpolateRequest(model="demo-vae", images=("/a.png", "/b.png"), frames=4)
    request.validate()
    assert request_from_json(request.to_json()) == request
    assert request.capability == "interpolate"
    with pytest.raises(BadInput, match="two pictures"):
        InterpolateRequest(model="demo-vae", images=("/a.png",)).validate()
    with pytest.raises(BadInput, match="Frames"):
        InterpolateRequest(model="demo-vae", images=("/a.png", "/b.png"), frames=1).validate()


def test_training_reports_loss_reconstruction_and_kl_to_the_monitor(tmp_path: Path) -> None:
    metrics: list[dict] = []

    def report(step, total, preview=None, message=None, **events) -> None:
        if events.get("metrics"):
            metrics.append(events["metrics"])

    request = TrainRequest(recipe="vae", run_dir=str(tmp_path / "run"), steps=10, batch_size=4,
                           options={"shapes": 16, "channels": "8,8,8,8", "latent_dim": 4, "sample_every": 0,
                                    "out": str(tmp_path / "model")})
    result = train(request, report, lambda: False)
    assert {"loss", "lr", "loss_recon", "loss_kl"} <= set(metrics[-1])
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert result.data["steps"] == 10 and result.data["data"].startswith("shapes")


def test_an_unknown_recipe_and_bad_channels_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no training recipe"):
        train(TrainRequest(recipe="gan", run_dir=str(tmp_path)), lambda *a, **k: None, lambda: False)
    request = TrainRequest(recipe="vae", run_dir=str(tmp_path), steps=1, options={"channels": "8,8"})
    with pytest.raises(BadInput, match="four positive widths"):
        train(request, lambda *a, **k: None, lambda: False)


def test_the_sampling_prior_is_saved_with_the_weights_and_drawn_by_seed(tmp_path: Path) -> None:
    import torch
    from studio_vae.network import ConvVae, VaeConfig, load_model, save_model

    model = ConvVae(VaeConfig(channels=(4, 4, 4, 4), latent_dim=3)).eval()
    model.fit_prior(torch.rand(5, 3, 64, 64))
    loaded = load_model(save_model(model, tmp_path / "vae"))
    assert torch.equal(loaded.prior_means, model.prior_means) and loaded.prior_means.shape == (5, 3)
    draw = [loaded.sample_latent(torch.Generator().manual_seed(seed)) for seed in (1, 1, 2)]
    assert torch.equal(draw[0], draw[1]) and not torch.equal(draw[0], draw[2])
    nearest = (loaded.prior_means - draw[0]).norm(dim=1).min()  # a component's mean plus its spread
    assert nearest <= 6 * loaded.prior_stds.max()
