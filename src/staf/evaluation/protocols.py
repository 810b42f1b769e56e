"""Benchmark protocols: which joints, which regressor, which frames (STAF §IV-A, IV-D).

As VIBE / TCMR / MPS-Net / STAF evaluate:

- ``3dpw``: 14 LSP joints; ground truth from the db (already LSP-14), prediction from the
  H36M regressor (``lsp14`` = J_regressor_h36m · vertices, H36M_TO_J14); pelvis = mid-hips; PVE
  against the mesh of the ground-truth SMPL pose/shape; 30 fps.
- ``h36m``: 14 LSP joints = joints 25–38 of the db's 49 (SPIN order); prediction as for 3DPW;
  25 fps (the test db is sub-sampled to 25 fps).
- ``mpii3d``: MPI-INF-3DHP's 17 joints taken from the 49 by :data:`MPII3D17_FROM_SPIN49`, for
  both ground truth and prediction (the SPIN-49 set); pelvis = its own pelvis joint; frames
  flagged in ``valid_i`` only; 30 fps.
- ``synthetic``: staf's generated data; 14 LSP joints from both sides' SPIN-49 set, PVE
  against the ground-truth mesh of the same body model, fps from the data.
"""

from __future__ import annotations

import dataclasses

from staf.body.joint_sets import SPIN49_JOINT_NAMES

#: MPI-INF-3DHP's 17 test joints (head top, neck, R shoulder/elbow/wrist, L shoulder/elbow/wrist,
#: R hip/knee/ankle, L hip/knee/ankle, pelvis, spine, head) in the SPIN-49 set.
MPII3D17_NAMES = (
    "Top of Head (LSP)", "Neck (LSP)", "Right Shoulder", "Right Elbow", "Right Wrist", "Left Shoulder",
    "Left Elbow", "Left Wrist", "Right Hip", "Right Knee", "Right Ankle", "Left Hip", "Left Knee",
    "Left Ankle", "Pelvis (MPII)", "Spine (H36M)", "Head (H36M)",
)
MPII3D17_FROM_SPIN49 = tuple(SPIN49_JOINT_NAMES.index(name) for name in MPII3D17_NAMES)
LSP14_FROM_SPIN49 = tuple(range(25, 39))


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How one benchmark is measured.

    Attributes:
        name: protocol name.
        db_file: default file name, ``{split}`` replaced by the split.
        gt_joints: indices into the db's ``joints3D`` (None: all).
        pred_joint_set: the body model's joint set the prediction uses.
        pred_joints: indices into that set (None: all).
        pelvis: pelvis joint index, or the two hips whose mid-point is the pelvis.
        fps: frame rate (for accel in m/s²), unless the db has ``fps``.
        valid_key: db key flagging the frames to evaluate (if present).
        mesh: "smpl" (PVE only with an SMPL body model), "same" (with the model that made the data), or None.
        title: column title in the results table.
    """

    name: str
    db_file: str
    gt_joints: tuple[int, ...] | None
    pred_joint_set: str
    pred_joints: tuple[int, ...] | None
    pelvis: int | tuple[int, int]
    fps: float
    valid_key: str | None
    mesh: str | None
    title: str


PROTOCOLS: dict[str, Protocol] = {
    "3dpw": Protocol("3dpw", "3dpw_{split}_db.pt", None, "lsp14", None, (2, 3), 30.0, "valid", "smpl", "3DPW"),
    "h36m": Protocol("h36m", "h36m_{split}_25fps_db.pt", LSP14_FROM_SPIN49, "lsp14", None, (2, 3), 25.0, "valid",
                     None, "Human3.6M"),
    "mpii3d": Protocol("mpii3d", "mpii3d_{split}_db.pt", MPII3D17_FROM_SPIN49, "spin49", MPII3D17_FROM_SPIN49, 14,
                       30.0, "valid_i", None, "MPI-INF-3DHP"),
    "synthetic": Protocol("synthetic", "synth_{split}_db.pt", LSP14_FROM_SPIN49, "spin49", LSP14_FROM_SPIN49, (2, 3),
                          30.0, "valid", "same", "staf synthetic"),
}


def guess_protocol(file_name: str, num_joints) -> Protocol:
    """The protocol of a db file given by path: from its name, else from its joint count
    (``num_joints`` is a callable, called only when the name does not tell)."""
    lowered = file_name.lower()
    for key, name in (("3dpw", "3dpw"), ("mpii3d", "mpii3d"), ("mpi_inf", "mpii3d"), ("h36m", "h36m"), ("synth", "synthetic")):
        if key in lowered:
            return PROTOCOLS[name]
    return PROTOCOLS["3dpw"] if num_joints() == 14 else PROTOCOLS["h36m"]
