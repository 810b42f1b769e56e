"""The interface every mesh-recovery model implements, so that training, evaluation, streaming
inference, checkpoints and the video pipeline never name a particular network.

- :class:`SequenceInput`: a batch of windows of T crops with, per frame, the square box it was
  cut from, the image size and the focal length (CLIFF-style models need them; STAF ignores them).
- :class:`ModelOutput`: the predictions a model makes for a window: those of every window frame
  (read by losses on all frames) and the target frame's, in refinement order (``final`` is the
  last).
- :class:`BodyPrediction`: one prediction (pose, shape, camera, mesh, joints, 2D joints).
- :class:`StageRecipe`: how one training stage trains the model (architecture of the stage,
  frozen and fresh parameters, cached encoder features).
- :class:`MeshRecoveryModel`: the base class; ``predict_sequence`` gives one prediction per
  frame of a whole track (each frame the target of its own window, edges padded); models
  override it with a faster computation equal to the naive one.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
from typing import Any, ClassVar

import torch
from torch import nn

from staf.body import BodyModel
from staf.errors import InvalidInputError, StafError
from staf.geometry.cameras import CropCamera, crop_perspective_project
from staf.geometry.rotations import matrix_to_axis_angle, rot6d_to_matrix


@dataclasses.dataclass
class BodyPrediction:
    """One prediction; leading dims ``(B, T)`` for every window frame, ``(B,)`` for a target.

    Attributes:
        pose_6d: (…, 144) pose in the 6D representation.
        rotmat: (…, 24, 3, 3).
        pose: (…, 72) axis-angle θ.
        betas: (…, K).
        cam: (…, 3) crop camera [s, tx, ty] (official projection rule, see ``staf.geometry.cameras``).
        vertices: (…, N, 3), or None when made with ``meshes=False``.
        joints: (…, 24, 3).
        joint_sets: the body model's evaluation joints (``spin49``, ``h36m17``, ``lsp14``).
        joints2d: crop-camera projections in normalised crop coordinates of ``joints`` (key
            ``smpl24``) and of every joint set, (…, J, 2).
    """

    pose_6d: torch.Tensor
    rotmat: torch.Tensor
    pose: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    vertices: torch.Tensor | None
    joints: torch.Tensor
    joint_sets: dict[str, torch.Tensor]
    joints2d: dict[str, torch.Tensor]

    def map(self, function) -> "BodyPrediction":
        """A new prediction with ``function`` applied to every tensor (joint-set dicts included)."""
        def apply(value):
            if value is None:
                return None
            return {k: function(v) for k, v in value.items()} if isinstance(value, dict) else function(value)

        return BodyPrediction(**{f.name: apply(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def reshape(self, *leading: int) -> "BodyPrediction":
        """The same prediction with the leading (flattened) dimension split into ``leading``."""
        return self.map(lambda tensor: tensor.reshape(*leading, *tensor.shape[1:]))

    @staticmethod
    def cat(predictions: list["BodyPrediction"]) -> "BodyPrediction":
        """Concatenate predictions along the leading dimension."""
        first = predictions[0]

        def join(name, key=None):
            values = [getattr(p, name) if key is None else getattr(p, name)[key] for p in predictions]
            return None if values[0] is None else torch.cat(values)

        return BodyPrediction(**{f.name: ({k: join(f.name, k) for k in getattr(first, f.name)}
                                          if isinstance(getattr(first, f.name), dict) else join(f.name))
                                 for f in dataclasses.fields(first)})


@dataclasses.dataclass
class SequenceInput:
    """A batch of windows.

    Attributes:
        crops: (B, T, 3, S, S) normalised square crops.
        boxes: (B, T, 3) the squares ``[cx, cy, size]`` the crops were cut from, image pixels.
        image_size: (B, T, 2) ``[width, height]`` of the frames, pixels.
        focal_length: (B, T) pixels (CLIFF's default: the image diagonal).
    """

    crops: torch.Tensor | None
    boxes: torch.Tensor | None = None
    image_size: torch.Tensor | None = None
    focal_length: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "SequenceInput":
        move = lambda tensor: None if tensor is None else tensor.to(device)  # noqa: E731
        return SequenceInput(crops=move(self.crops), boxes=move(self.boxes), image_size=move(self.image_size),
                             focal_length=move(self.focal_length))

    def select(self, rows: torch.Tensor) -> "SequenceInput":
        """Windows gathered from one track's per-frame tensors: ``rows`` (W, T) frame indices
        into a SequenceInput whose leading dimension is frames (N, …)."""
        pick = lambda tensor: None if tensor is None else tensor[rows]  # noqa: E731
        return SequenceInput(crops=pick(self.crops), boxes=pick(self.boxes), image_size=pick(self.image_size),
                             focal_length=pick(self.focal_length))

    def geometry(self) -> "SequenceInput":
        """The same windows without the crops (boxes, image sizes, focal lengths only)."""
        return dataclasses.replace(self, crops=None)


@dataclasses.dataclass
class ModelOutput:
    """Predictions for a batch of windows.

    Attributes:
        frames: predictions of every window frame, each (B, T, …) (e.g. STAF's stage 1).
        targets: the target frame's predictions in refinement order, each (B, …) (STAF's stages
            2 and 3; TAR's initial estimate and iterations).
    """

    frames: list[BodyPrediction]
    targets: list[BodyPrediction]
    #: loss weight of each target prediction (None: 1 each), e.g. TAR's γ^(L−l) (eq. 14)
    target_weights: list[float] | None = None

    @property
    def final(self) -> BodyPrediction:
        return self.targets[-1]


@dataclasses.dataclass(frozen=True)
class StageRecipe:
    """How one training stage trains a model.

    Attributes:
        config: the architecture trained in this stage (a config of the model's own class).
        frozen: parameter-name prefixes that get no gradient and stay in eval mode.
        fresh: parameter-name prefixes not taken from the previous stage's checkpoint.
        cached_features: the (frozen) encoder's features are computed once and cached on disk.
    """

    config: Any
    frozen: tuple[str, ...] = ()
    fresh: tuple[str, ...] = ()
    cached_features: bool = False


def window_indices(num_frames: int, seq_len: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(num_frames, seq_len) frame index of every window slot: frame t is the target (middle) of
    the window ``[t − T//2, …, t + T//2]``, the edges padded by repeating the first / last frame."""
    offsets = torch.arange(seq_len, device=device) - seq_len // 2
    return (torch.arange(num_frames, device=device)[:, None] + offsets).clamp(0, num_frames - 1)


class MeshRecoveryModel(nn.Module, abc.ABC):
    """Base class of staf's models.

    Subclasses set ``name`` (the registry key) and ``config_class`` (a dataclass with at least
    ``seq_len`` and ``image_size``), build an ``encoder`` (:class:`~staf.models.backbone.ResNetEncoder`)
    and implement :meth:`forward_features`.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    #: how the crop camera places the body in the full image (the demo's ``transl`` and overlay)
    camera: ClassVar[CropCamera] = CropCamera()

    def __init__(self, config: Any, body: BodyModel) -> None:
        super().__init__()
        self.config = config
        self.body = body

    @property
    def device(self) -> torch.device:
        """Where the model's weights (or, without weights, its buffers) are."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    # --------------------------------------------------------------- the network

    def forward(self, inputs: SequenceInput | torch.Tensor | None = None, *, features: torch.Tensor | None = None,
                meshes: bool = True) -> ModelOutput:
        """Windows → predictions. ``inputs``: a :class:`SequenceInput` or just crops (B, T, 3, S, S);
        or ``features=`` (B, T, C, h, w) from the encoder (cached features in training).
        ``meshes=False`` leaves out the full meshes (``vertices=None``)."""
        if isinstance(inputs, torch.Tensor):
            inputs = SequenceInput(crops=inputs)
        if features is None:
            batch, length = inputs.crops.shape[:2]
            features = self.frame_features(inputs.crops.flatten(0, 1)).unflatten(0, (batch, length))
        return self.forward_features(features, inputs, meshes)

    def frame_features(self, images: torch.Tensor) -> torch.Tensor:
        """What the network needs of each frame on its own, (N, 3, S, S) → (N, …): the encoder's
        map by default. Training caches these (``cached_features``) and streaming computes them once."""
        return self.encoder.encode(images)

    @abc.abstractmethod
    def forward_features(self, features: torch.Tensor, inputs: SequenceInput | None, meshes: bool) -> ModelOutput:
        """Predictions from encoder features (B, T, C, h, w) (and the windows' geometry)."""

    # --------------------------------------------------------------- whole tracks

    def set_inference_precision(self, precision: str) -> None:
        """``fp32`` or ``bf16`` for inference: the encoder under bfloat16 autocast (features back
        in float32). Models put further precision-tolerant parts under it; whatever regresses
        the body stays float32 (autocasting everything moves vertices by ~1 cm)."""
        from staf.models.backbone import PRECISIONS

        if precision not in PRECISIONS:
            raise InvalidInputError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
        encoder = getattr(self, "encoder", None)
        if encoder is not None:
            encoder.set_precision(precision)

    @torch.no_grad()
    def predict_sequence(self, track: SequenceInput, progress=None) -> BodyPrediction:
        """One final prediction per frame of a track (``track`` holds per-frame tensors, N
        leading: crops (N, 3, S, S), …): frame t is the target of its own window, edges padded.
        The base version runs the network once per window; models override it with a faster
        computation that gives the same result."""
        was_training = self.training
        self.eval()
        try:
            windows = window_indices(len(track.crops), self.config.seq_len, track.crops.device)
            outputs = []
            for index, rows in enumerate(windows):
                outputs.append(self(track.select(rows[None])).final)
                if progress is not None:
                    progress(index + 1, len(windows))
            return BodyPrediction.cat(outputs)
        finally:
            self.train(was_training)

    def predict_sequences(self, tracks: list[SequenceInput]) -> list[BodyPrediction]:
        """:meth:`predict_sequence` of several tracks (the video pipeline's people); models may
        batch the tracks together, with results equal to one call per track."""
        return [self.predict_sequence(track) for track in tracks]

    def predict_body(self, pose_6d: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor,
                     meshes: bool = True, geometry: SequenceInput | None = None) -> BodyPrediction:
        """Body model outputs and 2D projections (official crop camera) for regressed parameters:
        pose_6d (N, 144), betas (N, K), cam (N, 3) → :class:`BodyPrediction` (N leading).
        ``geometry`` (boxes, image sizes, focal lengths, N leading) is for models whose camera
        needs it (TAR's CLIFF camera); the crop camera does not."""
        rotmat = rot6d_to_matrix(pose_6d.reshape(-1, 24, 6))
        out = self.body(rotmat, betas, vertices=meshes)
        joints2d = {"smpl24": self.project_points(out.joints, cam, geometry)}
        joints2d.update({name: self.project_points(value, cam, geometry) for name, value in out.joint_sets.items()})
        return BodyPrediction(pose_6d=pose_6d, rotmat=rotmat, pose=matrix_to_axis_angle(rotmat).reshape(-1, 72),
                              betas=betas, cam=cam, vertices=out.vertices, joints=out.joints,
                              joint_sets=out.joint_sets, joints2d=joints2d)

    def project_points(self, points: torch.Tensor, cam: torch.Tensor, geometry=None) -> torch.Tensor:
        """(N, P, 3) body points → (N, P, 2) normalised crop coordinates by this model's camera:
        the official crop camera here; TAR's CLIFF camera reads ``geometry``."""
        return crop_perspective_project(points, cam)

    def register_mean_parameters(self, body: BodyModel) -> None:
        """Buffers ``init_pose`` (144), ``init_shape`` (K), ``init_cam`` (3): the body model's mean
        parameters, where regression starts; a clear error when the body model has none."""
        if body.mean_pose_6d is None:
            raise StafError(f"body model '{body.name}' has no mean parameters, which model '{self.name}' starts from; "
                            "for SMPL put smpl_mean_params.npz in base_data")
        self.register_buffer("init_pose", body.mean_pose_6d.detach().clone().float())
        self.register_buffer("init_shape", body.mean_shape.detach().clone().float())
        self.register_buffer("init_cam", body.mean_cam.detach().clone().float())

    # --------------------------------------------------------------- other code bases

    @classmethod
    def convert(cls, source: str, body: BodyModel, **files) -> tuple["MeshRecoveryModel", list[str]]:
        """A model holding weights from another code base's files (``staf convert SOURCE``);
        returns it and notes. Models that can override this; the default refuses."""
        raise StafError(f"model '{cls.name}' has no conversion from '{source}'")

    # --------------------------------------------------------------- training

    @classmethod
    def training_stages(cls, config: Any) -> list[StageRecipe]:
        """The stages of this model's training recipe (default: one stage, everything trained)."""
        return [StageRecipe(config=config)]

    def head_parameters(self) -> list[nn.Parameter]:
        """Every trainable parameter but the encoder's."""
        encoder = {id(p) for p in self.encoder.parameters()} if hasattr(self, "encoder") else set()
        return [p for p in self.parameters() if id(p) not in encoder]
