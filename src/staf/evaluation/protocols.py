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

:class:`Match` presets reproduce how each peer's script selects and averages frames
(``staf eval --match``); staf's own default scores every frame with validity masks and
per-sequence acceleration.
"""

from __future__ import annotations

import dataclasses

from staf.body.joint_sets import LSP14_FROM_SPIN49, LSP14_HIPS, SPIN49_JOINT_NAMES

#: MPI-INF-3DHP's 17 test joints (head top, neck, R shoulder/elbow/wrist, L shoulder/elbow/wrist,
#: R hip/knee/ankle, L hip/knee/ankle, pelvis, spine, head) in the SPIN-49 set.
MPII3D17_NAMES = (
    "Top of Head (LSP)", "Neck (LSP)", "Right Shoulder", "Right Elbow", "Right Wrist", "Left Shoulder",
    "Left Elbow", "Left Wrist", "Right Hip", "Right Knee", "Right Ankle", "Left Hip", "Left Knee",
    "Left Ankle", "Pelvis (MPII)", "Spine (H36M)", "Head (H36M)",
)
MPII3D17_FROM_SPIN49 = tuple(SPIN49_JOINT_NAMES.index(name) for name in MPII3D17_NAMES)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How one benchmark is measured.

    Attributes:
        name: protocol name.
        db_files: default file names, most usual first, ``{split}`` replaced by the split (the
            names the peers' preprocessing scripts write).
        gt_joints: indices into the db's ``joints3D`` (None: all).
        pred_joint_set: the body model's joint set the prediction uses.
        pred_joints: indices into that set (None: all).
        pelvis: pelvis joint index, or the two hips whose mid-point is the pelvis.
        fps: frame rate (for accel in m/s²), unless the db has ``fps``.
        valid_key: db key flagging the frames to evaluate (if present).
        mesh: "smpl" (PVE only with an SMPL body model), "same" (with the model that made the data), or None.
        title: column title in the results table.
        split_names: the file's name for a split where the peers use another (MPI-INF-3DHP's
            test set is their ``val``).
    """

    name: str
    db_files: tuple[str, ...]
    gt_joints: tuple[int, ...] | None
    pred_joint_set: str
    pred_joints: tuple[int, ...] | None
    pelvis: int | tuple[int, int]
    fps: float
    valid_key: str | None
    mesh: str | None
    title: str
    split_names: tuple[tuple[str, str], ...] = ()

    def file_names(self, split: str) -> list[str]:
        """Candidate db file names for ``split``, most usual first."""
        split = dict(self.split_names).get(split, split)
        return [name.format(split=split) for name in self.db_files]


PROTOCOLS: dict[str, Protocol] = {
    "3dpw": Protocol(
        name="3dpw", db_files=("3dpw_{split}_db.pt",), gt_joints=None, pred_joint_set="lsp14",
        pred_joints=None, pelvis=LSP14_HIPS, fps=30.0, valid_key="valid", mesh="smpl", title="3DPW"),
    "h36m": Protocol(
        name="h36m",
        db_files=("h36m_{split}_25fps_nosmpl_db.pt", "h36m_{split}_front_25fps_tight_nosmpl_db.pt",
                  "h36m_{split}_25fps_tight_db.pt", "h36m_{split}_front_25fps_tight_db.pt", "h36m_{split}_25fps_db.pt"),
        gt_joints=LSP14_FROM_SPIN49, pred_joint_set="lsp14", pred_joints=None, pelvis=LSP14_HIPS, fps=25.0,
        valid_key="valid", mesh=None, title="Human3.6M"),
    "mpii3d": Protocol(
        name="mpii3d", db_files=("mpii3d_{split}_scale12_db.pt", "mpii3d_{split}_db.pt"),
        gt_joints=MPII3D17_FROM_SPIN49, pred_joint_set="spin49", pred_joints=MPII3D17_FROM_SPIN49, pelvis=14,
        fps=30.0, valid_key="valid_i", mesh=None, title="MPI-INF-3DHP", split_names=(("test", "val"),)),
    "synthetic": Protocol(
        name="synthetic", db_files=("synth_{split}_db.pt",), gt_joints=LSP14_FROM_SPIN49, pred_joint_set="spin49",
        pred_joints=LSP14_FROM_SPIN49, pelvis=LSP14_HIPS, fps=30.0, valid_key="valid", mesh="same",
        title="staf synthetic"),
}


@dataclasses.dataclass(frozen=True)
class Match:
    """Which frames a peer's evaluation script predicts and scores, and how it averages
    (docs/evaluation.md has the table and where each rule comes from).

    Attributes:
        name: preset name (``staf eval --match NAME``).
        drop_invalid: remove the rows whose ``valid`` flag is 0 before inference, so windows
            run over the remaining frames (TCMR on 3DPW).
        min_length: skip sequences with fewer frames (after ``drop_invalid``).
        chunk: cut each sequence into chunks of this many frames, each run on its own, and drop
            the tail that does not fill a chunk (VIBE); None: the whole sequence.
        valid_mask: score only the frames flagged by the protocol's ``valid_key``.
        concat_accel: acceleration error over all scored frames concatenated in file order
            (spanning sequence boundaries) instead of within each sequence.
        lsp14_everywhere: score every dataset on the 14 LSP joints with the mid-hip pelvis
            (VIBE scores MPI-INF-3DHP so, not on its 17 joints).
        accel_rule: which interior frames the acceleration error counts where frames are masked
            (:data:`staf.evaluation.metrics.ACCEL_RULES`): ``stencil``, the three frames of the
            stencil all valid (VIBE's ``compute_error_accel(vis=…)``); ``centre``, the centre frame
            valid (TCMR's ``valid_map``).
    """

    name: str
    drop_invalid: bool = False
    min_length: int = 0
    chunk: int | None = None
    valid_mask: bool = True
    concat_accel: bool = False
    lsp14_everywhere: bool = False
    accel_rule: str = "stencil"

    def adapt(self, protocol: Protocol) -> Protocol:
        """The protocol as this preset scores it."""
        if self.lsp14_everywhere and protocol.name == "mpii3d":
            return dataclasses.replace(protocol, gt_joints=LSP14_FROM_SPIN49, pred_joint_set="lsp14",
                                       pred_joints=None, pelvis=LSP14_HIPS)
        return protocol


MATCHES: dict[str, Match] = {
    "staf": Match(name="staf"),
    "tcmr": Match(name="tcmr", drop_invalid=True, min_length=16, accel_rule="centre"),
    "vibe": Match(name="vibe", chunk=16, valid_mask=False, concat_accel=True, lsp14_everywhere=True),
    "staf-official": Match(name="staf-official", min_length=9, valid_mask=False, concat_accel=True),
}


def guess_protocol(file_name: str, num_joints) -> Protocol:
    """The protocol of a db file given by path: from its name, else from its joint count
    (``num_joints`` is a callable, called only when the name does not tell)."""
    lowered = file_name.lower()
    for key, name in (("3dpw", "3dpw"), ("mpii3d", "mpii3d"), ("mpi_inf", "mpii3d"), ("h36m", "h36m"), ("synth", "synthetic")):
        if key in lowered:
            return PROTOCOLS[name]
    return PROTOCOLS["3dpw"] if num_joints() == 14 else PROTOCOLS["h36m"]
