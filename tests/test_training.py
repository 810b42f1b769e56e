"""Training: the loss falls in both stages, resuming is exact, other architectures are refused,
two data-parallel processes equal one, batches mix sources and mask missing labels."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from staf.data.synthetic import SynthConfig, synthesize
from staf.errors import StafError
from staf.models import STAFConfig
from staf.training import AugmentConfig, SourceConfig, StageConfig, TrainConfig, Trainer
from staf.training.trainer import make_scheduler
from staf.training.data import WindowSource, batch_composition, draw_windows, shard


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    synthesize(SynthConfig(sequences=3, frames=12, size=64, crop_size=64, seed=1), root / "train", progress=False)
    synthesize(SynthConfig(sequences=1, frames=12, size=64, crop_size=64, seed=2, split="val"), root / "val", progress=False)
    return root


def tiny_config(root: Path, **stage) -> TrainConfig:
    settings = StageConfig(**{"epochs": 2, "iterations_per_epoch": 3, "batch_size": 4, "lr": 1e-3, **stage})
    return TrainConfig(
        model=STAFConfig(backbone="resnet18", image_size=64, decoder_channels=32, mlp_channels=(32, 16, 8, 5), dropout=0.0,
                         regressor_hidden=64, safm_hidden=16),
        train=(SourceConfig(db=str(root / "train" / "synth_train_db.pt")),),
        val=SourceConfig(db=str(root / "val" / "synth_val_db.pt")),
        stage1=settings, stage2=settings, val_windows=4, freeze_batchnorm=True, precision="fp32",
    )


def test_both_stages_reduce_the_loss(tiny_data, tmp_path):
    config = tiny_config(tiny_data, epochs=1, iterations_per_epoch=12)
    stage1 = Trainer(config, tmp_path / "stage1", 1, progress=False)
    stage1.run()
    losses = [entry["total"] for entry in stage1.history]
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])
    stage2 = Trainer(config, tmp_path / "stage2", 2, init=tmp_path / "stage1" / "best.pt", progress=False)
    assert all(not p.requires_grad for p in stage2.model.encoder.parameters())
    stage2.run()
    losses = [entry["total"] for entry in stage2.history]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert (tmp_path / "stage2" / "best.pt").is_file() and list((tmp_path / "stage2" / "tensorboard").iterdir())
    assert list((tiny_data / "train" / "cache").glob("*_features_*.npy"))  # encoder features cached once


@pytest.mark.parametrize("schedule, augmented", [pytest.param({}, False, marks=pytest.mark.slow),
                                                 ({"schedule": "cosine", "warmup": 2}, True)])
def test_resume_reproduces_the_uninterrupted_run(tiny_data, tmp_path, schedule, augmented):
    config = dataclasses.replace(tiny_config(tiny_data, **schedule), augment=AugmentConfig(enabled=augmented))
    full = Trainer(config, tmp_path / "full", 1, progress=False)
    full.run()
    Trainer(config, tmp_path / "part", 1, progress=False).run(max_epochs=1)  # interrupted after epoch 1
    resumed = Trainer(config, tmp_path / "part", 1, progress=False)
    resumed.run(resume=True)
    reference = [entry["total"] for entry in full.history]
    again = [entry["total"] for entry in resumed.history]
    assert len(again) == len(reference) == 6
    assert np.allclose(again, reference, rtol=1e-5, atol=1e-6)
    assert [entry["lr"] for entry in resumed.history] == [entry["lr"] for entry in full.history]


def test_cosine_schedule_warms_up_then_decays_to_zero():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    scheduler = make_scheduler(optimizer, StageConfig(epochs=2, iterations_per_epoch=5, schedule="cosine", warmup=2))
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.25, 0.5] + [0.25 * (1 + np.cos(np.pi * k / 8)) for k in range(9)]
    assert np.allclose(rates, expected, atol=1e-12)
    with pytest.raises(StafError, match="schedule must be 'plateau' or 'cosine'"):
        StageConfig(schedule="linear")


def test_bf16_encoder_features_are_float32_and_close(tiny_data):
    model = Trainer(tiny_config(tiny_data), Path("unused"), 1, progress=False).model.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model.encoder.encode(images)
        model.encoder.set_precision("bf16")
        reduced = model.encoder.encode(images)
    assert reduced.dtype == torch.float32
    assert float((reduced - reference).norm() / reference.norm()) < 0.05
    with pytest.raises(StafError, match="unknown precision 'fp8'"):
        model.encoder.set_precision("fp8")


def test_resume_refuses_another_architecture(tiny_data, tmp_path):
    config = tiny_config(tiny_data, epochs=1, iterations_per_epoch=1)
    Trainer(config, tmp_path, 1, progress=False).run()
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, decoder_channels=16,
                                                                   mlp_channels=(16, 16, 8, 5)))
    with pytest.raises(StafError, match="different architecture \\(decoder_channels, mlp_channels differ\\)"):
        Trainer(other, tmp_path, 1, progress=False).run(resume=True)


@pytest.mark.slow  # 23 s on the 2-core AVX2 host
def test_two_processes_equal_one(tiny_data, tmp_path):
    """torchrun --nproc_per_node 2 with the same global batch gives the same weights as one process
    (augmentation on: each rank takes its windows' share of the global batch's draws)."""
    config = dataclasses.replace(tiny_config(tiny_data, epochs=1, iterations_per_epoch=3), augment=AugmentConfig(enabled=True))
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, json, dataclasses\n"
        "from staf.config import from_dict\n"
        "from staf.training import TrainConfig, Trainer\n"
        "config = from_dict(TrainConfig, json.load(open(sys.argv[1])))\n"
        "Trainer(config, sys.argv[2], 1, progress=False).run()\n"
    )
    (tmp_path / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "config.json"), str(tmp_path / "one")], check=True, env=env)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                    str(script), str(tmp_path / "config.json"), str(tmp_path / "two")], check=True, env=env,
                   capture_output=True)
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["state_dict"]
    two = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["state_dict"]
    # mean over parameters of the mean |difference|: 4e-8 here, 3e-4 if the ranks' augmentation were
    # mis-sharded; single weights may differ by about one Adam step (lr) where the gradient is ~0
    mean = np.mean([float((one[k].float() - two[k].float()).abs().mean()) for k in one])
    worst = max(float((one[k].float() - two[k].float()).abs().max()) for k in one)
    assert mean < 1e-6 and worst < 2 * config.stage1.lr
    initial = Trainer(config, tmp_path / "init", 1, progress=False).model.state_dict()
    assert max(float((one[k].float() - initial[k].float()).abs().max()) for k in one) > 1e-3  # it trained


def test_batches_mix_sources_and_mask_missing_labels(tiny_data):
    video = WindowSource(SourceConfig(db=str(tiny_data / "train" / "synth_train_db.pt"), ratio=0.4), 9, 64,
                         progress=False)
    only_2d = WindowSource(SourceConfig(db=str(tiny_data / "train" / "synth_train_db.pt"), labels=("2d",), ratio=0.6),
                           9, 64, progress=False)
    images = WindowSource(SourceConfig(db=str(tiny_data / "val" / "synth_val_db.pt"), images_only=True), 9, 64,
                          progress=False)
    assert batch_composition([0.6, 0.4], 10) == [6, 4]
    parts = draw_windows([only_2d, video], 10, seed=0, stage=2, epoch=0, step=0)
    assert [len(p) for p in parts] == [6, 4]
    assert all(np.array_equal(a, b) for a, b in zip(parts, draw_windows([only_2d, video], 10, 0, 2, 0, 0)))
    assert [len(p) for p in shard(parts, 1, 2)] == [3, 2]
    _, targets, rows = only_2d.batch(parts[0])
    assert targets.has_2d.all() and not targets.has_3d.any() and not targets.has_smpl.any()
    assert (targets.pose == 0).all()  # absent labels are zeros that the masks drop, never used
    image, _, rows = images.batch(np.array([3, 5]))
    assert (rows == rows[:, :1]).all() and image.shape == (2, 9, 3, 64, 64)  # one image repeated T times


def test_a_nan_loss_stops_training_and_names_the_batch(tiny_data, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(tiny_data), tmp_path / "stage1", 1, progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    original = Trainer._loss

    def poisoned(self, *args):
        loss, logged = original(self, *args)
        return loss * float("nan"), logged

    monkeypatch.setattr(Trainer, "_loss", poisoned)
    with pytest.raises(StafError, match=r"stage 1 epoch 1 step 1: the training loss is nan \(batch from synth_train_db.pt"):
        trainer.run()
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())   # no step was taken
    assert not (tmp_path / "stage1" / "last.pt").exists()


def test_summary_without_validation_reports_the_training_loss(tiny_data, tmp_path):
    config = dataclasses.replace(tiny_config(tiny_data, epochs=1, iterations_per_epoch=1), val=None)
    summary = Trainer(config, tmp_path / "stage1", 1, progress=False).run()
    assert summary["best_val_mpjpe"] is None and np.isfinite(summary["best_train_loss"])


def test_crop_cache_follows_the_data_it_was_made_from(tmp_path):
    """Data changed in place under the same names (here one crop image re-written) gets a new
    cache, not the old images with the new labels."""
    import cv2

    root = tmp_path / "data"
    synthesize(SynthConfig(sequences=1, frames=12, size=64, crop_size=64, seed=5), root, progress=False)
    source = SourceConfig(db=str(root / "synth_train_db.pt"))
    first = WindowSource(source, 3, 64, progress=False)
    before = np.array(first.crops[4])
    crop_path = root / "seq_0000" / "crops" / "000004.jpg"
    cv2.imwrite(str(crop_path), np.zeros((64, 64, 3), np.uint8))
    second = WindowSource(source, 3, 64, progress=False)
    assert second.content_key != first.content_key
    assert np.abs(np.array(second.crops[4]).astype(int)).max() < 10 and before.max() > 50   # the new, black image
    assert np.array_equal(second.crops[3], first.crops[3])
    assert len(list((root / "cache").glob("*_crops_*.npy"))) == 2 and not list((root / "cache").glob("*partial*"))


def test_stage_one_fine_tunes_from_a_trained_video_model(tiny_data, tmp_path, capsys):
    """``--init`` for stage 1: every weight of the per-frame model from a trained STAF (checkpoint
    or packed file), TCFM and SAFM named as unused; another architecture refused."""
    from staf.data.crops import CropRule
    from staf.models.checkpoint import load_checkpoint
    from staf.models.packed import pack_model

    config = tiny_config(tiny_data, epochs=1, iterations_per_epoch=1)
    Trainer(config, tmp_path / "stage1", 1, progress=False).run()
    Trainer(config, tmp_path / "stage2", 2, init=tmp_path / "stage1" / "best.pt", progress=False).run()
    video, _ = load_checkpoint(tmp_path / "stage2" / "best.pt")
    packed = pack_model(tmp_path / "video.safetensors", video, CropRule(), {"command": "test"})
    fresh = Trainer(config, tmp_path / "fresh", 1, progress=False).model.state_dict()
    for init in (tmp_path / "stage2" / "best.pt", packed):
        tuned = Trainer(config, tmp_path / "tuned", 1, init=init, progress=True)
        assert "not used by stage 1: safm, tcfm" in capsys.readouterr().err
        reference = load_checkpoint(init)[0].state_dict()
        own = tuned.model.state_dict()
        assert set(own) < set(reference)
        assert all(torch.equal(value, reference[key]) for key, value in own.items())
        assert not torch.equal(own["encoder.conv1.weight"], fresh["encoder.conv1.weight"])   # trained, not re-drawn
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, decoder_channels=16, mlp_channels=(16, 16, 8, 5)))
    with pytest.raises(StafError, match="does not fit this model"):
        Trainer(other, tmp_path / "other", 1, init=tmp_path / "stage2" / "best.pt", progress=False)
    from staf.models.checkpoint import save_checkpoint
    from staf.models.registry import build_model

    save_checkpoint(tmp_path / "mean.pt", build_model("mean-pose", {}, video.body))
    with pytest.raises(StafError, match="holds a 'mean-pose' model; this preset trains 'staf'"):
        Trainer(config, tmp_path / "other", 1, init=tmp_path / "mean.pt", progress=False)


def test_each_stage_starts_from_the_right_file(tmp_path):
    from staf.training.run import stage_init

    assert stage_init(1, (1, 2), "tuned.pt", tmp_path) == "tuned.pt"          # both: stage 1 fine-tunes …
    assert stage_init(2, (1, 2), "tuned.pt", tmp_path) == tmp_path / "stage1" / "best.pt"   # … stage 2 from it
    assert stage_init(2, (2,), "s1.pt", tmp_path) == "s1.pt"
    assert stage_init(2, (2,), None, tmp_path) == tmp_path / "stage1" / "best.pt"
    assert stage_init(1, (1,), None, tmp_path) is None
