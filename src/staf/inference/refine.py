"""Keypoint-guided refinement of one person's bodies over a track (``staf demo`` stage ``refine``).

SMPLify (Bogo et al., ECCV 2016), EFT and WHAM's ``--run_smplify`` fit the body to a 2D detector
trained on real images; this is that fit, batched over a track's frames with torch, on the CPU,
starting from the network's prediction. The body model's 54-joint array is mapped to BlazePose's
33 landmarks (:class:`staf.body.landmarks.LandmarkMap`), placed by a per-frame translation in the
frame's pinhole camera (focal length ``focal``, principal point at the image centre) and fitted to
the detector's output.

Unknowns: a per-frame pose residual ``δ`` (24 rotation vectors, ``R = R_network · exp(δ)``), one β
per track and a per-frame translation. The loss (:func:`refine_loss`), per term averaged over its
frames and joints:

- ``reprojection``: Geman-McClure ``ρ(r) = r² / (r² + σ²)`` of the distance r (in person-box sides)
  between the projected landmarks and the detector's keypoints, weighted by the keypoints'
  visibility (0 on frames without keypoints);
- ``world``: the same robust distance (metres, scale ``σ_world``) between the body's landmarks
  and the detector's metric world landmarks, turned from the person's crop to the camera's axes
  and aligned by scale and translation (:func:`world_target`): a 3D term that removes the depth
  ambiguity 2D leaves (a forearm toward or away from the camera) and sees which way the body
  faces;
- ``pose_prior`` ``|δ|²`` and ``shape_prior`` ``|β − β_network|²``: stay near the network;
- ``joint_limits``: squared excess of each joint's rotation vector beyond the anatomical limits
  of :mod:`staf.data.synthetic.joint_limits` (the root is free);
- ``smoothness``: squared second difference of the 3D joints over time (metres per frame²);
- ``shape``: ``|β|²``.

Frames without keypoints (interpolated across a gap) carry no data term: smoothness and the prior
hold them. Before the fit each frame may be turned round (:func:`turned_round`: facing the other
way, left and right exchanged, the same silhouette) when that explains the keypoints and world
landmarks better: the network sometimes fits a person facing the camera from behind.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from staf.body.joint_sets import SMPL_JOINT_NAMES
from staf.body.landmarks import LandmarkMap
from staf.body.lbs import blend_shapes, pose_features, rigid_transforms, skin_vertices
from staf.config import check_number
from staf.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from staf.inference.formats import REFINE_ITERATIONS, REFINE_WEIGHTS

#: BlazePose landmarks of the body (shoulders to feet) that the world term aligns and compares
WORLD_LANDMARKS = tuple(range(11, 33))
#: SMPL joints exchanged by a left-right mirror
MIRROR = tuple(SMPL_JOINT_NAMES.index(name.replace("left", "RIGHT").replace("right", "left").replace("RIGHT", "right"))
               for name in SMPL_JOINT_NAMES)
_REFLECT_X = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
_REFLECT_Z = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))


@dataclasses.dataclass
class RefineConfig:
    """Weights and settings of the fit (module docstring); each checked where it enters."""

    iterations: int = REFINE_ITERATIONS
    reprojection: float = 1.0
    world: float = 0.5
    pose_prior: float = 0.01
    shape_prior: float = 0.002
    joint_limits: float = 1.0
    smoothness: float = 200.0
    shape: float = 0.001
    sigma: float = 0.05
    sigma_world: float = 0.1
    min_visibility: float = 0.3
    turn_round: bool = True
    turn_per_frame: bool = False
    shared_shape: bool = True
    coarse_sigma: float = 4.0

    def __post_init__(self) -> None:
        from staf.ranges import FLAGS

        FLAGS["--refine-iterations"].check("refine iterations", self.iterations)
        self.iterations = int(self.iterations)
        for name in REFINE_WEIGHTS:
            FLAGS["--refine-weight"].check(f"refine {name}", getattr(self, name))
        check_number("refine sigma", self.sigma, 0, 10, low_open=True)
        check_number("refine sigma_world", self.sigma_world, 0, 10, low_open=True)
        check_number("refine min_visibility", self.min_visibility, 0, 1)
        check_number("refine coarse_sigma", self.coarse_sigma, 1, 100)


@dataclasses.dataclass
class Observations:
    """What the fit is fitted to, N frames.

    Attributes:
        keypoints: (N, 33, 3) image keypoints x, y (pixels) and visibility; NaN rows: no keypoints.
        world_landmarks: (N, 33, 3) metric landmarks (hip-centred, image axes); NaN rows: none.
        box_sides: (N,) the person box's longer side, pixels (the unit of the 2D residual).
        image_size: (W, H) pixels, or (N, 2) per frame (still images of different sizes).
        focal: pixels, or (N,) per frame.
    """

    keypoints: torch.Tensor
    world_landmarks: torch.Tensor
    box_sides: torch.Tensor
    image_size: tuple[int, int] | torch.Tensor
    focal: float | torch.Tensor

    def principal_point(self) -> torch.Tensor:
        """(N, 2) or (2,) the image centre, pixels."""
        return torch.as_tensor(self.image_size, dtype=self.keypoints.dtype, device=self.keypoints.device) / 2.0

    def focal_lengths(self) -> torch.Tensor:
        """(N, 1, 1) or a scalar tensor: the focal length, shaped to scale (N, J, 2) points."""
        focal = torch.as_tensor(self.focal, dtype=self.keypoints.dtype, device=self.keypoints.device)
        return focal.reshape(-1, 1, 1) if focal.dim() else focal


@dataclasses.dataclass
class BodyState:
    """A track's bodies: rotations (N, 24, 3, 3), β (N, K), camera-frame translations (N, 3)."""

    rotmat: torch.Tensor
    betas: torch.Tensor
    transl: torch.Tensor


class LandmarkBody:
    """The body model's landmarks, fast: (N, 24, 3, 3) rotations, one β (1, K) or (N, K) and
    (N, 3) translations → (N, 33, 3) landmarks and (N, 24, 3) joints in the camera frame.

    Only the 21 vertex keypoints are skinned (the map reads joints and vertex keypoints; a map
    that reads the regressed extra joints goes through :meth:`BodyModel.skin_subset`), and the
    shaped template is made once per distinct β."""

    def __init__(self, body, landmark_map: LandmarkMap) -> None:
        self.body, self.map = body, landmark_map
        self.needs_extra = bool(np.abs(landmark_map.weights[:, 45:]).sum() > 0)

    def __call__(self, rotmat: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        body, count = self.body, len(rotmat)
        if self.needs_extra:
            skinned, joints = body.skin_subset(rotmat, betas.expand(count, -1), body.joint_support)
            shift = transl[:, None]
            return self.map(body.joints54(skinned + shift, joints + shift, subset=True)), joints + shift
        cast = {"dtype": rotmat.dtype, "device": rotmat.device}
        ids = body.vertex_keypoint_ids.to(rotmat.device)
        shaped = body.v_template.to(**cast) + blend_shapes(betas.to(**cast), body.shapedirs.to(**cast))
        rest_joints = torch.einsum("jn,bnc->bjc", body.j_regressor.to(**cast), shaped).expand(count, -1, -1)
        keypoints = shaped[:, ids].expand(count, -1, -1)
        if body.posedirs is not None:
            posedirs = body.posedirs.to(**cast).view(body.posedirs.shape[0], -1, 3)[:, ids]
            keypoints = keypoints + (pose_features(rotmat) @ posedirs.flatten(1)).view(count, -1, 3)
        joints, transforms = rigid_transforms(rotmat, rest_joints, body.parents.to(rotmat.device))
        keypoints = skin_vertices(keypoints, body.weights.to(**cast)[ids], transforms)
        shift = transl[:, None]
        joints45 = torch.cat([joints, keypoints], dim=1) + shift
        weights = torch.as_tensor(self.map.weights[:, :45], **cast)
        return torch.einsum("kj,bjd->bkd", weights, joints45), joints + shift


def project(points: torch.Tensor, focal: float | torch.Tensor, principal_point: torch.Tensor) -> torch.Tensor:
    """(N, J, 3) camera-frame points → (N, J, 2) pixels (pinhole; depth clamped at 1 cm). ``focal``:
    a number or (N, 1, 1); ``principal_point``: (2,) or (N, 2)."""
    depth = points[..., 2:3].clamp(min=1e-2)
    centre = principal_point.to(points)
    return focal * points[..., :2] / depth + (centre[:, None] if centre.dim() == 2 else centre)


def geman_mcclure(squared: torch.Tensor, sigma: float) -> torch.Tensor:
    """ρ = r² / (r² + σ²) of squared residuals."""
    return squared / (squared + sigma**2)


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (values * weights).sum() / weights.sum().clamp(min=1e-9)


def reprojection_term(landmarks: torch.Tensor, observed: Observations, config: RefineConfig) -> torch.Tensor:
    """Visibility-weighted Geman-McClure of the 2D landmark distance in box sides."""
    keypoints = observed.keypoints
    visibility = torch.nan_to_num(keypoints[..., 2], nan=0.0)
    weights = torch.where(visibility >= config.min_visibility, visibility, torch.zeros_like(visibility))
    target = torch.nan_to_num(keypoints[..., :2], nan=0.0)
    pixels = project(landmarks, observed.focal_lengths(), observed.principal_point())
    squared = ((pixels - target) ** 2).sum(-1) / observed.box_sides[:, None] ** 2
    return _weighted_mean(geman_mcclure(squared, config.sigma), weights)


def ray_rotation(centres: torch.Tensor, focal: torch.Tensor, principal_point: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) the rotations that turn the optical axis onto the ray through each pixel of (N, 2)
    ``centres``: the detector sees each person as if in the middle of its crop, so its world
    landmarks are turned by this to the camera's axes."""
    offset = (centres - principal_point) / focal.reshape(-1, 1)
    ray = torch.nn.functional.normalize(torch.cat([offset, torch.ones_like(offset[:, :1])], dim=-1), dim=-1)
    axis = torch.cross(torch.tensor([0.0, 0.0, 1.0], dtype=ray.dtype, device=ray.device).expand_as(ray), ray, dim=-1)
    angle = torch.atan2(axis.norm(dim=-1), ray[:, 2])
    return axis_angle_to_matrix(torch.nn.functional.normalize(axis, dim=-1) * angle[:, None])


def world_target(landmarks: torch.Tensor, world: torch.Tensor, centres: torch.Tensor, observed: Observations,
                 present: torch.Tensor) -> torch.Tensor:
    """The detector's world landmarks (N, L, 3), turned to the camera's axes (:func:`ray_rotation`)
    and moved by the scale and translation that bring them closest to the body's (N, L, 3)
    landmarks (without gradient: the target the body is pulled to). No rotation is fitted, so the
    term sees which way the body faces."""
    with torch.no_grad():
        focal = torch.as_tensor(observed.focal, dtype=world.dtype, device=world.device).reshape(-1).expand(len(present))
        centre = observed.principal_point().to(world).reshape(-1, 2).expand(len(present), 2)
        turned = world @ ray_rotation(centres, focal[present], centre[present]).transpose(1, 2)
        body = landmarks.detach()
        body_centred = body - body.mean(dim=1, keepdim=True)
        world_centred = turned - turned.mean(dim=1, keepdim=True)
        scale = (body_centred * world_centred).sum(dim=(1, 2)) / world_centred.pow(2).sum(dim=(1, 2)).clamp(min=1e-9)
        return scale.clamp(0.5, 2.0)[:, None, None] * world_centred + body.mean(dim=1, keepdim=True)


def world_term(landmarks: torch.Tensor, observed: Observations, config: RefineConfig) -> torch.Tensor:
    """Geman-McClure of the 3D distance (metres) to the aligned world landmarks, frames that have them."""
    chosen = list(WORLD_LANDMARKS)
    world = observed.world_landmarks[:, chosen]
    present = torch.isfinite(world).all(dim=(1, 2))
    if not present.any():
        return landmarks.sum() * 0.0
    body = landmarks[present][:, chosen]
    centres = torch.nan_to_num(observed.keypoints[present][:, chosen, :2], nan=0.0).mean(dim=1)
    target = world_target(body, world[present], centres, observed, present)
    return geman_mcclure(((body - target) ** 2).sum(-1), config.sigma_world).mean()


def joint_limit_term(rotmat: torch.Tensor) -> torch.Tensor:
    """Mean squared excess (rad²) of the 23 body joints' rotation vectors beyond their limits."""
    from staf.data.synthetic.joint_limits import limits_array

    limits = torch.as_tensor(limits_array()[1:], dtype=rotmat.dtype, device=rotmat.device)
    vectors = matrix_to_axis_angle(rotmat[:, 1:])
    excess = torch.relu(vectors - limits[..., 1]) + torch.relu(limits[..., 0] - vectors)
    return (excess**2).sum(-1).mean()


def smoothness_term(joints: torch.Tensor) -> torch.Tensor:
    """Mean squared second difference of (N, J, 3) joints over frames (0 with fewer than 3)."""
    if len(joints) < 3:
        return joints.sum() * 0.0
    return ((joints[2:] - 2 * joints[1:-1] + joints[:-2]) ** 2).sum(-1).mean()


def refine_loss(landmark_body: LandmarkBody, start: BodyState, residual: torch.Tensor, betas: torch.Tensor,
                transl: torch.Tensor, observed: Observations, config: RefineConfig) -> dict[str, torch.Tensor]:
    """Each weighted term and ``total`` for pose residuals (N, 24, 3), one β (1, K), translations (N, 3)."""
    rotmat = start.rotmat @ axis_angle_to_matrix(residual)
    landmarks, joints = landmark_body(rotmat, betas, transl)
    network_betas = start.betas.mean(dim=0, keepdim=True) if len(betas) == 1 else start.betas
    terms = {
        "reprojection": config.reprojection * reprojection_term(landmarks, observed, config),
        "world": config.world * world_term(landmarks, observed, config),
        "pose_prior": config.pose_prior * (residual**2).sum(-1).mean(),
        "shape_prior": config.shape_prior * ((betas - network_betas) ** 2).sum(-1).mean(),
        "joint_limits": config.joint_limits * joint_limit_term(rotmat),
        "smoothness": config.smoothness * smoothness_term(joints),
        "shape": config.shape * (betas**2).sum(-1).mean(),
    }
    terms["total"] = sum(terms.values())
    return terms


def turned_round(rotmat: torch.Tensor) -> torch.Tensor:
    """(N, 24, 3, 3) → the bodies facing the other way with left and right exchanged: the mirror
    image of each body through its own depth plane, which projects to (nearly) the same
    silhouette. Root ``M_z R M_x``, every other joint ``M_x R_mirror M_x`` (M: reflections)."""
    reflect_x, reflect_z = _REFLECT_X.to(rotmat), _REFLECT_Z.to(rotmat)
    turned = reflect_x @ rotmat[:, list(MIRROR)] @ reflect_x
    turned[:, 0] = reflect_z @ rotmat[:, 0] @ reflect_x
    return turned


def _start_cost(landmark_body: LandmarkBody, rotmat, betas, transl, observed, config) -> torch.Tensor:
    """(N,) per-frame data cost of a start: the 2D and world terms of each frame."""
    landmarks, _ = landmark_body(rotmat, betas, transl)
    keypoints = observed.keypoints
    visibility = torch.nan_to_num(keypoints[..., 2], nan=0.0)
    weights = torch.where(visibility >= config.min_visibility, visibility, torch.zeros_like(visibility))
    pixels = project(landmarks, observed.focal_lengths(), observed.principal_point())
    squared = ((pixels - torch.nan_to_num(keypoints[..., :2], nan=0.0)) ** 2).sum(-1) / observed.box_sides[:, None] ** 2
    cost = (geman_mcclure(squared, config.sigma) * weights).sum(-1) / weights.sum(-1).clamp(min=1e-9)
    chosen = list(WORLD_LANDMARKS)
    world = observed.world_landmarks[:, chosen].to(landmarks)
    present = torch.isfinite(world).all(dim=(1, 2))
    world_cost = torch.zeros_like(cost)
    if present.any():
        body = landmarks[present][:, chosen]
        centres = torch.nan_to_num(keypoints[present][:, chosen, :2], nan=0.0).mean(dim=1)
        target = world_target(body, world[present], centres, observed, present)
        world_cost[present] = geman_mcclure(((body - target) ** 2).sum(-1), config.sigma_world).mean(-1)
    return cost + torch.where(present, world_cost, torch.zeros_like(world_cost))


def choose_facing(landmark_body: LandmarkBody, start: BodyState, observed: Observations, config: RefineConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per frame, the network's rotations or :func:`turned_round` ones, whichever explains the
    detector's output better → (N, 24, 3, 3) rotations and (N,) whether each frame was turned."""
    with torch.no_grad():
        turned = turned_round(start.rotmat)
        own = _start_cost(landmark_body, start.rotmat, start.betas, start.transl, observed, config)
        other = _start_cost(landmark_body, turned, start.betas, start.transl, observed, config)
    flip = other < own if config.turn_per_frame else (other.sum() < own.sum()).expand(len(own))
    return torch.where(flip[:, None, None, None], turned, start.rotmat), flip


def refine_track(body, landmark_map: LandmarkMap, start: BodyState, observed: Observations,
                 config: RefineConfig) -> tuple[BodyState, dict[str, float]]:
    """Fit one track (module docstring) in the body model's dtype and device → the refined bodies
    and a report (each term's value before and after, frames turned round, L-BFGS iterations run)."""
    dtype, device = body.v_template.dtype, body.v_template.device
    start = BodyState(*(tensor.detach().to(dtype=dtype, device=device)
                        for tensor in (start.rotmat, start.betas, start.transl)))
    observed = dataclasses.replace(observed, keypoints=observed.keypoints.to(dtype=dtype, device=device),
                                   world_landmarks=observed.world_landmarks.to(dtype=dtype, device=device),
                                   box_sides=observed.box_sides.to(dtype=dtype, device=device))
    landmark_body = LandmarkBody(body, landmark_map)
    flipped = torch.zeros(len(start.rotmat), dtype=torch.bool, device=device)
    if config.turn_round:
        rotmat, flipped = choose_facing(landmark_body, start, observed, config)
        start = dataclasses.replace(start, rotmat=rotmat)
    residual = torch.zeros(len(start.rotmat), 24, 3, dtype=dtype, device=device, requires_grad=True)
    betas = (start.betas.mean(dim=0, keepdim=True) if config.shared_shape else start.betas).clone().requires_grad_(True)
    transl = start.transl.clone().requires_grad_(True)

    def loss(settings: RefineConfig = config) -> dict[str, torch.Tensor]:
        return refine_loss(landmark_body, start, residual, betas, transl, observed, settings)

    with torch.no_grad():
        before = {name: float(value) for name, value in loss().items()}
    # two phases: robust scales ``coarse_sigma`` times wider first (large errors still pull), then as set
    coarse = dataclasses.replace(config, sigma=config.sigma * config.coarse_sigma,
                                 sigma_world=config.sigma_world * config.coarse_sigma)
    used = 0
    for settings, iterations in ((coarse, config.iterations // 2), (config, config.iterations - config.iterations // 2)):
        if iterations == 0:
            continue
        optimiser = torch.optim.LBFGS([residual, betas, transl], lr=1.0, max_iter=iterations,
                                      history_size=20, line_search_fn="strong_wolfe")

        def closure(settings=settings, optimiser=optimiser):
            optimiser.zero_grad()
            total = loss(settings)["total"]
            total.backward()
            return total

        optimiser.step(closure)
        state = optimiser.state[optimiser._params[0]]
        used += int(state.get("n_iter", 0))
    with torch.no_grad():
        after = {name: float(value) for name, value in loss().items()}
        rotmat = start.rotmat @ axis_angle_to_matrix(residual)
    report = {"before": before, "after": after, "turned_round": int(flipped.sum()), "iterations": used}
    count = len(rotmat)
    return BodyState(rotmat.detach(), betas.detach().expand(count, -1).clone(), transl.detach()), report


def box_longer_sides(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1 y1 x2 y2 → (N,) longer side, at least one pixel."""
    return np.maximum(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1.0)
