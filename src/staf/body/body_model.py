"""An SMPL-format body model as one small PyTorch module (cf. ``smplx.SMPL``).

STAF §III-A: the body is ``M(θ, β)`` with pose θ ∈ R^{24×3} (global orientation and 23
joint rotations relative to their parents), shape β (the first PCA coefficients) and a
weak-perspective camera; this module computes ``M`` and the joint sets the losses and the
metrics use. Build it once and pass it to whoever needs it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
from torch import nn

from staf.body.assets import load_body_model_data
from staf.body.joint_sets import H36M_TO_LSP14, NUM_SMPL_JOINTS, SPIN49_FROM_54
from staf.body.lbs import blend_shapes, lbs, pose_features, rigid_transforms, skin_vertices
from staf.body.model_data import BodyModelData
from staf.errors import InvalidInputError, MissingAssetError
from staf.geometry.rotations import pose_to_matrices


@dataclasses.dataclass
class BodyOutput:
    """What :class:`BodyModel` returns.

    Attributes:
        vertices: (B, N, 3) posed vertices (translation applied); None with ``vertices=False``.
        joints: (B, 24, 3) posed skeleton joints (translation applied).
        rotations: (B, 24, 3, 3) the local joint rotations used.
        betas: (B, K) the shape used.
        joint_sets: named extra joint sets: ``"spin49"`` (B, 49, 3), ``"h36m17"`` (B, 17, 3),
            ``"lsp14"`` (B, 14, 3), each present when the model has the regressors for it.
    """

    vertices: torch.Tensor | None
    joints: torch.Tensor
    rotations: torch.Tensor
    betas: torch.Tensor
    joint_sets: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)


class BodyModel(nn.Module):
    """SMPL-format linear blend skinning model.

    Args:
        data: the model's arrays (see :func:`staf.body.load_body_model_data`).
        dtype: floating dtype of the buffers (inputs of another dtype are computed in theirs).
        device: where the buffers live.
    """

    def __init__(
        self,
        data: BodyModelData,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.name = data.name
        self.source = data.source
        self.metadata = dict(data.metadata)
        self.num_betas = data.num_betas
        self.num_vertices = data.num_vertices

        # Buffers are non-persistent: a body model is an asset read from its file, so it never
        # enters the state dict of a network that holds it.
        def buffer(name: str, array: np.ndarray | None, float_type: bool = True) -> None:
            if array is None:
                self.register_buffer(name, None, persistent=False)
                return
            tensor = torch.as_tensor(np.ascontiguousarray(array))
            tensor = tensor.to(dtype) if float_type else tensor.long()
            self.register_buffer(name, tensor.to(device), persistent=False)

        buffer("v_template", data.v_template)
        buffer("shapedirs", data.shapedirs)
        posedirs = None if data.posedirs is None else data.posedirs.reshape(-1, data.posedirs.shape[-1]).T
        buffer("posedirs", posedirs)
        buffer("j_regressor", data.j_regressor)
        buffer("weights", data.weights)
        buffer("parents", data.parents, float_type=False)
        buffer("faces", data.faces, float_type=False)
        buffer("regressor_extra", data.regressors.get("extra"))
        buffer("regressor_h36m", data.regressors.get("h36m"))
        buffer("vertex_keypoint_ids", data.vertex_keypoint_ids, float_type=False)
        buffer("part_segmentation", data.part_segmentation, float_type=False)
        mean = data.mean_params
        buffer("mean_pose_6d", None if mean is None else mean.pose_6d)
        buffer("mean_shape", None if mean is None else mean.shape)
        buffer("mean_cam", None if mean is None else mean.cam)
        self.register_buffer("downsampling", _sparse_tensor(data.downsampling, dtype, device), persistent=False)
        self._register_joint_support(data, buffer)
        support, compact = _compact_downsampling(data.downsampling)
        buffer("downsampling_support", support, float_type=False)
        buffer("downsampling_compact", compact)
        self.spin49_index: torch.Tensor
        self.register_buffer("spin49_index", torch.tensor(SPIN49_FROM_54, device=device), persistent=False)
        self.register_buffer("lsp14_index", torch.tensor(H36M_TO_LSP14, device=device), persistent=False)

    def _register_joint_support(self, data: BodyModelData, buffer) -> None:
        """The vertices the joint sets read, and the regressors / keypoint ids restricted to them."""
        regressors = [data.regressors[k] for k in ("extra", "h36m") if k in data.regressors]
        columns = set(np.flatnonzero(np.abs(np.concatenate(regressors)).sum(0))) if regressors else set()
        if data.vertex_keypoint_ids is not None:
            columns |= set(data.vertex_keypoint_ids.tolist())
        support = np.array(sorted(columns), dtype=np.int64)
        position = {vertex: index for index, vertex in enumerate(support)}
        buffer("joint_support", support, float_type=False)
        buffer("support_extra", data.regressors["extra"][:, support] if "extra" in data.regressors else None)
        buffer("support_h36m", data.regressors["h36m"][:, support] if "h36m" in data.regressors else None)
        ids = data.vertex_keypoint_ids
        buffer("support_keypoint_ids", None if ids is None else np.array([position[i] for i in ids]), float_type=False)

    @classmethod
    def load(
        cls,
        spec: str = "open",
        base_data: str | os.PathLike | None = None,
        gender: str = "neutral",
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> "BodyModel":
        """Load ``"open"`` (bundled), ``"smpl"`` (base_data folder) or an SMPL file path."""
        return cls(load_body_model_data(spec, base_data, gender), dtype=dtype, device=device)

    @property
    def joint_set_names(self) -> tuple[str, ...]:
        """The joint sets this model can produce."""
        names = []
        if self.regressor_extra is not None and self.vertex_keypoint_ids is not None:
            names.append("spin49")
        if self.regressor_h36m is not None:
            names += ["h36m17", "lsp14"]
        return tuple(names)

    @property
    def has_downsampling(self) -> bool:
        return self.downsampling is not None

    def forward(
        self,
        pose: torch.Tensor,
        betas: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
        joint_sets: tuple[str, ...] | None = None,
        vertices: bool = True,
    ) -> BodyOutput:
        """Pose and shape the body.

        Args:
            pose: (B, 72) or (B, 24, 3) axis-angle, or (B, 24, 3, 3) rotation matrices.
            betas: (B, K) with K ≤ :attr:`num_betas`; zeros when omitted.
            transl: (B, 3) global translation added to vertices and joints.
            joint_sets: which of :attr:`joint_set_names` to compute (default: all).
            vertices: False skins only the vertices the joint sets read (≈ 2,000 of 13,718 for
                the open model) and returns ``vertices=None``: the fast path for training losses.

        Returns:
            :class:`BodyOutput`, in the dtype and on the device of ``pose``.
        """
        rotations = pose_to_matrices(pose, NUM_SMPL_JOINTS)
        batch, dtype, device = rotations.shape[0], rotations.dtype, rotations.device
        if betas is None:
            betas = torch.zeros(batch, self.num_betas, dtype=dtype, device=device)
        if betas.dim() != 2 or betas.shape[0] != batch or betas.shape[1] > self.num_betas:
            raise InvalidInputError(
                f"betas has shape {tuple(betas.shape)}; expected ({batch}, K) with "
                f"K ≤ {self.num_betas} for this body model"
            )
        cast = {"dtype": dtype, "device": device}
        if not vertices:
            return self._joints_only(rotations, betas.to(**cast), transl, joint_sets)
        vertices, joints = lbs(
            betas.to(**cast),
            rotations,
            self.v_template.to(**cast),
            self.shapedirs.to(**cast),
            None if self.posedirs is None else self.posedirs.to(**cast),
            self.j_regressor.to(**cast),
            self.parents.to(device),
            self.weights.to(**cast),
        )
        if transl is not None:
            vertices = vertices + transl.to(**cast)[:, None]
            joints = joints + transl.to(**cast)[:, None]
        sets = self._joint_sets(vertices, joints, joint_sets)
        return BodyOutput(vertices, joints, rotations, betas, sets)

    def _joints_only(self, rotations, betas, transl, joint_sets) -> BodyOutput:
        skinned, joints = self.skin_subset(rotations, betas, self.joint_support)
        if transl is not None:
            skinned = skinned + transl.to(skinned)[:, None]
            joints = joints + transl.to(joints)[:, None]
        sets = self._joint_sets(skinned, joints, joint_sets, subset=True)
        return BodyOutput(None, joints, rotations, betas, sets)

    def _joint_sets(
        self, vertices: torch.Tensor, joints: torch.Tensor, wanted: tuple[str, ...] | None, subset: bool = False
    ) -> dict[str, torch.Tensor]:
        """Joint sets from full vertices, or (``subset``) from the :attr:`joint_support` vertices."""
        available = self.joint_set_names
        wanted = available if wanted is None else wanted
        for name in wanted:
            if name not in available:
                raise MissingAssetError(
                    f"joint set '{name}' needs regressors that body model '{self.name}' lacks "
                    f"(it provides: {', '.join(available) or 'none'}); for SMPL put "
                    "J_regressor_extra.npy / J_regressor_h36m.npy in the base_data folder"
                )
        sets: dict[str, torch.Tensor] = {}
        if "spin49" in wanted:
            sets["spin49"] = self.spin49_joints(vertices, joints, subset)
        if "h36m17" in wanted or "lsp14" in wanted:
            h36m = self.regress(self.support_h36m if subset else self.regressor_h36m, vertices)
            if "h36m17" in wanted:
                sets["h36m17"] = h36m
            if "lsp14" in wanted:
                sets["lsp14"] = h36m[:, self.lsp14_index.to(h36m.device)]
        return sets

    @staticmethod
    def regress(regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
        """(K, N) regressor applied to (B, N, 3) vertices → (B, K, 3)."""
        return torch.einsum("kn,bnc->bkc", regressor.to(vertices.dtype), vertices)

    def spin49_joints(self, vertices: torch.Tensor, joints: torch.Tensor, subset: bool = False) -> torch.Tensor:
        """The 49-joint SPIN/VIBE set from :meth:`joints54`."""
        return self.joints54(vertices, joints, subset)[:, self.spin49_index.to(vertices.device)]

    def joints54(self, vertices: torch.Tensor, joints: torch.Tensor, subset: bool = False) -> torch.Tensor:
        """(B, 54, 3) ``[24 joints, 21 vertex keypoints, 9 extra]`` (:data:`~staf.body.joint_sets.ALL54_NAMES`):
        the array SPIN-49 is taken from, and what the BlazePose landmark map reads. ``vertices``
        are the full mesh, or (``subset``) the :attr:`joint_support` vertices."""
        ids = self.support_keypoint_ids if subset else self.vertex_keypoint_ids
        keypoints = vertices[:, ids.to(vertices.device)]
        extra = self.regress(self.support_extra if subset else self.regressor_extra, vertices)
        return torch.cat([joints, keypoints, extra], dim=1)

    def skin_subset(self, rotations: torch.Tensor, betas: torch.Tensor, subset: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LBS of the vertices ``subset`` only: (B, |subset|, 3) vertices and (B, 24, 3) joints
        (no translation); equal to indexing the full :meth:`forward` output."""
        cast = {"dtype": rotations.dtype, "device": rotations.device}
        subset = subset.to(rotations.device)
        shaped = self.v_template.to(**cast) + blend_shapes(betas.to(**cast), self.shapedirs.to(**cast))
        rest_joints = torch.einsum("jn,bnc->bjc", self.j_regressor.to(**cast), shaped)
        shaped = shaped[:, subset]
        if self.posedirs is not None:
            posedirs = self.posedirs.to(**cast).view(self.posedirs.shape[0], -1, 3)[:, subset]
            shaped = shaped + (pose_features(rotations) @ posedirs.flatten(1)).view_as(shaped)
        joints, transforms = rigid_transforms(rotations, rest_joints, self.parents.to(rotations.device))
        return skin_vertices(shaped, self.weights.to(**cast)[subset], transforms), joints

    def downsampled_vertices(self, pose: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        """(B, M, 3) = ``downsample(forward(pose, betas).vertices)``, skinning only the vertices
        the down-sampling reads (431 of 13,718 for the open model): the fast path of STAF's
        projection sampling."""
        if self.downsampling is None:
            self.downsample(pose)  # raises the clear error
        rotations = pose_to_matrices(pose, NUM_SMPL_JOINTS)
        skinned, _ = self.skin_subset(rotations, betas, self.downsampling_support)
        return torch.einsum("mk,bkc->bmc", self.downsampling_compact.to(skinned.dtype), skinned)

    def downsample(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) → (B, M, 3) with the model's down-sampling matrix (M = 431 for SMPL)."""
        if self.downsampling is None:
            raise MissingAssetError(
                f"body model '{self.name}' has no down-sampling matrix; for SMPL put "
                "mesh_downsampling.npz in the base_data folder"
            )
        matrix = self.downsampling.to(dtype=vertices.dtype, device=vertices.device)
        flat = vertices.permute(1, 0, 2).reshape(self.num_vertices, -1)
        return torch.sparse.mm(matrix, flat).reshape(-1, vertices.shape[0], 3).permute(1, 0, 2)


def _compact_downsampling(matrix) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The columns a down-sampling matrix reads, and the matrix restricted to them (dense)."""
    if matrix is None:
        return None, None
    csc = matrix.tocsc()
    support = np.flatnonzero(np.diff(csc.indptr))
    return support, csc[:, support].toarray()


def _sparse_tensor(matrix, dtype: torch.dtype, device) -> torch.Tensor | None:
    """A scipy sparse matrix as a coalesced torch COO tensor (or None)."""
    if matrix is None:
        return None
    coo = matrix.tocoo()
    indices = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
    tensor = torch.sparse_coo_tensor(indices, torch.as_tensor(coo.data), coo.shape, dtype=dtype,
                                     device=device, check_invariants=True)
    return tensor.coalesce()
